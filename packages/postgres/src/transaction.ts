import type { PostgresClient, Transaction } from "./config.js";
import { isConnectionLoss, UncertainCommitError } from "./errors.js";

/** A promise that never settles. */
const forever = <T>() => new Promise<T>(() => {});

/**
 * Runs `body` in a transaction (`sql.begin`) that may be retried as a whole:
 *
 * - a failure before COMMIT rolled everything back, so the error is rethrown as is;
 * - when the connection drops after the body finished, COMMIT may or may not have happened, so the
 *   error becomes an {@link UncertainCommitError}, which the retry loop does not repeat.
 *
 * When the connection drops inside the body, the body is left pending instead of rejecting, and
 * `sql.begin` rejects on its own through its connection-close handler. Rejecting would make
 * `sql.begin` send its automatic ROLLBACK; the dead connection has already nulled its socket, so
 * the write deferred to a `setImmediate` throws a TypeError outside every promise, which no caller
 * can catch and which ends the process (porsager/postgres#1154, #1208). Every release up to 3.4.9,
 * the latest when this was last checked, has the bug; the fixes are unmerged pull requests
 * (#1168, #1209, #1215). Drop this guard once a release has them and `test/faults.test.ts`
 * (connections terminated mid-transaction) stays green without it.
 */
export async function runTransaction<R>(sql: PostgresClient, body: (tx: Transaction) => Promise<R>): Promise<R> {
  let bodyDone = false;
  try {
    return (await sql.begin(async (tx: Transaction) => {
      const result = await body(tx).catch((error: unknown) =>
        isConnectionLoss(error) ? forever<R>() : Promise.reject(error),
      );
      bodyDone = true;
      return result;
    })) as R;
  } catch (error) {
    if (bodyDone && isConnectionLoss(error)) throw new UncertainCommitError(error);
    throw error;
  }
}
