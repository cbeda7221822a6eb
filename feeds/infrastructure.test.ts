import { describe, expect, it } from 'vitest';
import type { ExposurePolicySpec, ThreatFeedSpec } from '../crds/generated/types.js';
import { credentialSecretRefs, infrastructureHosts } from './infrastructure.js';

const feeds: { spec: ThreatFeedSpec }[] = [
  {
    spec: {
      format: 'lines',
      source: {
        http: {
          url: 'https://feeds.example/x',
          headersSecretRef: { name: 'feed-token' },
          tls: { caSecretRef: { name: 'feed-ca' } },
        },
      },
    },
  },
  {
    spec: {
      format: 'stix',
      source: {
        taxii: {
          apiRoot: 'https://taxii.example.org/api1/',
          collection: 'c',
          authSecretRef: { name: 'taxii', namespace: 'intel' },
        },
      },
    },
  },
];
const policies: { spec: ExposurePolicySpec }[] = [
  {
    spec: {
      feeds: {},
      actions: [
        {
          type: 'IdentitySuspend',
          connector: 'identity:entra',
          params: { tenant: 'contoso.onmicrosoft.com', credentialsSecretRef: 'entra' },
        },
        {
          type: 'StepUpAuth',
          connector: 'identity:okta',
          params: {
            url: 'https://acme.okta.com',
            credentialsSecretRef: 'okta',
            credentialsSecretNamespace: 'idp',
            group: 'mfa',
          },
        },
        { type: 'EgressDeny' },
      ],
      git: {
        url: 'git@git.example.org:platform/policy.git',
        credentialsSecretRef: { name: 'git' },
      },
      notify: [
        { type: 'Slack', urlSecretRef: { name: 'chat', key: 'url' } },
        { type: 'Webhook', urlSecretRef: { name: 'feed-token' } },
      ],
    },
  },
];

describe('credentialSecretRefs', () => {
  it('GIVEN every field that names a credential Secret THEN each Secret is listed once, with the namespace given; CA bundles are not credentials', () => {
    expect(credentialSecretRefs(feeds, policies)).toEqual([
      { name: 'feed-token' },
      { name: 'taxii', namespace: 'intel' },
      { name: 'git' },
      { name: 'chat' },
      { name: 'entra' },
      { name: 'okta', namespace: 'idp' },
    ]);
  });

  it('GIVEN specs without Secrets, or params that are not names THEN none', () => {
    const odd: { spec: ExposurePolicySpec }[] = [
      {
        spec: {
          feeds: {},
          actions: [{ type: 'IdentitySuspend', params: { credentialsSecretRef: 42 } }],
        },
      },
    ];
    expect(credentialSecretRefs([{ spec: { format: 'lines', source: {} } }], odd)).toEqual([]);
  });
});

describe('infrastructureHosts: hosts from elsewhere', () => {
  it('GIVEN hosts a caller found in credential Secrets THEN they are normalised and merged with the named ones', () => {
    expect(
      infrastructureHosts(feeds, [], ['Graph.Microsoft.com.', '[::1]', 'feeds.example']),
    ).toEqual(['::1', 'feeds.example', 'graph.microsoft.com', 'taxii.example.org']);
  });
});
