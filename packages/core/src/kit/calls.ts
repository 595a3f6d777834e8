/**
 * How the facade calls a driver: throws turned into faults, answers that may or may not be
 * promises chained without waiting when they are not, and calls run under a path-lock hold.
 */
import { checkPreconditions, writeConflict } from "../backend-helpers.js";
import type { VersionOp } from "../history/history-types.js";
import type { LockHold } from "../key-lock.js";
import { isTextMimeType } from "../mime.js";
import type { MaybePromise, WriteOptions } from "../protocol.js";
import { decodeUtf8Strict } from "../text.js";
import {
  type Driver,
  type DriverFile,
  type Fault,
  FaultError,
  fault,
  isFault,
  isPromiseLike,
  type WriteCall,
} from "./driver.js";
import { faultOfThrown } from "./messages.js";

/** Runs a driver call, turning a throw (a bug, or an untranslated failure) into a fault. */
export async function guarded<T>(call: () => MaybePromise<T | Fault>): Promise<T | Fault> {
  try {
    return await call();
  } catch (error) {
    return faultOf(error);
  }
}

/** `next(value)` once `value` is there: at once for an answer, after it settles for a promise. */
export function chain<A, B>(value: MaybePromise<A>, next: (answer: A) => MaybePromise<B>): MaybePromise<B> {
  return isPromiseLike(value) ? value.then(next) : next(value);
}

/** Runs `call` holding `held` (once it is ready), and releases it, whatever happens. */
export async function runHeld<T>(held: LockHold, call: () => MaybePromise<T | Fault>): Promise<T | Fault> {
  try {
    if (held.ready) await held.ready;
    return await call();
  } catch (error) {
    return faultOf(error);
  } finally {
    held.release();
  }
}

/** The lock prefixes that cover everything below each of `keys`. */
export function prefixesOf(keys: string[]): string[] {
  return keys.map((k) => (k.endsWith("/") ? k : `${k}/`));
}

/** The fault a driver's throw stands for. */
export function faultOf(error: unknown): Fault {
  return error instanceof FaultError ? error.fault : faultOfThrown(error);
}

/** The call of a write without a signal, precondition or op (shared: drivers do not change calls). */
const PLAIN_WRITE: WriteCall = Object.freeze({});

/** Content of a stored file as readRaw shows it: text for a text MIME type when valid UTF-8, else bytes. */
export function rawContent(file: DriverFile, mimeType: string): string | Uint8Array {
  if (typeof file.content === "string" || !isTextMimeType(mimeType)) return file.content;
  return decodeUtf8Strict(file.content) ?? file.content;
}

/**
 * Stores content through `driver` as the operation `op` (default `write`), after the preconditions
 * a store without conditional writes cannot check itself (the caller holds the path's lock).
 */
export function writeChecked(
  driver: Driver,
  path: string,
  content: string | Uint8Array,
  options?: WriteOptions,
  op?: VersionOp,
): MaybePromise<{ etag: string } | Fault> {
  const signal = options?.signal;
  if (signal?.aborted) return fault("aborted");
  const conditional = options?.ifMatch !== undefined || options?.ifNoneMatch !== undefined;
  const call: WriteCall = signal || conditional || op ? { signal } : PLAIN_WRITE;
  if (options?.ifMatch !== undefined) call.ifMatch = options.ifMatch;
  if (options?.ifNoneMatch) call.ifNoneMatch = options.ifNoneMatch;
  if (op) call.op = op;
  if (conditional && !driver.capabilities.conditionalWrites) return writeAfterCheck(driver, path, content, call);
  return driver.write(path, content, call);
}

/**
 * Writes through a `driver` without conditional writes after checking the call's preconditions
 * against a stat (the caller holds the path's lock). A layer that refuses some writes calls this
 * after its own check, so that a precondition never answers for a write the layer would refuse.
 */
export async function writeAfterCheck(
  driver: Driver,
  path: string,
  content: string | Uint8Array,
  call: WriteCall,
): Promise<{ etag: string } | Fault> {
  const stat = await driver.stat(path, { signal: call.signal });
  if (isFault(stat)) return stat;
  if (stat.kind === "file" && checkPreconditions(path, stat.etag ?? "", call))
    return fault("conflict", { reason: call.ifNoneMatch === "*" ? "exists" : "changed" });
  if (stat.kind === "none" && writeConflict(path, call)) return fault("conflict", { reason: "missing" });
  return driver.write(path, content, call);
}
