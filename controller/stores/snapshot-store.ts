import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Indicator } from '../../feeds/index.js';
import type { KubeClient } from '../runtime/client.js';
import { ForestallError } from '../runtime/errors.js';
import { pause } from '../../lib/yield.js';

/**
 * The last-known-good indicator snapshot of each ThreatFeed, kept durably in the API
 * server so that a restart (or a failover to another replica) neither refetches nor
 * drops enforcement.
 *
 * Layout, in the controller's namespace:
 *   forestall-feed-<feed>                 head: which generation is current, its digest,
 *                                         chunk count, sync metadata (annotations)
 *   forestall-feed-<feed>-<gen>-<i>       chunk i of that generation: a slice of the
 *                                         gzipped JSON-lines encoding, in binaryData
 *
 * A save writes every chunk of a new generation first and switches the head last, so
 * a crash at any point leaves the previous generation intact; chunks of other
 * generations are deleted after the switch (and on the next save if that failed).
 * Chunks stay at 512 KiB of gzip, about 683 KiB in base64: well under the 1 MiB
 * object limit.
 */
export const CHUNK_BYTES = 512 * 1024;
const LABEL_FEED = 'forestall.io/feed';
const LABEL_GENERATION = 'forestall.io/snapshot-generation';
const LABEL_PART = 'app.kubernetes.io/part-of';
const KEY = 'indicators.jsonl.gz';

export interface SnapshotMeta {
  /** sha256 over the sorted indicator keys; also shown in ThreatFeed status. */
  digest: string;
  count: number;
  /** When the indicators were fetched (RFC 3339). */
  syncedAt: string;
  /** HTTP validators or the TAXII cursor, so the next fetch can be conditional. */
  sourceState?: Record<string, string>;
  /**
   * Digest of the guardrail configuration the indicators were judged with. When the
   * guardrails change (new cluster ranges, a new host a policy names, a new release's
   * rules) the snapshot is fetched again in full and judged anew.
   */
  guardrails?: string;
}

export interface Snapshot {
  meta: SnapshotMeta;
  indicators: Indicator[];
}

interface ConfigMap extends KubernetesObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** Whether the list is in snapshot order (type, then value), which is also the order of its keys. */
function inKeyOrder(indicators: readonly Indicator[]): boolean {
  for (let n = 1; n < indicators.length; n++) {
    const a = indicators[n - 1]!;
    const b = indicators[n]!;
    if (a.type > b.type || (a.type === b.type && a.value >= b.value)) return false;
  }
  return true;
}

/**
 * Content digest of an indicator set: sha256 over the sorted keys ("type:value"), one per
 * line, so independent of order and of confidence changes. A snapshot is sorted by type,
 * then value, which is the keys' order (no type name is a prefix of another), so it is
 * hashed as it stands, in 64 KiB pieces with a pause between, holding the event loop
 * for no more than a few milliseconds at a time.
 */
export async function snapshotDigest(indicators: readonly Indicator[]): Promise<string> {
  const keys = inKeyOrder(indicators)
    ? indicators
    : indicators
        .map((i) => ({ type: i.type, value: i.value, key: `${i.type}:${i.value}` }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const h = createHash('sha256');
  let piece = '';
  for (let n = 0; n < keys.length; n++) {
    piece += `${keys[n]!.type}:${keys[n]!.value}\n`;
    if (piece.length >= 64 * 1024) {
      h.update(piece);
      piece = '';
      await pause();
    }
  }
  h.update(piece);
  return `sha256:${h.digest('hex')}`;
}

export class SnapshotStore {
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
  ) {}

  headName(feed: string): string {
    return `forestall-feed-${feed}`;
  }

  /** Saves a snapshot; resolves once the head points at it. */
  async save(
    feed: string,
    indicators: readonly Indicator[],
    meta: Omit<SnapshotMeta, 'digest' | 'count'>,
    owner?: KubernetesObject,
  ): Promise<SnapshotMeta> {
    const full: SnapshotMeta = {
      ...meta,
      digest: await snapshotDigest(indicators),
      count: indicators.length,
    };
    const gzipped = await encodeIndicators(indicators, feed);
    const generation = randomBytes(4).toString('hex');
    const chunks = Math.max(1, Math.ceil(gzipped.length / CHUNK_BYTES));
    const ownerReferences = owner?.metadata?.uid
      ? [
          {
            apiVersion: owner.apiVersion!,
            kind: owner.kind!,
            name: owner.metadata.name!,
            uid: owner.metadata.uid,
            blockOwnerDeletion: false,
          },
        ]
      : undefined;
    const labels = { [LABEL_FEED]: feed, [LABEL_PART]: 'forestall' };
    for (let i = 0; i < chunks; i++) {
      await this.client.apply<ConfigMap>({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: `${this.headName(feed)}-${generation}-${i}`,
          namespace: this.namespace,
          labels: { ...labels, [LABEL_GENERATION]: generation },
          ownerReferences,
        },
        binaryData: {
          [KEY]: gzipped.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES).toString('base64'),
        },
      });
    }
    await this.client.apply<ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.headName(feed),
        namespace: this.namespace,
        labels,
        ownerReferences,
        annotations: {
          'forestall.io/generation': generation,
          'forestall.io/chunks': String(chunks),
          'forestall.io/gzip-sha256': sha256(gzipped),
        },
      },
      data: { 'meta.json': JSON.stringify(full) },
    });
    await this.prune(feed, generation).catch(() => undefined);
    return full;
  }

  /** The current snapshot, or undefined when none was saved. Throws when it is damaged. */
  async load(feed: string): Promise<Snapshot | undefined> {
    const head = await this.client.get<ConfigMap>(
      'v1',
      'ConfigMap',
      this.headName(feed),
      this.namespace,
    );
    if (!head) return undefined;
    const ann = head.metadata?.annotations ?? {};
    const generation = ann['forestall.io/generation'];
    const chunks = Number(ann['forestall.io/chunks']);
    const meta = JSON.parse(head.data?.['meta.json'] ?? '{}') as SnapshotMeta;
    if (!generation || !Number.isInteger(chunks) || chunks < 1)
      throw damaged(feed, 'the head names no generation');
    const parts: Buffer[] = [];
    for (let i = 0; i < chunks; i++) {
      const cm = await this.client.get<ConfigMap>(
        'v1',
        'ConfigMap',
        `${this.headName(feed)}-${generation}-${i}`,
        this.namespace,
      );
      const data = cm?.binaryData?.[KEY];
      if (data === undefined) throw damaged(feed, `chunk ${i} of ${chunks} is missing`);
      parts.push(Buffer.from(data, 'base64'));
    }
    const gzipped = Buffer.concat(parts);
    if (sha256(gzipped) !== ann['forestall.io/gzip-sha256'])
      throw damaged(feed, 'the chunks do not match the recorded checksum');
    const indicators = await decodeIndicators(gzipped, feed);
    if ((await snapshotDigest(indicators)) !== meta.digest)
      throw damaged(feed, 'the indicators do not match the recorded digest');
    return { meta, indicators };
  }

  /** Deletes every ConfigMap of the feed (the feed is gone). */
  async delete(feed: string): Promise<void> {
    await this.prune(feed, undefined);
    await this.client.delete({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: this.headName(feed), namespace: this.namespace },
    });
  }

  /** Deletes chunks of every generation except `keep`. */
  private async prune(feed: string, keep: string | undefined): Promise<void> {
    const list = await this.client.list<ConfigMap>('v1', 'ConfigMap', {
      namespace: this.namespace,
      labelSelector: `${LABEL_FEED}=${feed},${LABEL_GENERATION}`,
    });
    for (const cm of list.items) {
      if (cm.metadata?.labels?.[LABEL_GENERATION] !== keep)
        await this.client.delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: cm.metadata });
    }
  }
}

function damaged(feed: string, why: string): ForestallError {
  return new ForestallError(
    'FST_SNAPSHOT_DAMAGED',
    `snapshot of ThreatFeed ${feed} is damaged: ${why}`,
  );
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

// One JSON document per line: a compact tuple, so 120k addresses gzip to under a MiB.
// A snapshot belongs to one feed, so `sources: [feed]` and empty tags are implied.
// The first line may be {"defaults":{"validUntil":T}}: the expiry most rows share (a
// feed's ttl gives every row the same one), which rows then leave out; a row without
// an expiry in such a snapshot says "validUntil":null. Snapshots written before there
// was a first line have none, and read the same.
type Row = [
  Indicator['type'],
  string,
  number,
  Partial<Omit<Indicator, 'type' | 'value' | 'confidence' | 'validUntil'>> & {
    validUntil?: string | null;
  },
];
interface Defaults {
  validUntil?: string;
}

function extrasOf(i: Indicator, feed: string, defaults: Defaults): Row[3] | undefined {
  const { type: _t, value: _v, confidence: _c, sources, tags, validUntil, ...rest } = i;
  const extra: Row[3] = { ...rest };
  if (validUntil !== defaults.validUntil) extra.validUntil = validUntil ?? null;
  if (tags.length) extra.tags = tags;
  if (!(sources.length === 1 && sources[0] === feed)) extra.sources = sources;
  return Object.keys(extra).length ? extra : undefined;
}

/** Whether the indicator carries nothing but its type, value, confidence and the defaults. */
function plain(i: Indicator, feed: string, defaults: Defaults): boolean {
  return (
    i.tags.length === 0 &&
    i.sources.length === 1 &&
    i.sources[0] === feed &&
    i.validUntil === defaults.validUntil &&
    i.firstSeen === undefined &&
    i.lastSeen === undefined &&
    i.techniques === undefined &&
    i.attributes === undefined &&
    i.ref === undefined
  );
}

/**
 * The gzipped JSON-lines body of a snapshot. Every indicator type, accounts included,
 * goes through as its type name and canonical value; nothing here depends on the type.
 */
export async function encodeIndicators(
  indicators: readonly Indicator[],
  feed: string,
): Promise<Buffer> {
  const gzip = createGzip({ level: 6 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => gzip.on('end', resolve).on('error', reject));
  const defaults: Defaults = { validUntil: indicators[0]?.validUntil };
  const lines = (function* () {
    let batch = defaults.validUntil ? `${JSON.stringify({ defaults })}\n` : '';
    for (const i of indicators) {
      if (plain(i, feed, defaults)) {
        batch += `[${JSON.stringify(i.type)},${JSON.stringify(i.value)},${JSON.stringify(i.confidence)}]\n`;
      } else {
        const extra = extrasOf(i, feed, defaults);
        const row = extra
          ? [i.type, i.value, i.confidence, extra]
          : [i.type, i.value, i.confidence];
        batch += JSON.stringify(row) + '\n';
      }
      if (batch.length > 64 * 1024) {
        yield batch;
        batch = '';
      }
    }
    if (batch) yield batch;
  })();
  Readable.from(lines).pipe(gzip);
  await done;
  return Buffer.concat(out);
}

/** The indicators of a body written by encodeIndicators for the same feed. */
export async function decodeIndicators(gzipped: Buffer, feed: string): Promise<Indicator[]> {
  const out: Indicator[] = [];
  // What rows repeat is held once (a million rows share one feed name, one empty tag list and usually one expiry).
  const sources = Object.freeze([feed]) as unknown as string[];
  const noTags = Object.freeze([]) as unknown as string[];
  const times = new Map<string, string>();
  const shared = (t: string | undefined) => {
    if (t === undefined) return undefined;
    const seen = times.get(t);
    if (seen !== undefined) return seen;
    times.set(t, t);
    return t;
  };
  let defaults: Defaults = {};
  let rest = '';
  for await (const chunk of Readable.from([gzipped]).pipe(createGunzip())) {
    const lines = (rest + (chunk as Buffer).toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (!line) continue;
      const parsed = JSON.parse(line) as Row | { defaults: Defaults };
      if (!Array.isArray(parsed)) {
        defaults = parsed.defaults ?? {};
        continue;
      }
      const [type, value, confidence, extra] = parsed;
      const { validUntil: ownValidUntil, ...facts } = extra ?? {};
      const indicator: Indicator = { type, value, confidence, sources, tags: noTags, ...facts };
      const validUntil =
        ownValidUntil === null ? undefined : (ownValidUntil ?? defaults.validUntil);
      if (validUntil !== undefined) indicator.validUntil = shared(validUntil);
      if (indicator.firstSeen !== undefined) indicator.firstSeen = shared(indicator.firstSeen);
      out.push(indicator);
    }
  }
  return out;
}
