import type { ThreatException } from '../../crds/index.js';
import {
  compileException,
  exceptionApplies,
  type CompiledException,
  type ExceptionVerdict,
} from '../../policies/index.js';
import type { Informer } from '../runtime/informer.js';

/**
 * Every ThreatException, compiled once per spec generation from the informer: what the
 * policy controller hands the engine, and what the exception controller reports on. An
 * invalid exception (an unreadable range, breadth without spec.broad) is compiled to
 * its problems and honoured nowhere.
 */
export class ExceptionSet {
  private readonly compiled = new Map<string, { version: string; verdict: ExceptionVerdict }>();

  constructor(readonly informer: Informer<ThreatException>) {}

  /** The verdict on one exception, from the cache while its resourceVersion holds. */
  verdict(exception: ThreatException): ExceptionVerdict {
    const name = exception.metadata.name!;
    // The spec's generation: a status write changes the resourceVersion, not the verdict.
    const version = `${exception.metadata.uid ?? ''}/${exception.metadata.generation ?? 0}`;
    const cached = this.compiled.get(name);
    if (cached?.version === version) return cached.verdict;
    const verdict = compileException(name, exception.spec);
    this.compiled.set(name, { version, verdict });
    return verdict;
  }

  /**
   * The valid exceptions in force at `now` that `policy` honours, with a key that
   * changes whenever that set does (for the policy controller's memo), and when the
   * next of them expires.
   */
  inForce(
    policy: string,
    now: Date,
  ): { exceptions: CompiledException[]; key: string; nextExpiry?: number } {
    const exceptions: CompiledException[] = [];
    const keyParts: string[] = [];
    let nextExpiry: number | undefined;
    const present = new Set<string>();
    for (const object of this.informer.list()) {
      const name = object.metadata.name!;
      present.add(name);
      const e = this.verdict(object).exception;
      if (!e || !exceptionApplies(e, policy, now)) continue;
      exceptions.push(e);
      keyParts.push(`${name}@${object.metadata.uid ?? ''}/${object.metadata.generation ?? 0}`);
      if (e.expiresAt !== undefined) nextExpiry = Math.min(nextExpiry ?? Infinity, e.expiresAt);
    }
    for (const name of this.compiled.keys()) if (!present.has(name)) this.compiled.delete(name);
    exceptions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      exceptions,
      key: keyParts.sort().join(',') || 'none',
      ...(nextExpiry !== undefined ? { nextExpiry } : {}),
    };
  }
}
