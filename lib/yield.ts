/**
 * Lets the event loop run (probes, the lease, watches) in the middle of a long
 * computation: `await pause()` every few thousand items keeps each task short.
 */
export function pause(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Items a loop handles between pauses: a few milliseconds of simple work. */
export const PAUSE_EVERY = 20_000;
