import { expect } from 'vitest';
import { InterlockError } from '../../src/core/errors.js';

/** The error code `fn` throws, `undefined` when it returns, or a note when it throws something else. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof InterlockError ? error.code : `not an InterlockError: ${String(error)}`;
  }
  return undefined;
}

/**
 * The error `promise` rejects with, checked to be an instance of `type` (default {@link InterlockError},
 * e.g. `ConnectorError` for a connector's failure); fails the test when it resolves.
 */
export async function rejection<E extends InterlockError = InterlockError>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E = InterlockError as unknown as abstract new (...args: never[]) => E): Promise<E> {
  const error: unknown = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(type);
  return error as E;
}
