/**
 * {@link diffVersions}: what changed in a file between two of its versions (or a version and now),
 * as a unified diff, for people and agents reviewing an agent's work; and {@link hasHistoryMethods}.
 */
import { diffContents } from "../diff.js";
import { fileDataToBytes } from "../file-data.js";
import type { BackendProtocol, ErrorFields, ReadRawResult } from "../protocol.js";
import type { HistoryProtocol } from "./history-types.js";

const METHODS = ["history", "readVersion", "restore", "snapshot", "changesSince", "restoreSnapshot"] as const;

/** True when `backend` has the history methods (whether it keeps history now is another matter). */
export function hasHistoryMethods(backend: BackendProtocol): backend is BackendProtocol & HistoryProtocol {
  const methods = backend as unknown as Partial<HistoryProtocol>;
  return METHODS.every((name) => typeof methods[name] === "function");
}

/** The answer of {@link diffVersions}. */
export interface DiffVersionsResult extends ErrorFields {
  /** A unified diff (`""`: no difference; `binary, N → M bytes` for binary content). */
  diff?: string;
}

/**
 * A unified diff of `path` from version `from` to version `to`, or to the file as it is now when
 * `to` is absent. A delete's version (a tombstone), and a file that does not exist now, count as
 * an absent side (`/dev/null`), so the diff of a deleted file shows every line removed.
 */
export async function diffVersions(
  backend: BackendProtocol & HistoryProtocol,
  path: string,
  from: string,
  to?: string,
): Promise<DiffVersionsResult> {
  const before = await sideOf(backend, path, from);
  if (!("content" in before)) return failure(before);
  const after = await sideOf(backend, path, to);
  if (!("content" in after)) return failure(after);
  return { diff: diffContents(path, before.content, after.content) };
}

function failure(fields: ErrorFields): DiffVersionsResult {
  return { error: fields.error ?? "Cannot read that version", code: fields.code ?? "invalid_argument" };
}

/** One side of a diff: a version's content, or the file now (null when absent). */
async function sideOf(
  backend: BackendProtocol & HistoryProtocol,
  path: string,
  version: string | undefined,
): Promise<{ content: Uint8Array | null } | ErrorFields> {
  if (version === undefined) {
    const now = await backend.readRaw(path);
    if (now.error) return now.code === "file_not_found" ? { content: null } : now;
    return { content: bytesOf(now) };
  }
  const got = await backend.readVersion(path, version);
  if (!got.error) return { content: bytesOf(got) };
  if (got.code !== "file_not_found") return got;
  // A tombstone has no content: the file did not exist as of that version.
  const listed = await backend.history(path);
  return (listed.versions ?? []).some((v) => v.version === version && v.op === "delete") ? { content: null } : got;
}

function bytesOf(result: ReadRawResult): Uint8Array {
  return result.data ? fileDataToBytes(result.data) : new Uint8Array();
}
