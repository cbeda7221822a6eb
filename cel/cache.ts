import { compileCel, type CelProgram } from './compile.js';
import type { CelKind } from './environment.js';
import { CelCompileError } from './errors.js';

/**
 * Compiled programs by (kind, field, source), so a policy's expressions are compiled
 * once per generation and not once per reconcile. Failures are cached too: a spec
 * that does not compile throws the same CelCompileError until it changes.
 *
 * Bounded least-recently-used: a Map keeps insertion order, so a hit moves its entry
 * to the end and the first entry is the one to evict.
 */
export class CelCache {
  readonly #limit: number;
  readonly #entries = new Map<string, CelProgram | CelCompileError>();

  constructor(limit = 512) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`CelCache limit must be a positive integer, got ${limit}`);
    this.#limit = limit;
  }

  get size(): number {
    return this.#entries.size;
  }

  compile(source: string, field: string, kind: CelKind): CelProgram {
    const key = `${kind}\u0000${field}\u0000${source}`;
    let entry = this.#entries.get(key);
    if (entry !== undefined) {
      this.#entries.delete(key);
    } else {
      try {
        entry = compileCel(source, field, kind);
      } catch (err) {
        if (!(err instanceof CelCompileError)) throw err;
        entry = err;
      }
      if (this.#entries.size >= this.#limit)
        this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, entry);
    if (entry instanceof CelCompileError) throw entry;
    return entry;
  }
}
