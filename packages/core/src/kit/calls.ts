/**
 * How the facade calls a driver: throws turned into faults, answers that may or may not be
 * promises chained without waiting when they are not, and calls run under a path-lock hold.
 */
import type { LockHold } from "../key-lock.js";
import type { MaybePromise } from "../protocol.js";
import { type Fault, FaultError, isPromiseLike } from "./driver.js";
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
