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
