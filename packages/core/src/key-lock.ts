/**
 * What one holder of a {@link KeyedLock} covers: exact keys, and every key that starts with one of
 * `prefixes` (a recursive delete of `/d` covers `/d` and the prefix `/d/`).
 */
export interface LockScope {
  keys?: Iterable<string>;
  prefixes?: Iterable<string>;
}

interface Holder {
  keys: Set<string>;
  prefixes: string[];
  done: Promise<void>;
}

/**
 * In-process mutual exclusion per key (a path), in call order: a task waits for every earlier
 * task whose scope overlaps its own, and tasks on disjoint keys run concurrently. Backends use it
 * so that every mutation of one path (write, edit, upload, delete) is serialised: an edit's
 * read-modify-write never straddles an upload or a delete of the same file.
 *
 * A task waits only for tasks queued before it, so there is no deadlock, however many keys each
 * one takes, as long as each task takes all its keys in one call: a task that holds keys must not
 * ask for more (nor for the same again; the lock is not re-entrant).
 */
export class KeyedLock {
  private readonly holders = new Set<Holder>();

  /** Runs `task` once every earlier task on `key` has finished. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.runScoped({ keys: [key] }, task);
  }

  /** Runs `task` once every earlier task that overlaps `scope` has finished. */
  async runScoped<T>(scope: LockScope, task: () => Promise<T>): Promise<T> {
    const holder: Holder = {
      keys: new Set(scope.keys ?? []),
      prefixes: [...(scope.prefixes ?? [])],
      done: Promise.resolve(),
    };
    const waits: Array<Promise<void>> = [];
    for (const earlier of this.holders) if (overlaps(earlier, holder)) waits.push(earlier.done);
    let release = () => {};
    holder.done = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.holders.add(holder);
    try {
      await Promise.all(waits);
      return await task();
    } finally {
      // Forgotten once done, so the lock does not grow with every key ever used.
      this.holders.delete(holder);
      release();
    }
  }
}

function overlaps(a: Holder, b: Holder): boolean {
  const [small, large] = a.keys.size <= b.keys.size ? [a, b] : [b, a];
  for (const key of small.keys) if (large.keys.has(key)) return true;
  for (const prefix of a.prefixes) {
    for (const key of b.keys) if (key.startsWith(prefix)) return true;
    for (const other of b.prefixes) if (other.startsWith(prefix) || prefix.startsWith(other)) return true;
  }
  for (const prefix of b.prefixes) for (const key of a.keys) if (key.startsWith(prefix)) return true;
  return false;
}
