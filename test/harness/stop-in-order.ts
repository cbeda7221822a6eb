import { expect } from 'vitest';
import type { LoopbackFence } from './feed-server.js';

/** Anything a test starts and must stop: the manager, the control plane, the servers. */
type Stoppable = { stop(): Promise<unknown> } | { close(): Promise<unknown> } | undefined;

/**
 * Stops each started thing in the order given (the controller before the API server it
 * talks to, the API server before the servers it reads from); skips what never started.
 */
export async function stopInOrder(...things: Stoppable[]): Promise<void> {
  for (const t of things) {
    if (t === undefined) continue;
    await ('stop' in t ? t.stop() : t.close());
  }
}

/** stopInOrder, then the fence's verdict (no socket went beyond loopback), then its removal. */
export async function stopFenced(fence: LoopbackFence | undefined, ...things: Stoppable[]) {
  await stopInOrder(...things);
  expect(fence?.violations).toEqual([]);
  fence?.uninstall();
}
