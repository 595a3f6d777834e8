/**
 * Stopping a statement whose rows stream to a callback (`forEach`) once they are no longer wanted:
 * a grep whose answer passed its bounds must not go on reading (see `grep.ts`).
 */
import type postgres from "postgres";
import type { PostgresClient } from "./config.js";

type Streamed = postgres.PendingQuery<postgres.Row[]> | postgres.PendingRawQuery<postgres.Row[]>;

/** How long a connection waits for its cancel request to be delivered before it is used again. */
const CANCEL_WAIT_MS = 10_000;

/**
 * Cancels a streaming statement from inside its own row callback, where the statement is certainly
 * the one running on its connection: postgres.js then sends the cancel request at once, on a
 * connection of its own, and the server ends the statement with 57014 (rows already on their way,
 * in the sockets' buffers, still arrive, and are ignored).
 *
 * The request reaches the server some time after it is sent, so the connection must run nothing
 * else before {@link sent} resolves: a request that lands once the statement has ended finds the
 * session waiting for a command, and PostgreSQL drops it there; one that lands during the next
 * statement would cancel that one instead.
 *
 * postgres.js's public `cancel()` drops the promise of the request, so a request that fails (a
 * server that takes no second connection, as PGlite) would be an unhandled rejection, and its
 * delivery could not be awaited: the canceller it wraps is called instead. Without one (another
 * postgres.js), nothing is cancelled: the statement runs to its end, its rows ignored.
 */
export class StreamStop {
  private request: Promise<void> | null = null;

  /** True once a cancel was asked for. */
  get stopped(): boolean {
    return this.request !== null;
  }

  /** Cancels `query` (once); call it only from the query's own row callback. */
  cancel(query: Streamed): void {
    if (this.request !== null) return;
    const inner = query as unknown as { canceller?: ((query: unknown) => Promise<unknown>) | null };
    const canceller = inner.canceller;
    if (typeof canceller !== "function") {
      this.request = Promise.resolve();
      return;
    }
    // As `cancel()` does, so that it cannot be asked twice.
    inner.canceller = null;
    let timer: NodeJS.Timeout | undefined;
    const delivered = Promise.resolve(canceller(query)).then(
      () => undefined,
      () => undefined,
    );
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CANCEL_WAIT_MS);
      timer.unref();
    });
    this.request = Promise.race([delivered, late]).finally(() => clearTimeout(timer));
  }

  /** Resolves once the cancel request, if any, has been delivered (or could not be). */
  sent(): Promise<void> {
    return this.request ?? Promise.resolve();
  }
}

/**
 * The rows of `statement` to `onRow` until it answers false, as `forEach` would; then the statement
 * is cancelled (see {@link StreamStop}). Answers false when it was stopped, whatever the statement's
 * outcome then (a cancelled statement fails with 57014, which is no error here).
 */
export async function forEachUntil(query: Streamed, stop: StreamStop, onRow: (row: unknown) => boolean) {
  try {
    await query.forEach((row) => {
      if (!stop.stopped && !onRow(row)) stop.cancel(query);
    });
  } catch (error) {
    if (!stop.stopped) throw error;
  }
  return !stop.stopped;
}

/**
 * One statement streamed on a connection of its own (reserved from `sql`, so that nothing else runs
 * on it until a cancel request is delivered): see {@link forEachUntil}.
 */
export async function streamReserved(
  sql: PostgresClient,
  statement: (q: PostgresClient) => Streamed,
  onRow: (row: unknown) => boolean,
): Promise<boolean> {
  const reserved = await sql.reserve();
  const stop = new StreamStop();
  try {
    return await forEachUntil(statement(reserved as unknown as PostgresClient), stop, onRow);
  } finally {
    await stop.sent();
    reserved.release();
  }
}
