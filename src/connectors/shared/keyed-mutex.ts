/**
 * An in-process mutex per key: `run(key, fn)` runs `fn` after every earlier call for the same key has
 * settled (fulfilled or rejected), and resolves or rejects as `fn` does. Calls for different keys run
 * concurrently. Used by write connectors to serialise their writes per target; it does not serialise
 * across processes.
 */
export function createKeyedMutex(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const locks = new Map<string, Promise<void>>();
  return async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(() => undefined, () => undefined);
    locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (locks.get(key) === settled) locks.delete(key);
    }
  };
}
