import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  labelValue,
  objectName,
  renderActions,
  synthesize,
  writeKustomization,
  type ObjectDraft,
} from './render.js';
import { networkPolicyRenderer } from '../network/networkpolicy/index.js';
import { ANNOTATION_EXPIRES_AT, ANNOTATION_RENDER_HASH } from './types.js';
import type { ActionRequest } from '../../crds/index.js';

const request: ActionRequest = {
  name: 'block-c2-abc123',
  policy: 'block-c2',
  type: 'EgressDeny',
  values: ['203.0.113.7'],
  scope: { namespaces: ['shop'] },
  params: {},
  expiresAt: '2026-09-01T00:00:00Z',
};

const draft: ObjectDraft = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  name: 'forestall-block-c2-abc123',
  namespace: 'shop',
  body: { spec: { podSelector: {}, policyTypes: ['Egress'], egress: [] } },
};

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('synthesize', () => {
  it('GIVEN a draft WHEN synthesized through cdk8s THEN it carries the common labels and annotations and nothing cdk8s made up', () => {
    const [manifest] = synthesize(request, [draft]);
    expect(Object.keys(manifest!)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(Object.keys(manifest!.metadata).sort()).toEqual([
      'annotations',
      'labels',
      'name',
      'namespace',
    ]);
    expect(manifest!.metadata.name).toBe('forestall-block-c2-abc123');
    expect(manifest!.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'forestall',
      'forestall.io/action': 'block-c2-abc123',
      'forestall.io/policy': 'block-c2',
    });
    expect(manifest!.metadata.annotations?.[ANNOTATION_EXPIRES_AT]).toBe('2026-09-01T00:00:00Z');
    expect(manifest!.metadata.annotations?.[ANNOTATION_RENDER_HASH]).toMatch(/^[0-9a-f]{16}$/);
    // Empty objects and arrays in the body mean something ("all pods", "no rules") and must survive.
    expect(manifest!.spec).toEqual({ egress: [], podSelector: {}, policyTypes: ['Egress'] });
  });

  it('GIVEN no policy, no expiry and a cluster-scoped kind THEN neither label, annotation nor namespace appears', () => {
    const [manifest] = synthesize({ ...request, policy: undefined, expiresAt: undefined }, [
      { ...draft, namespace: undefined },
    ]);
    expect(manifest!.metadata.namespace).toBeUndefined();
    expect(Object.keys(manifest!.metadata.labels!)).toEqual([
      'app.kubernetes.io/managed-by',
      'forestall.io/action',
    ]);
    expect(Object.keys(manifest!.metadata.annotations!)).toEqual([ANNOTATION_RENDER_HASH]);
  });

  it('GIVEN the same drafts twice THEN the output is identical; a changed or removed field changes the render hash', () => {
    const a = synthesize(request, [draft]);
    expect(JSON.stringify(synthesize(request, [draft]))).toBe(JSON.stringify(a));
    const hash = (m: ReturnType<typeof synthesize>) =>
      m[0]!.metadata.annotations![ANNOTATION_RENDER_HASH];
    expect(
      hash(
        synthesize(request, [
          { ...draft, body: { spec: { podSelector: {}, policyTypes: ['Egress'] } } },
        ]),
      ),
    ).not.toBe(hash(a));
    expect(hash(synthesize({ ...request, expiresAt: undefined }, [draft]))).not.toBe(hash(a));
  });

  it('GIVEN a draft with its own annotations THEN they are kept and hashed, and the common ones win on a clash', () => {
    const hash = (m: ReturnType<typeof synthesize>) =>
      m[0]!.metadata.annotations![ANNOTATION_RENDER_HASH];
    const plain = synthesize(request, [draft]);
    const annotated = synthesize(request, [
      {
        ...draft,
        annotations: {
          'forestall.io/cves': 'CVE-2024-3400',
          [ANNOTATION_EXPIRES_AT]: 'never',
          [ANNOTATION_RENDER_HASH]: 'mine',
        },
      },
    ]);
    expect(annotated[0]!.metadata.annotations).toEqual({
      'forestall.io/cves': 'CVE-2024-3400',
      [ANNOTATION_EXPIRES_AT]: '2026-09-01T00:00:00Z',
      [ANNOTATION_RENDER_HASH]: hash(annotated),
    });
    expect(hash(annotated)).toMatch(/^[0-9a-f]{16}$/);
    expect(hash(annotated)).not.toBe(hash(plain));
    expect(hash(synthesize(request, [{ ...draft, annotations: {} }]))).toBe(hash(plain)); // no extra annotation: the hash of before
  });

  it('GIVEN two drafts naming the same object THEN it throws', () => {
    expect(() => synthesize(request, [draft, draft])).toThrow(/two rendered objects/);
  });
});

describe('names', () => {
  it('GIVEN a short name THEN the label value is the name itself', () => {
    expect(labelValue('block-c2')).toBe('block-c2');
  });

  it('GIVEN names longer than a label value allows THEN each gets a valid, stable, distinct value of at most 63 characters', () => {
    const a = `${'a'.repeat(70)}.one`;
    const b = `${'a'.repeat(70)}.two`;
    expect(labelValue(a)).toHaveLength(63);
    expect(labelValue(a)).toMatch(LABEL_VALUE);
    expect(labelValue(a)).toBe(labelValue(a));
    expect(labelValue(a)).not.toBe(labelValue(b));
  });

  it('GIVEN a 253-character action name THEN object names stay valid subdomains of at most 253 characters and keep the shard suffix', () => {
    const long = `x${'-y'.repeat(126)}`;
    expect(long).toHaveLength(253);
    const name = objectName(`forestall-${long}`, '12');
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name).toMatch(SUBDOMAIN);
    expect(name.endsWith('-12')).toBe(true);
    // Two long names that differ only past the cut still get different object names.
    expect(objectName(`forestall-${long.slice(0, -1)}z`, '12')).not.toBe(name);
    expect(objectName('forestall-short', '0')).toBe('forestall-short-0');
  });
});

describe('renderActions', () => {
  it('GIVEN two actions whose renders name the same object THEN it refuses, naming both', () => {
    const other = { ...request, name: 'block-c2-abc123' };
    expect(() =>
      renderActions([
        { renderer: networkPolicyRenderer, request },
        { renderer: networkPolicyRenderer, request: other },
      ]),
    ).toThrow(
      /actions block-c2-abc123 and block-c2-abc123 both render NetworkPolicy shop\/forestall-block-c2-abc123/,
    );
  });

  it('GIVEN an invalid request THEN it throws FST_CONNECTOR_INVALID_REQUEST with the problems', () => {
    expect(() =>
      renderActions([
        { renderer: networkPolicyRenderer, request: { ...request, values: ['nope'] } },
      ]),
    ).toThrow(
      expect.objectContaining({
        code: 'FST_CONNECTOR_INVALID_REQUEST',
        message: expect.stringContaining('values[0] "nope" is not an IP address or CIDR'),
      }),
    );
  });
});

describe('writeKustomization', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('GIVEN manifests THEN one YAML file per object and a kustomization listing them, sorted; a later, smaller render removes only its own stale files', () => {
    dir = mkdtempSync(join(tmpdir(), 'forestall-render-'));
    const manifests = renderActions([
      {
        renderer: networkPolicyRenderer,
        request: { ...request, scope: { namespaces: ['shop', 'web'] } },
      },
    ]);
    const first = writeKustomization(dir, manifests);
    expect(first.files).toEqual([
      'networkpolicy.networking.k8s.io_shop_forestall-block-c2-abc123.yaml',
      'networkpolicy.networking.k8s.io_web_forestall-block-c2-abc123.yaml',
    ]);
    const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(kustomization).toEqual({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: first.files,
    });
    for (const [i, file] of first.files.entries()) {
      const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
      expect(docs).toHaveLength(1);
      expect(docs[0]!.toJS()).toEqual(manifests[i]);
    }

    writeFileSync(join(dir, 'README.md'), 'not ours');
    const second = writeKustomization(dir, manifests.slice(0, 1));
    expect(second.removed).toEqual([
      'networkpolicy.networking.k8s.io_web_forestall-block-c2-abc123.yaml',
    ]);
    expect(readdirSync(dir).sort()).toEqual([
      'README.md',
      'kustomization.yaml',
      'networkpolicy.networking.k8s.io_shop_forestall-block-c2-abc123.yaml',
    ]);
  });
});
