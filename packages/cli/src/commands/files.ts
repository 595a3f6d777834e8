import { posix } from "node:path";
import type { BackendProtocol, FileInfo } from "@deepfs/core";
import { CliError, check, failed } from "../errors.js";
import { formatBytes, type Output, readAll } from "../output.js";
import type { Session } from "../session.js";

/** `deepfs ls URL/path`: the direct children of a directory. */
export async function ls(session: Session, out: Output, operand: string, options: { long?: boolean }): Promise<number> {
  const { backend, path } = await session.target(operand);
  const result = check(await backend.ls(path), path);
  const files = result.files ?? [];
  await out.print({ path, files }, () => files.map((file) => (options.long ? longLine(file) : file.path)));
  return 0;
}

function longLine(file: FileInfo): string {
  const size = file.is_dir ? "-" : formatBytes(file.size ?? 0);
  return `${size.padStart(10)}  ${(file.modified_at || "-").padEnd(24)}  ${file.path}`;
}

/** `deepfs cat URL/path...`: the exact bytes of each file, one after another. */
export async function cat(session: Session, out: Output, operands: string[]): Promise<number> {
  const files: Array<{ path: string; size: number; base64: string }> = [];
  for (const operand of operands) {
    const { backend, path } = await session.target(operand);
    const [entry] = await backend.downloadFiles([path]);
    if (!entry) throw new CliError("backend_unavailable", "the backend answered no entry", { path });
    const failure = failed(entry, path);
    if (failure) throw failure;
    const content = entry.content ?? new Uint8Array();
    if (out.json) files.push({ path, size: content.byteLength, base64: Buffer.from(content).toString("base64") });
    else await out.bytes(content);
  }
  if (out.json) await out.document({ files });
  return 0;
}

/** `deepfs put URL/path < file`: stdin, byte for byte, into a file (created or replaced). */
export async function put(session: Session, out: Output, operand: string): Promise<number> {
  const { backend, path } = await session.target(operand);
  if (path.endsWith("/")) throw new CliError("is_directory", "put needs a file path, not a directory", { path });
  const content = await readAll(out.streams.stdin);
  const [entry] = await backend.uploadFiles([[path, content]]);
  if (!entry) throw new CliError("backend_unavailable", "the backend answered no entry", { path });
  const failure = failed(entry, path);
  if (failure) throw failure;
  await out.print({ path: entry.path, size: content.byteLength }, () => [
    `wrote ${entry.path} (${formatBytes(content.byteLength)})`,
  ]);
  return 0;
}

/** True when `path` names a directory, found from its parent's listing (a missing path is not one). */
export async function isDirectory(backend: BackendProtocol, path: string): Promise<boolean> {
  if (path.endsWith("/")) return true;
  const parent = posix.dirname(path);
  if (parent === path) return true;
  const listing = await backend.ls(parent);
  return (listing.files ?? []).some((file) => file.is_dir && file.path.replace(/\/$/, "") === path);
}

/** `deepfs rm [-r] URL/path...`: deletes files; a directory (with everything below it) only with -r. */
export async function rm(
  session: Session,
  out: Output,
  operands: string[],
  options: { recursive?: boolean },
): Promise<number> {
  const deleted: string[] = [];
  for (const operand of operands) {
    const { backend, path } = await session.target(operand);
    if (!options.recursive && (await isDirectory(backend, path))) {
      throw new CliError("is_directory", "is a directory; rm deletes a directory and all below it only with -r", {
        path,
        hint: "pass -r (--recursive) to delete the whole tree",
      });
    }
    const result = check(await backend.delete(path.length > 1 ? path.replace(/\/$/, "") : path), path);
    deleted.push(result.path ?? path);
  }
  await out.print({ deleted }, () => deleted.map((path) => `deleted ${path}`));
  return 0;
}

/** `deepfs glob PATTERN [URL/path]`: files matching a glob pattern below a directory. */
export async function glob(session: Session, out: Output, pattern: string, operand: string): Promise<number> {
  const { backend, path } = await session.target(operand);
  const result = check(await backend.glob(pattern, path), path);
  const files = result.files ?? [];
  await out.print({ path, pattern, files, truncated: result.truncated === true }, () => files.map((f) => f.path));
  return 0;
}
