/**
 * In-process mutual exclusion per (store, key), shared by every backend instance on the same store
 * object, so that two `StoreBackend`s on one store cannot interleave edits of one file.
 */
const queues = new WeakMap<object, Map<string, Promise<void>>>();

/** Runs `fn` once every earlier holder of `key` on `owner` has finished. */
export async function withKeyLock<T>(owner: object, key: string, fn: () => Promise<T>): Promise<T> {
  let byKey = queues.get(owner);
  if (!byKey) {
    byKey = new Map();
    queues.set(owner, byKey);
  }
  const previous = byKey.get(key) ?? Promise.resolve();
  const run = previous.then(fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  byKey.set(key, tail);
  try {
    return await run;
  } finally {
    if (byKey.get(key) === tail) byKey.delete(key);
  }
}
