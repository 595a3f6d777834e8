import { KeyedLock } from "@deepfs/core";

/**
 * In-process mutual exclusion per (store, key), shared by every backend instance on the same store
 * object, so that two `StoreBackend`s on one store cannot interleave mutations of one file.
 */
const locks = new WeakMap<object, KeyedLock>();

function lockOf(owner: object): KeyedLock {
  let lock = locks.get(owner);
  if (!lock) {
    lock = new KeyedLock();
    locks.set(owner, lock);
  }
  return lock;
}

/** Runs `fn` once every earlier holder of `key` on `owner` has finished. */
export function withKeyLock<T>(owner: object, key: string, fn: () => Promise<T>): Promise<T> {
  return lockOf(owner).run(key, fn);
}

/** Runs `fn` once every earlier holder of any of `keys` on `owner` has finished (all taken at once). */
export function withKeyLocks<T>(owner: object, keys: Iterable<string>, fn: () => Promise<T>): Promise<T> {
  return lockOf(owner).runScoped({ keys }, fn);
}
