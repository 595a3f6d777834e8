/**
 * Delete through the router: in the member that serves the path and in every route mounted below
 * it (their files; the mounts stay), deepest first, with `cleared` naming what a failure part way
 * had already deleted.
 */
import { isReadOnlyMount, type MountTable, mountLabel, outerPath } from "./composite-mounts.js";
import { callMember } from "./composite-paths.js";
import { type Routed, readOnlyFault } from "./composite-router.js";
import { failure } from "./errors.js";
import { type Fault, fault, isFault } from "./kit/driver.js";
import { describeFault, failureOf } from "./kit/messages.js";
import { isWithin } from "./paths.js";
import type { DeleteResult } from "./protocol.js";

/** One member's share of a delete: the member, the path it deletes, and that path as callers name it. */
interface DeletePart extends Routed {
  outer: string;
}

/**
 * The members a delete of `outer` reaches, in the order they are asked: every route mounted below
 * the target, deepest first, then the member serving the target. Children before their parent, so
 * that a parent whose storage physically holds a route's storage (a directory inside a directory)
 * is not emptied under a route that is still to be asked.
 */
function deleteParts(table: MountTable, target: Routed, outer: string): DeletePart[] {
  const parts: DeletePart[] = [];
  // `routes` is sorted longest mount point first, so a nested route comes before the one holding it.
  for (const route of table.routes) {
    if (route !== target.mount && isWithin(route.mount, outer))
      parts.push({ mount: route, inner: "/", outer: route.mount });
  }
  parts.push({ ...target, outer });
  return parts;
}

/** Why nothing may be deleted: a read-only member or one without `delete` among the parts, or null. */
function refusal(target: Routed, outer: string, parts: readonly DeletePart[]): DeleteResult | null {
  for (const part of parts) {
    if (!isReadOnlyMount(part.mount)) continue;
    if (part.mount === target.mount) return failureOf("delete", outer, readOnlyFault(target.mount));
    return failure(
      "read_only",
      `'${outer}' contains the read-only mount '${part.mount.mount}/', so it cannot be deleted; nothing was deleted`,
    );
  }
  for (const part of parts) {
    if (typeof part.mount.backend.delete === "function") continue;
    return failure(
      "unsupported",
      `'${outer}' cannot be deleted: ${mountLabel(part.mount)} does not support deletion; nothing was deleted`,
    );
  }
  return null;
}

const quoted = (paths: readonly string[]) => paths.map((p) => `'${p}'`).join(", ");

/** A member failed after others were already cleared: say what is gone and what is not. */
function partialFailure(
  outer: string,
  part: DeletePart,
  failed: Fault,
  cleared: string[],
  notDeleted: readonly string[],
): DeleteResult {
  const error =
    `Deleting '${outer}' stopped part way, at ${mountLabel(part.mount)}: ${describeFault("delete", part.outer, failed)}. ` +
    `Already deleted (this cannot be undone): ${quoted(cleared)}. Not deleted: ${quoted(notDeleted)}. ` +
    "Deleting the same path again deletes the rest.";
  return { error, code: failed.fault, cleared };
}

/** Deletes one part; a member's `filesUpdate` (deepagents' backends) comes back in caller paths. */
async function removePart(part: DeletePart) {
  const removed = await callMember(part.mount, () => part.mount.driver.remove(part.inner, {}));
  if (isFault(removed) || !removed.filesUpdate) return removed;
  const filesUpdate: Record<string, null> = {};
  for (const path of Object.keys(removed.filesUpdate)) filesUpdate[outerPath(part.mount, path)] = null;
  return { path: part.outer, filesUpdate };
}

/**
 * Deletes `target` (the caller's `outer`) through the router. Refuses with `read_only` or
 * `unsupported` before any member deletes anything; members with nothing under the target are
 * skipped; the first other failure stops the fan-out and the result's `cleared` names the parts
 * already deleted.
 */
export async function deleteThroughRouter(table: MountTable, target: Routed, outer: string): Promise<DeleteResult> {
  const parts = deleteParts(table, target, outer);
  const refused = refusal(target, outer, parts);
  if (refused) return refused;
  const cleared: string[] = [];
  let notFound = false;
  const filesUpdate: Record<string, null> = {};
  let updates: "none" | "null" | "some" = "none";
  for (const [i, part] of parts.entries()) {
    const removed = await removePart(part);
    if (isFault(removed)) {
      if (removed.fault === "file_not_found" && parts.length > 1) {
        notFound = true;
        continue;
      }
      if (cleared.length === 0) return failureOf("delete", part.outer, removed);
      return partialFailure(
        outer,
        part,
        removed,
        cleared,
        parts.slice(i).map((p) => p.outer),
      );
    }
    cleared.push(part.outer);
    // deepagents applies `filesUpdate` to its state channel, so every member's update is kept.
    if (removed.filesUpdate === null && updates === "none") updates = "null";
    if (removed.filesUpdate) {
      updates = "some";
      Object.assign(filesUpdate, removed.filesUpdate);
    }
  }
  if (cleared.length === 0 && notFound) return failureOf("delete", outer, fault("file_not_found"));
  if (updates === "some") return { path: outer, filesUpdate };
  return updates === "null" ? { path: outer, filesUpdate: null } : { path: outer };
}
