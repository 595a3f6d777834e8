/**
 * Path rewriting between the router and its members, on structured results: a member answers in
 * its own paths, and every path in an entry, a match or a fault is given back with the mount's
 * prefix re-added. Sentences are written later, once, by the facade, with the caller's path.
 */
import { type Mount, outerPath } from "./composite-mounts.js";
import { type DriverEntry, type Fault, FaultError, fault, isFault } from "./kit/driver.js";
import type { GrepMatch, MaybePromise } from "./protocol.js";

/** A member's fault in caller paths (`path` is the file in the way, say). */
export function outerFault(m: Mount, f: Fault): Fault {
  return f.path === undefined ? f : { ...f, path: outerPath(m, f.path) };
}

/** A member's listing entry in caller paths. */
export function outerEntry(m: Mount, entry: DriverEntry): DriverEntry {
  return { ...entry, path: outerPath(m, entry.path) };
}

/** A member's grep match in caller paths. */
export function outerMatch(m: Mount, match: GrepMatch): GrepMatch {
  return { ...match, path: outerPath(m, match.path) };
}

/**
 * A member that threw or rejected: a broken contract (failures are returned), reported without
 * the thrown message, which may hold secrets or file contents.
 */
export function memberFailed(m: Mount): Fault {
  return fault("backend_unavailable", { detail: `the backend mounted at '${m.mount}' failed` });
}

/**
 * Calls into a member: a fault it answers (or throws out of an iterable) comes back in caller
 * paths, and any other throw becomes {@link memberFailed}.
 */
export async function callMember<T>(m: Mount, call: () => MaybePromise<T | Fault>): Promise<T | Fault> {
  try {
    const answer = await call();
    return isFault(answer) ? outerFault(m, answer) : answer;
  } catch (error) {
    return error instanceof FaultError ? outerFault(m, error.fault) : memberFailed(m);
  }
}
