/**
 * What one holder of a {@link KeyedLock} covers: exact keys, and every key that starts with one of
 * `prefixes` (a recursive delete of `/d` covers `/d` and the prefix `/d/`).
 */
export interface LockScope {
  keys?: Iterable<string>;
  prefixes?: Iterable<string>;
}

const NONE: readonly string[] = [];
/** Above this many keys, a holder is compared through a set instead of a scan. */
const SCAN_MAX = 8;

/**
 * In-process mutual exclusion per key (a path), in call order: a task waits for every earlier
 * task whose scope overlaps its own, and tasks on disjoint keys run concurrently. Backends use it
 * so that every mutation of one path (write, edit, upload, delete) is serialised: an edit's
 * read-modify-write never straddles an upload or a delete of the same file.
 *
 * A task waits only for tasks queued before it, so there is no deadlock, however many keys each
 * one takes, as long as each task takes all its keys in one call: a task that holds keys must not
 * ask for more (nor for the same again; the lock is not re-entrant).
 *
 * An uncontended task costs one small object: nothing waits, and no promise is made for it unless
 * a later task has to wait for it.
 */
export class KeyedLock {
  /** Holders in call order, as a list (no hashing of holders: an uncontended take is on hot paths). */
  first: Hold | null = null;
  last: Hold | null = null;

  /** True when nobody holds anything: a task started now waits for nothing. */
  get idle(): boolean {
    return this.first === null;
  }

  /** Runs `task` once every earlier task on `key` has finished. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.runScoped({ keys: [key] }, task);
  }

  /** Runs `task` once every earlier task that overlaps `scope` has finished. */
  async runScoped<T>(scope: LockScope, task: () => Promise<T>): Promise<T> {
    const held = this.acquire(listOf(scope.keys), listOf(scope.prefixes));
    try {
      if (held.ready) await held.ready;
      return await task();
    } finally {
      held.release();
    }
  }

  /**
   * Takes `scope` now, in call order: the holder may go ahead once `ready` settles (null: at once),
   * and must call `release` exactly once when done, whatever happened. {@link runScoped} is the
   * usual way; this is for hot paths that cannot afford its async layer.
   */
  acquire(keys: readonly string[], prefixes: readonly string[] = NONE): LockHold {
    const hold = new Hold(this, keys, prefixes);
    let waits: Array<Promise<void>> | undefined;
    for (let earlier = this.first; earlier !== null; earlier = earlier.next) {
      if (!overlaps(earlier, hold)) continue;
      waits ??= [];
      waits.push(earlier.done());
    }
    if (waits) hold.ready = waits.length === 1 ? (waits[0] as Promise<void>) : all(waits);
    hold.prev = this.last;
    if (this.last) this.last.next = hold;
    else this.first = hold;
    this.last = hold;
    return hold;
  }
}

/** A scope taken by {@link KeyedLock.acquire}. */
export interface LockHold {
  /** Settles when every earlier overlapping holder is done; null when none was. */
  readonly ready: Promise<void> | null;
  release(): void;
}

/** One holder: an uncontended one costs this object alone (no promise unless somebody waits). */
class Hold implements LockHold {
  ready: Promise<void> | null = null;
  /** The keys as a set, made when a many-key holder is first compared. */
  keySet: Set<string> | undefined;
  prev: Hold | null = null;
  next: Hold | null = null;
  private settled: Promise<void> | undefined;
  private resolve: (() => void) | undefined;

  constructor(
    private readonly lock: KeyedLock,
    readonly keys: readonly string[],
    readonly prefixes: readonly string[],
  ) {}

  /** Settles when this holder releases. */
  done(): Promise<void> {
    this.settled ??= new Promise<void>((resolve) => {
      this.resolve = resolve;
    });
    return this.settled;
  }

  release(): void {
    // Unlinked once done, so the lock does not grow with every key ever used.
    const lock = this.lock;
    if (this.prev) this.prev.next = this.next;
    else if (lock.first === this) lock.first = this.next;
    if (this.next) this.next.prev = this.prev;
    else if (lock.last === this) lock.last = this.prev;
    this.prev = null;
    this.next = null;
    this.resolve?.();
  }
}

async function all(waits: Array<Promise<void>>): Promise<void> {
  await Promise.all(waits);
}

function listOf(items: Iterable<string> | undefined): readonly string[] {
  if (items === undefined) return NONE;
  return Array.isArray(items) ? items : [...items];
}

function hasKey(holder: Hold, key: string): boolean {
  if (holder.keys.length <= SCAN_MAX) return holder.keys.includes(key);
  holder.keySet ??= new Set(holder.keys);
  return holder.keySet.has(key);
}

function overlaps(a: Hold, b: Hold): boolean {
  const [small, large] = a.keys.length <= b.keys.length ? [a, b] : [b, a];
  for (const key of small.keys) if (hasKey(large, key)) return true;
  for (const prefix of a.prefixes) {
    for (const key of b.keys) if (key.startsWith(prefix)) return true;
    for (const other of b.prefixes) if (other.startsWith(prefix) || prefix.startsWith(other)) return true;
  }
  for (const prefix of b.prefixes) for (const key of a.keys) if (key.startsWith(prefix)) return true;
  return false;
}
