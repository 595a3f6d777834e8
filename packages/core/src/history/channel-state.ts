/**
 * The `deepfs_history` state channel's value, its update and its reducer: what LangGraph stores
 * and merges for StateBackend's history inside a run (see {@link ChannelHistory} in
 * `channel-history.ts` for how a call reads and records versions).
 */
import type { FileDataV2 } from "../protocol.js";
import type { VersionOp } from "./history-types.js";

/** The name of the state channel that keeps StateBackend's versions inside a run. */
export const HISTORY_CHANNEL = "deepfs_history";

/** One version, as kept in the channel. */
export interface StateVersion {
  /** The id shown to callers: fixed when the version is made. */
  id: string;
  /** The version's place in the thread's history, given by the reducer when its step ended. */
  seq: number;
  /** The history's `next` when the step that made the version started. */
  step: number;
  /** The task that made it (a short hash of LangGraph's task id). */
  task: string;
  /** The place the version had as its task saw it (its `seq` before the step ended). */
  local: number;
  path: string;
  op: VersionOp;
  /** The content's etag ("" for a tombstone). */
  etag: string;
  size: number;
  modified_at: string;
  /** Milliseconds since the epoch, for retention by age. */
  at: number;
  /** The content, null for a tombstone. */
  data: FileDataV2 | null;
}

/** The channel's value. */
export interface StateHistory {
  /** The `seq` the next version will get. */
  next: number;
  /** Oldest first. */
  versions: StateVersion[];
  /**
   * Path → the `seq` of its first version, once retention dropped it (oldest go first): a snapshot
   * after that point needs what was dropped, and says so instead of calling the file added.
   */
  pruned?: Record<string, number>;
}

/** What a task sends to the channel: versions to add and ids retention dropped. */
export interface StateHistoryUpdate {
  append?: Array<Omit<StateVersion, "seq">>;
  drop?: string[];
}

const EMPTY: StateHistory = { next: 0, versions: [] };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isVersion(value: unknown): value is Omit<StateVersion, "seq"> {
  if (!isRecord(value)) return false;
  const { id, step, task, local, path, op, etag, size, at, data } = value;
  return (
    typeof id === "string" &&
    typeof step === "number" &&
    typeof task === "string" &&
    typeof local === "number" &&
    typeof path === "string" &&
    typeof op === "string" &&
    typeof etag === "string" &&
    typeof size === "number" &&
    typeof at === "number" &&
    (data === null || isRecord(data))
  );
}

/** The channel's value as a {@link StateHistory} (empty when it is not one). */
export function stateHistoryOf(value: unknown): StateHistory {
  return isRecord(value) && typeof value.next === "number" && Array.isArray(value.versions)
    ? (value as unknown as StateHistory)
    : EMPTY;
}

/**
 * The channel's reducer. An update adds versions (each gets the next `seq`) and drops the ones
 * retention let go; a whole history (a graph's input, or a subagent's state coming back) adds the
 * versions it has that this one lacks, by id, so merging a copy twice changes nothing.
 */
export function reduceStateHistory(current: unknown, update: unknown): StateHistory {
  const base = stateHistoryOf(current);
  if (!isRecord(update)) return base;
  if (Array.isArray(update.versions)) {
    const known = new Set(base.versions.map((v) => v.id));
    return merged(
      base,
      update.versions.filter((v): v is StateVersion => isVersion(v) && !known.has(v.id)),
      [],
    );
  }
  const append = Array.isArray(update.append) ? update.append.filter(isVersion) : [];
  const drop = Array.isArray(update.drop) ? update.drop.filter((id): id is string => typeof id === "string") : [];
  return append.length === 0 && drop.length === 0 ? base : merged(base, append, drop);
}

function merged(base: StateHistory, append: Array<Omit<StateVersion, "seq">>, drop: string[]): StateHistory {
  const dropped = new Set(drop);
  const pruned: Record<string, number> = { ...base.pruned };
  const forget = (v: StateVersion) => {
    pruned[v.path] = Math.min(pruned[v.path] ?? v.seq, v.seq);
  };
  const versions: StateVersion[] = [];
  for (const v of base.versions) {
    if (dropped.has(v.id)) forget(v);
    else versions.push(v);
  }
  let next = base.next;
  for (const draft of append) {
    const version: StateVersion = { ...draft, seq: next++ };
    if (dropped.has(version.id)) forget(version);
    else versions.push(version);
  }
  return { next, versions, pruned };
}
