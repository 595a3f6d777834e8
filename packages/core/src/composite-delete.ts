import {
  callMember,
  type Failure,
  isReadOnlyMount,
  type MemberFailure,
  type Mount,
  mountLabel,
  outerFailure,
  outerPath,
  outerResult,
  readOnlyFailure,
  type Target,
} from "./composite-mounts.js";
import { failure, isFailure } from "./errors.js";
import { isWithin } from "./paths.js";
import type { DeleteResult, ErrorFields } from "./protocol.js";

/** One member's share of a delete: the member, the path it deletes, and that path as callers name it. */
interface DeletePart {
  mount: Mount;
  inner: string;
  outer: string;
}

/**
 * The members a delete of `target` reaches, in the order they are asked: every route mounted below
 * the target, deepest first, then the member serving the target. Children before their parent, so
 * that a parent whose storage physically holds a route's storage (a directory inside a directory)
 * is not emptied under a route that is still to be asked.
 */
function deleteParts(target: Target, routes: readonly Mount[]): DeletePart[] {
  const parts: DeletePart[] = [];
  // `routes` is sorted longest mount point first, so a nested route comes before the one holding it.
  for (const route of routes) {
    if (route !== target.mount && isWithin(route.mount, target.outer)) {
      parts.push({ mount: route, inner: "/", outer: route.mount });
    }
  }
  parts.push({ mount: target.mount, inner: target.inner, outer: target.outer });
  return parts;
}

/**
 * Foreign (deepagents) backends answer without a `code`; for them this is the test deepagents'
 * own router applies, so that a member with nothing under the target does not stop the delete.
 */
function isNotFound(result: ErrorFields): boolean {
  return result.code === "file_not_found" || (result.code === undefined && /not found/i.test(result.error ?? ""));
}

/** Why nothing may be deleted: a read-only member or one without `delete` among the parts, or null. */
function refusal(target: Target, parts: readonly DeletePart[]): Failure | null {
  for (const part of parts) {
    if (!isReadOnlyMount(part.mount)) continue;
    if (part.mount === target.mount) return readOnlyFailure(target);
    return failure(
      "read_only",
      `'${target.outer}' contains the read-only mount '${part.mount.mount}/', so it cannot be deleted; nothing was deleted`,
    );
  }
  for (const part of parts) {
    if (typeof part.mount.backend.delete === "function") continue;
    return failure(
      "unsupported",
      `'${target.outer}' cannot be deleted: ${mountLabel(part.mount)} does not support deletion; nothing was deleted`,
    );
  }
  return null;
}

const quoted = (paths: readonly string[]) => paths.map((p) => `'${p}'`).join(", ");

/** A member failed after others were already cleared: say what is gone and what is not. */
function partialFailure(
  target: Target,
  at: Mount,
  failed: MemberFailure,
  cleared: string[],
  notDeleted: readonly string[],
): DeleteResult {
  const error =
    `Deleting '${target.outer}' stopped part way, at ${mountLabel(at)}: ${failed.error.replace(/\.$/, "")}. ` +
    `Already deleted (this cannot be undone): ${quoted(cleared)}. Not deleted: ${quoted(notDeleted)}. ` +
    "Deleting the same path again deletes the rest.";
  return failed.code === undefined ? { error, cleared } : { error, code: failed.code, cleared };
}

/**
 * Deletes `target` through the router: in the member that serves it and in every route mounted
 * below it (their files; the mounts stay). Refuses with `read_only` or `unsupported` before any
 * member deletes anything; members with nothing under the target are skipped; the first other
 * failure stops the fan-out and the result's `cleared` names the parts already deleted.
 */
export async function deleteThroughRouter(target: Target, routes: readonly Mount[]): Promise<DeleteResult> {
  const parts = deleteParts(target, routes);
  const refused = refusal(target, parts);
  if (refused) return refused;
  if (parts.length === 1) {
    return callMember(target.mount, target.outer, async () =>
      outerResult(target.mount, target.inner, await target.mount.backend.delete(target.inner)),
    );
  }
  const cleared: string[] = [];
  let notFound: MemberFailure | undefined;
  const filesUpdate: Record<string, null> = {};
  let updates: "none" | "null" | "some" = "none";
  for (const [i, part] of parts.entries()) {
    const result = await callMember(part.mount, part.outer, () => part.mount.backend.delete(part.inner));
    if (isFailure(result)) {
      const failed = outerFailure(part.mount, part.inner, result);
      if (isNotFound(result)) {
        notFound = failed;
        continue;
      }
      if (cleared.length === 0) return failed;
      return partialFailure(
        target,
        part.mount,
        failed,
        cleared,
        parts.slice(i).map((p) => p.outer),
      );
    }
    cleared.push(part.outer);
    // deepagents applies `filesUpdate` to its state channel, so every member's update is kept.
    if (result.filesUpdate === null && updates === "none") updates = "null";
    if (result.filesUpdate) {
      updates = "some";
      for (const path of Object.keys(result.filesUpdate)) filesUpdate[outerPath(part.mount, path)] = null;
    }
  }
  if (cleared.length === 0) return notFound ?? failure("file_not_found", `'${target.outer}' not found`);
  if (updates === "some") return { path: target.outer, filesUpdate };
  return updates === "null" ? { path: target.outer, filesUpdate: null } : { path: target.outer };
}
