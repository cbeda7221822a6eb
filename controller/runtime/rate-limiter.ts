/**
 * Per-key exponential backoff, as client-go's ItemExponentialFailureRateLimiter:
 * the n-th consecutive failure of a key waits base * 2^(n-1), capped at max. forget()
 * (called on success) resets the key, so the next failure starts from base again.
 */
export interface RateLimiter {
  /** The delay before retrying key, counting this as one more failure. */
  when(key: string): number;
  forget(key: string): void;
  failures(key: string): number;
}

export class ExponentialRateLimiter implements RateLimiter {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 300_000,
  ) {}

  when(key: string): number {
    const n = this.counts.get(key) ?? 0;
    this.counts.set(key, n + 1);
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  forget(key: string): void {
    this.counts.delete(key);
  }

  failures(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}
