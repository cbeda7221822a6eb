import { gzipSync } from 'node:zlib';
import { gunzipBounded, STORED_GUNZIP_MAX_BYTES } from '../../lib/gzip.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import { labelValue } from '../../connectors/index.js';
import { LABEL_ACTION, LABEL_MANAGED_BY, MANAGED_BY } from '../../crds/index.js';
import { valuesDigest } from '../../policies/index.js';
import type { KubeClient } from '../runtime/client.js';
import { ForestallError } from '../runtime/errors.js';

/**
 * The full indicator set of a large PreemptiveAction (more than INLINE_VALUES values),
 * in one ConfigMap per action in the controller's namespace: the sorted values, one
 * per line, gzipped in binaryData, with their digest in an annotation. The action's
 * spec.indicators.digest names the content it expects, so a reader never acts on a set
 * that does not belong to the spec it read.
 */
export const INLINE_VALUES = 256;
const KEY = 'values.txt.gz';
const ANNOTATION_DIGEST = 'forestall.io/digest';
/** A ConfigMap holds at most 1 MiB; base64 grows the gzip by a third. */
const MAX_GZIP_BYTES = 700 * 1024;

interface ConfigMap extends KubernetesObject {
  binaryData?: Record<string, string>;
}

export function indicatorConfigMapName(action: string): string {
  return `forestall-action-${action}`.slice(0, 253);
}

export class IndicatorStore {
  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
  ) {}

  /** Writes the set unless the stored one already has this digest. */
  async save(
    action: string,
    values: readonly string[],
    digest = valuesDigest(values),
  ): Promise<{ name: string; namespace: string }> {
    const name = indicatorConfigMapName(action);
    const ref = { name, namespace: this.namespace };
    const current = await this.client.get<ConfigMap>('v1', 'ConfigMap', name, this.namespace);
    if (current?.metadata?.annotations?.[ANNOTATION_DIGEST] === digest) return ref;
    const gz = gzipSync(values.join('\n'));
    if (gz.length > MAX_GZIP_BYTES) {
      throw new ForestallError(
        'FST_INVALID_SPEC',
        `the indicator set of ${action} is ${values.length} values, ${gz.length} bytes compressed: over the ${MAX_GZIP_BYTES}-byte limit of one ConfigMap; narrow spec.match`,
      );
    }
    await this.client.apply<ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace: this.namespace,
        labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_ACTION]: labelValue(action) },
        annotations: { [ANNOTATION_DIGEST]: digest },
      },
      binaryData: { [KEY]: gz.toString('base64') },
    });
    return ref;
  }

  /** The values, or undefined when the ConfigMap is missing or holds another digest (not written yet). */
  async load(
    ref: { name: string; namespace: string },
    digest: string | undefined,
  ): Promise<string[] | undefined> {
    const cm = await this.client.get<ConfigMap>('v1', 'ConfigMap', ref.name, ref.namespace);
    const data = cm?.binaryData?.[KEY];
    if (!cm || !data) return undefined;
    if (digest && cm.metadata?.annotations?.[ANNOTATION_DIGEST] !== digest) return undefined;
    const text = gunzipBounded(Buffer.from(data, 'base64'), {
      maxBytes: STORED_GUNZIP_MAX_BYTES,
      what: `ConfigMap ${ref.namespace}/${ref.name}`,
    }).toString('utf8');
    const values = text ? text.split('\n') : [];
    if (digest && valuesDigest(values) !== digest) {
      throw new ForestallError(
        'FST_SNAPSHOT_DAMAGED',
        `ConfigMap ${ref.namespace}/${ref.name} does not match its digest ${digest}`,
      );
    }
    return values;
  }

  async delete(action: string): Promise<void> {
    await this.client.delete({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: indicatorConfigMapName(action), namespace: this.namespace },
    });
  }
}
