import { expect } from 'vitest';

/**
 * The error `promise` rejects with, after asserting it is a `type`: the one way the tests
 * catch a failure to look at its code, class and message (a fulfilled promise fails too).
 */
export async function rejectionOf<E>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as E;
}
