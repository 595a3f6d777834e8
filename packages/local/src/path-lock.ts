/**
 * Serialises async work per key (a host path) inside this process, so that a read-check-write
 * sequence (edit, conditional write) is atomic with respect to every other mutation of that file
 * made through this process. Other processes are not covered.
 */
export class PathLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    // The stored tail never rejects, and is dropped once nothing is queued behind it.
    const tail = current.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
