/**
 * `deepfsHistory()`: the agent middleware that gives a graph the thread's `deepfs_history` state
 * channel, where deepfs's StateBackend (with `history` on) keeps the versions of the thread's files
 * inside a run: per thread, checkpointed with it, recorded in the same step as each change, and not
 * a file (deepagents' tools and `result.files` never show it). Import from `@deepfs/langgraph/middleware`.
 *
 * ```ts
 * const agent = createDeepAgent({
 *   backend: new StateBackend({ history: true }),
 *   middleware: [deepfsHistory()],
 *   tools: historyTools(backend), // file_history, diff_file, restore_file
 *   checkpointer,
 * });
 * ```
 *
 * Give it to subagents too (their `middleware`) so their changes are versioned one by one; without
 * it a subagent's files still come back, and are versioned as one change the next time deepfs
 * touches them or takes a snapshot.
 */
import { HISTORY_CHANNEL, reduceStateHistory, type StateHistory } from "@deepfs/core";
import { ReducedValue, StateSchema } from "@langchain/langgraph";
import { createMiddleware } from "langchain";
import { z } from "zod";

/** A version as the channel keeps it; checked by the reducer, which ignores what is malformed. */
const versionSchema = z
  .object({
    id: z.string(),
    seq: z.number(),
    step: z.number(),
    task: z.string(),
    local: z.number(),
    path: z.string(),
    op: z.enum(["write", "edit", "upload", "delete", "restore"]),
    etag: z.string(),
    size: z.number(),
    modified_at: z.string(),
    at: z.number(),
    data: z.unknown(),
  })
  .passthrough();

const historySchema = z.object({
  next: z.number(),
  versions: z.array(versionSchema),
  pruned: z.record(z.string(), z.number()).optional(),
});

/**
 * The channel: one object per graph, so that agents and subagents sharing it declare the same
 * channel (LangGraph refuses two channels of one name with different definitions).
 */
const historyState = new StateSchema({
  [HISTORY_CHANNEL]: new ReducedValue(
    historySchema.default(() => ({ next: 0, versions: [] })) as unknown as z.ZodType<StateHistory>,
    {
      // An update (versions to add, ids to drop) or a whole history (an input, a subagent's state).
      inputSchema: z.unknown().optional(),
      reducer: (current: StateHistory, update: unknown) => reduceStateHistory(current, update),
    },
  ),
});

const middleware = createMiddleware({ name: "DeepfsHistoryMiddleware", stateSchema: historyState });

/** The middleware that adds the thread's `deepfs_history` channel (see the module's comment). */
export function deepfsHistory(): typeof middleware {
  return middleware;
}
