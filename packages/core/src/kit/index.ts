/**
 * `@deepfs/core/kit`: what a backend author needs to put a store behind the deepfs contract — the
 * {@link Driver} interface, the {@link DriverBackend} facade over it, and the shared helpers
 * (retry, per-key lock, the grep rule, the coarse transfer code, the error sentences).
 */

export { type MemberDriver, memberDriver } from "../composite-protocol-driver.js";
export type {
  DriverHistory,
  FileVersion,
  HistoryRetention,
  ReadAtCall,
  SnapshotChange,
  VersionOp,
  VersionReadCall,
  VersionRef,
} from "../history/history-types.js";
export { VersionLog } from "../history/version-log.js";
export { KeyedLock, type LockHold, type LockScope } from "../key-lock.js";
export type { MaybePromise } from "../protocol.js";
export * from "./driver.js";
export { DriverBackend, defineBackend, type FacadeOptions } from "./facade.js";
export { ForwardingDriver, type ForwardingOptions, type OptionalDriverCall } from "./forwarding-driver.js";
export { mapLimit } from "./limit.js";
export { coarseCode, describeFault, failureOf, faultOfThrown, type Operation } from "./messages.js";
export { nativeErrorCode, SOCKET_ERROR_CODES, type TranslatedError, translateSqlState } from "./native-errors.js";
export { backoff, type RetryOptions, withRetry } from "./retry.js";
export { DEFAULT_MAX_GREP_FILE_BYTES, fileInfoOf, isGreppable } from "./search.js";
