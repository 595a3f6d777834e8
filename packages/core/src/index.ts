export * from "./backend-helpers.js";
export * from "./base-sandbox.js";
export * from "./branch/branch-backend.js";
export type {
  BranchChange,
  BranchChangeKind,
  BranchChangesResult,
  CommitConflict,
  CommitOptions,
  CommitResult,
} from "./branch/branch-changes.js";
export { BranchDriver } from "./branch/branch-driver.js";
export * from "./composite-backend.js";
export * from "./controls/index.js";
export * from "./diff.js";
export * from "./edit.js";
export * from "./errors.js";
export * from "./file-data.js";
export * from "./format.js";
export * from "./glob.js";
export { MAX_GLOB_ALTERNATIVES, MAX_GLOB_EXPANDED_CHARS } from "./glob-braces.js";
export { checkGlobPattern, type GlobCheck, MAX_EXTGLOB_TOKENS, MAX_GLOB_LENGTH } from "./glob-pattern.js";
export * from "./grep.js";
export {
  HISTORY_CHANNEL,
  reduceStateHistory,
  type StateHistory,
  type StateHistoryUpdate,
  type StateVersion,
} from "./history/channel-state.js";
export * from "./history/diff-versions.js";
export * from "./history/history-types.js";
export { StoreHistory } from "./history/store-history.js";
export { VersionLog } from "./history/version-log.js";
export * from "./history/with-history.js";
export * from "./internal-names.js";
export * from "./key-lock.js";
export * from "./memory-backend.js";
export { type MergeConflictRegion, type MergeTextResult, mergeTexts } from "./merge-text.js";
export * from "./mime.js";
export * from "./paths.js";
export * from "./protocol.js";
export { ShellDriver, type ShellHost } from "./sandbox/shell-driver.js";
export * from "./state-backend.js";
export * from "./text.js";
export * from "./with-faults.js";
