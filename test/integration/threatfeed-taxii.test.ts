import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../harness/control-plane.js';
import { installLoopbackFence, type LoopbackFence } from '../harness/feed-server.js';
import { startManager } from '../harness/in-process-manager.js';
import { startTaxiiServer, type TaxiiServer } from '../harness/taxii-server.js';
import { credentialSecret, hostOf } from '../harness/credential-secret.js';
import { startFeedCluster, type threatFeedApi } from '../harness/threat-feeds.js';
import { condition } from '../harness/objects.js';
import { stopFenced } from '../harness/stop-in-order.js';

// A ThreatFeed on a TAXII 2.1 collection, end to end: medallion (the OASIS reference
// server) serves the STIX examples, the credentials come from a real Secret, and a
// producer adding an object shows up at the next sync.
const NS = 'forestall-system';
let cp: ControlPlane;
let feeds: ReturnType<typeof threatFeedApi>;
let taxii: TaxiiServer;
let fence: LoopbackFence;
let mgr: Awaited<ReturnType<typeof startManager>>;

/** A stix ThreatFeed on the examples collection, logging in with the Secret `secretName`. */
const collectionFeed = (
  name: string,
  secretName: string,
  taxiiSource: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
) =>
  feeds.create(name, {
    format: 'stix',
    source: {
      taxii: {
        apiRoot: taxii.apiRoot,
        collection: taxii.collectionId,
        authSecretRef: { name: secretName },
        ...taxiiSource,
      },
    },
    ...spec,
  });

beforeAll(async () => {
  fence = installLoopbackFence();
  taxii = await startTaxiiServer();
  const cluster = await startFeedCluster(NS);
  ({ cp, feeds } = cluster);
  await cluster.core.createNamespacedSecret({
    namespace: NS,
    body: credentialSecret(
      'taxii-creds',
      NS,
      { username: taxii.user.username, password: taxii.user.password },
      [hostOf(taxii.apiRoot)],
    ),
  });
  mgr = await startManager(cluster.kc, { fetchAllow: ['127.0.0.1'], feedTimeoutMs: 10_000 });
});

afterAll(async () => {
  await stopFenced(fence, mgr, cp, taxii);
});

describe('ThreatFeed on TAXII 2.1', () => {
  it('GIVEN a collection of STIX examples THEN the feed syncs them through the STIX parser', async () => {
    await collectionFeed('taxii', 'taxii-creds', { pageSize: 2 }, { refreshInterval: '1m' });
    const f = await feeds.synced('taxii', 60_000);
    // The examples hold three indicators for one address, 10.0.0.0 (inside this
    // cluster's own service range, so refused once as 'cluster'), one SHA-256 file
    // hash, and two email-message patterns that cannot be enforced (rejected).
    expect(f.status).toMatchObject({
      indicatorCount: 1,
      counts: { hash: 1 },
      dropped: { cluster: 1 },
      rejected: 2,
    });
    expect(condition(f, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'Synced',
    });
    expect(mgr.snapshots.peek('taxii')?.indicators[0]).toMatchObject({
      type: 'hash',
      value: 'sha256:ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c',
    });
  });

  it('GIVEN a producer adds an indicator to the collection THEN the next sync adds it', async () => {
    const before = await feeds.read('taxii');
    await taxii.addObjects([
      {
        type: 'indicator',
        spec_version: '2.1',
        id: 'indicator--0c7d2c47-8a2f-4b7e-9d3b-4f1f6a2e9b11',
        created: '2026-08-22T01:00:00.000Z',
        modified: '2026-08-22T01:00:00.000Z',
        name: 'C2 server',
        pattern: "[ipv4-addr:value = '77.90.185.20']",
        pattern_type: 'stix',
        valid_from: '2026-08-22T01:00:00Z',
        indicator_types: ['malicious-activity'],
        confidence: 85,
      },
    ]);
    // A taxii feed refreshes at most once a minute (the CRD's minimum); a spec change syncs at once.
    await feeds.patchSpec('taxii', { maxChangePercent: 100 });
    const f = await feeds.until(
      'taxii',
      'the new indicator synced',
      (f) => f.status!.digest !== before.status!.digest,
      60_000,
    );
    expect(f.status).toMatchObject({
      indicatorCount: 2,
      counts: { hash: 1, ipv4: 1 },
      added: 1,
      removed: 0,
    });
    expect(mgr.snapshots.peek('taxii')?.indicators.find((i) => i.type === 'ipv4')).toMatchObject({
      value: '77.90.185.20',
      confidence: 85,
    });
  });

  it('GIVEN credentials in a Secret that does not exist THEN the feed is not Ready and Degraded names the Secret', async () => {
    await collectionFeed('no-secret', 'missing-creds');
    const f = await feeds.until(
      'no-secret',
      'the failure reported',
      (f) => f.status?.lastError !== undefined,
      30_000,
    );
    expect(f.status?.lastError).toBe(
      'Secret forestall-system/missing-creds (spec.source.taxii.authSecretRef) does not exist',
    );
    expect(condition(f, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'FetchFailed',
    });
    expect(condition(f, 'Degraded')).toMatchObject({
      status: 'True',
      message:
        'Secret forestall-system/missing-creds (spec.source.taxii.authSecretRef) does not exist',
    });
  });
});
