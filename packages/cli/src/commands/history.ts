import {
  type BackendProtocol,
  type ErrorFields,
  type FileVersion,
  fileDataToBytes,
  type HistoryProtocol,
  type SnapshotChange,
} from "@deepfs/core";
import { CliError } from "../errors.js";
import { formatBytes, type Output } from "../output.js";
import type { Session, Target } from "../session.js";

/** What to try when a backend keeps no history (the core's sentence says why). */
const NO_HISTORY_HINT =
  "history is off or this backend has none: open memory:?history=1, file:///dir?history=1, or a config whose routes all keep history";

const HISTORY_METHODS = ["history", "readVersion", "restore", "snapshot", "changesSince", "restoreSnapshot"] as const;

/** The backend's history methods, or `unsupported` when it has none at all. */
function historyOf(target: Target, path: string): HistoryProtocol {
  const backend = target.backend as BackendProtocol & Partial<HistoryProtocol>;
  if (HISTORY_METHODS.some((name) => typeof backend[name] !== "function")) {
    throw new CliError("unsupported", `${target.label} has no version history`, { path, hint: NO_HISTORY_HINT });
  }
  return backend as HistoryProtocol;
}

/** Throws a history result's failure, with the history hint for `unsupported`. */
function checked<T extends ErrorFields>(result: T, path: string): T {
  if (!result.error) return result;
  const code = result.code ?? "backend_unavailable";
  const hint = code === "unsupported" ? NO_HISTORY_HINT : undefined;
  throw new CliError(code, result.error, hint === undefined ? { path } : { path, hint });
}

function versionLine(v: FileVersion): string {
  const size = v.op === "delete" ? "-" : formatBytes(v.size);
  return `${v.version.padEnd(10)}  ${v.op.padEnd(7)}  ${size.padStart(10)}  ${v.modified_at}`;
}

/** `deepfs log URL/path`: the versions of a file, newest first. */
export async function log(
  session: Session,
  out: Output,
  operand: string,
  options: { limit?: number },
): Promise<number> {
  const target = await session.target(operand);
  const { path } = target;
  const result = checked(
    await historyOf(target, path).history(path, options.limit === undefined ? {} : { limit: options.limit }),
    path,
  );
  const versions = result.versions ?? [];
  await out.print({ path, versions }, () => versions.map(versionLine));
  return 0;
}

/** Splits `URL/path@VERSION` at its last `@` (a version id holds none). */
export function splitVersion(operand: string): { location: string; version: string } {
  const at = operand.lastIndexOf("@");
  const version = at === -1 ? "" : operand.slice(at + 1);
  if (at <= 0 || version === "" || version.includes("/")) {
    throw new CliError("invalid_argument", "name a version as PATH@VERSION (versions are listed by 'deepfs log')", {
      path: operand,
      hint: "e.g. deepfs show 'memory:/notes.md@v3', or pass the version as a second argument",
    });
  }
  return { location: operand.slice(0, at), version };
}

/** `deepfs show URL/path@VERSION` (or `URL/path VERSION`): the exact bytes of one version. */
export async function show(
  session: Session,
  out: Output,
  operand: string,
  versionArgument: string | undefined,
): Promise<number> {
  const { location, version } =
    versionArgument === undefined ? splitVersion(operand) : { location: operand, version: versionArgument };
  const target = await session.target(location);
  const { path } = target;
  const result = checked(await historyOf(target, path).readVersion(path, version), path);
  const bytes = result.data ? fileDataToBytes(result.data) : new Uint8Array();
  if (out.json) {
    await out.document({
      path,
      version,
      ...(result.etag === undefined ? {} : { etag: result.etag }),
      size: bytes.byteLength,
      base64: Buffer.from(bytes).toString("base64"),
    });
  } else await out.bytes(bytes);
  return 0;
}

/** `deepfs restore URL/path VERSION`: writes that version's content back as a new version. */
export async function restore(
  session: Session,
  out: Output,
  operand: string,
  version: string,
  options: { ifMatch?: string },
): Promise<number> {
  const target = await session.target(operand);
  const { path } = target;
  const history = historyOf(target, path);
  const result = checked(
    await history.restore(path, version, options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch }),
    path,
  );
  // The new version's id, when the newest version is still the restore just made.
  const newest = (await history.history(path, { limit: 1 })).versions?.[0];
  const made = newest && newest.op === "restore" && newest.etag === result.etag ? newest.version : undefined;
  const document = {
    path: result.path ?? path,
    restored: version,
    ...(result.etag === undefined ? {} : { etag: result.etag }),
    ...(made === undefined ? {} : { version: made }),
  };
  await out.print(document, () => [
    `restored ${document.path} to ${version}${made ? `: new version ${made}` : ""}${result.etag ? `, etag ${result.etag}` : ""}`,
  ]);
  return 0;
}

/** Snapshots are of the whole backend: the location must be its root. */
async function wholeStore(session: Session, operand: string): Promise<{ target: Target; history: HistoryProtocol }> {
  const target = await session.target(operand);
  if (target.path !== "/") {
    throw new CliError("invalid_argument", "snapshots are of a whole backend, not of a path inside it", {
      path: target.path,
      hint: "name the backend's root: memory:, URL#/, or / with --config",
    });
  }
  return { target, history: historyOf(target, target.path) };
}

/** `deepfs snapshot URL`: an id of the whole store as of now. */
export async function snapshot(session: Session, out: Output, operand: string): Promise<number> {
  const { target, history } = await wholeStore(session, operand);
  const result = checked(await history.snapshot(), target.path);
  const id = result.snapshot ?? "";
  await out.print({ snapshot: id }, () => [id]);
  return 0;
}

const MARK: Record<SnapshotChange["change"], string> = { added: "A", modified: "M", deleted: "D" };
/** What a restore does to each change, in sync's notation: `-` deletes, `~` rewrites, `+` brings back. */
const UNDO: Record<SnapshotChange["change"], string> = { added: "-", modified: "~", deleted: "+" };

/**
 * `deepfs changes URL SNAPSHOT`: the files added, modified or deleted since the snapshot; with
 * `--restore` puts them back as they were (`-` deleted, `~` rewritten, `+` brought back;
 * `--dry-run`: says what it would do).
 */
export async function changes(
  session: Session,
  out: Output,
  operand: string,
  id: string,
  options: { restore?: boolean; dryRun?: boolean },
): Promise<number> {
  if (options.dryRun && !options.restore) {
    throw new CliError("invalid_argument", "--dry-run goes with --restore", { hint: "changes alone changes nothing" });
  }
  const { target, history } = await wholeStore(session, operand);
  const lines = (list: SnapshotChange[], marks = MARK) => list.map((c) => `${marks[c.change]} ${c.path}`);
  if (!options.restore) {
    const result = checked(await history.changesSince(id), target.path);
    const list = result.changes ?? [];
    await out.print({ snapshot: id, changes: list }, () => lines(list));
    return 0;
  }
  const dryRun = options.dryRun === true;
  const result = await history.restoreSnapshot(id, { dryRun });
  const list = result.changes ?? [];
  if (result.error && list.length === 0 && !result.failed?.length) checked(result, target.path);
  const failedFiles = result.failed ?? [];
  await out.print({ snapshot: id, dryRun, restored: list, failed: failedFiles }, () => [
    ...lines(list, UNDO),
    ...failedFiles.map((f) => `! ${f.path}: ${f.code}`),
    `${dryRun ? "would restore" : "restored"} ${list.length} file${list.length === 1 ? "" : "s"} to snapshot ${id}` +
      (failedFiles.length > 0 ? `; ${failedFiles.length} failed` : ""),
  ]);
  return failedFiles.length > 0 ? 2 : 0;
}
