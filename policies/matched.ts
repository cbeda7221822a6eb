import { mergeIndicator, type Indicator } from '../feeds/index.js';

/**
 * The indicators spec.match kept, one per type and value; an indicator seen in several
 * feeds is merged (mergeIndicator: the highest confidence wins). Kept per type in the
 * order first seen.
 *
 * A feed's snapshot is sorted by type, then value, with each pair once (feeds/ingest.ts).
 * While the values of each type arrive in strictly ascending order, as they do from one
 * feed, no two can be the same indicator, so they are only appended: a million matches
 * build no Map and no key string. The first value out of order (a second feed, or input
 * that is not a snapshot) switches that type to a Map keyed by value, which merges.
 */
export class MatchedIndicators {
  private readonly lists = new Map<string, Indicator[]>();
  private readonly maps = new Map<string, Map<string, Indicator>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(indicator: Indicator): void {
    const { type, value } = indicator;
    const map = this.maps.get(type);
    if (map) {
      const seen = map.get(value);
      if (!seen) this.count++;
      map.set(value, seen ? mergeIndicator(seen, indicator) : indicator);
      return;
    }
    const list = this.lists.get(type);
    if (!list) {
      this.lists.set(type, [indicator]);
      this.count++;
    } else if (list[list.length - 1]!.value < value) {
      list.push(indicator);
      this.count++;
    } else {
      this.indexed(type); // out of order: from now on this type merges through its Map
      this.add(indicator);
    }
  }

  has(i: Pick<Indicator, 'type' | 'value'>): boolean {
    return this.indexed(i.type).has(i.value);
  }

  delete(i: Pick<Indicator, 'type' | 'value'>): void {
    if (this.indexed(i.type).delete(i.value)) this.count--;
  }

  /** Those of one type, in the order first seen. */
  ofType(type: string): Iterable<Indicator> {
    return this.maps.get(type)?.values() ?? this.lists.get(type) ?? [];
  }

  *values(): IterableIterator<Indicator> {
    for (const type of new Set([...this.lists.keys(), ...this.maps.keys()]))
      yield* this.ofType(type);
  }

  /** The type's Map, built from its list the first time one is needed. */
  private indexed(type: string): Map<string, Indicator> {
    let map = this.maps.get(type);
    if (!map) {
      map = new Map((this.lists.get(type) ?? []).map((i) => [i.value, i]));
      this.maps.set(type, map);
      this.lists.delete(type);
    }
    return map;
  }
}
