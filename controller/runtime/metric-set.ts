import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Metrics declared as a table: each kind (and the runtime) lists its instruments once,
 * by field name, and gets a class whose instances register them on the registry they are
 * given, never prom-client's global one. Registration follows the table's order, which is
 * the order /metrics lists them in.
 */
interface MetricSpec {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export type MetricTable = Record<
  string,
  | (MetricSpec & { type: 'counter' })
  | (MetricSpec & { type: 'gauge' })
  | (MetricSpec & { type: 'histogram'; buckets: readonly number[] })
>;

/** The instruments of a table, typed by field. */
export type MetricsOf<T extends MetricTable> = {
  readonly [K in keyof T]: T[K]['type'] extends 'counter'
    ? Counter
    : T[K]['type'] extends 'gauge'
      ? Gauge
      : Histogram;
};

/** A class whose constructor registers every instrument of `table` on its registry. */
export function metricSet<T extends MetricTable>(
  table: T,
): new (registry: Registry) => MetricsOf<T> {
  return class {
    constructor(registry: Registry) {
      for (const [field, spec] of Object.entries(table))
        (this as Record<string, unknown>)[field] = instrument(spec, registry);
    }
  } as new (registry: Registry) => MetricsOf<T>;
}

function instrument(spec: MetricTable[string], registry: Registry): Counter | Gauge | Histogram {
  const options = {
    name: spec.name,
    help: spec.help,
    ...(spec.labelNames ? { labelNames: [...spec.labelNames] } : {}),
    registers: [registry],
  };
  if (spec.type === 'counter') return new Counter(options);
  if (spec.type === 'gauge') return new Gauge(options);
  return new Histogram({ ...options, buckets: [...spec.buckets] });
}
