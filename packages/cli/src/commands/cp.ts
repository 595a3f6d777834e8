import { posix } from "node:path";
import type { BackendProtocol, FileInfo } from "@deepfs/core";
import pLimit from "p-limit";
import { CliError, check, failed } from "../errors.js";
import { formatBytes, type Output, writeAll } from "../output.js";
import { type Progress, progressBar } from "../progress.js";
import type { Session, Target } from "../session.js";
import { isDirectory } from "./files.js";

/** Options of `deepfs cp`. */
export interface CopyOptions {
  /** Files per downloadFiles/uploadFiles call. Default 64. */
  batchSize?: number;
  /** Batches in flight at once. Default 4. */
  concurrency?: number;
  /** Told of every batch copied (a progress bar on a terminal). */
  progress?: Progress;
}

/** A file that could not be copied. */
export interface CopyFailure {
  path: string;
  code: string;
  error: string;
}

/** Options of the cp and sync commands as parsed. */
export interface TransferOptions {
  batchSize: number;
  concurrency: number;
  /** False with --no-progress. */
  progress?: boolean;
}

/** The copy options of a command: its batching, and a progress bar when one is wanted. */
export function transferOptions(out: Output, options: TransferOptions): CopyOptions {
  const progress = progressBar(out, options.progress !== false);
  return { batchSize: options.batchSize, concurrency: options.concurrency, ...(progress ? { progress } : {}) };
}

/** What `cp` did. */
export interface CopyReport {
  files: number;
  bytes: number;
  failed: CopyFailure[];
}

/** Batches stay below this many bytes (by the sizes the listing gave), so memory use stays bounded. */
const BATCH_BYTES = 16 * 1024 * 1024;

export function trimSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

/** Every file below `root`, sorted by path (a glob of `**`). */
export async function filesBelow(backend: BackendProtocol, root: string): Promise<FileInfo[]> {
  const result = check(await backend.glob("**", root), root);
  if (result.truncated) {
    throw new CliError("too_large", "the listing of the source tree was truncated", {
      path: root,
      hint: "copy smaller subtrees one at a time",
    });
  }
  return (result.files ?? []).filter((file) => !file.is_dir);
}

/** Splits files into batches of at most `size` files and about BATCH_BYTES bytes. */
function batches(files: FileInfo[], size: number): FileInfo[][] {
  const out: FileInfo[][] = [];
  let current: FileInfo[] = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length > 0 && (current.length >= size || bytes + (file.size ?? 0) > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size ?? 0;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Copies the files of one batch: one downloadFiles call, then one uploadFiles call. */
async function copyBatch(
  source: Target,
  destination: Target,
  paths: Array<[from: string, to: string]>,
  report: CopyReport,
): Promise<void> {
  const downloads = await source.backend.downloadFiles(paths.map(([from]) => from));
  const uploads: Array<[string, Uint8Array]> = [];
  downloads.forEach((entry, index) => {
    const pair = paths[index];
    if (!pair) return;
    const failure = failed(entry, pair[0]);
    if (failure || entry.content === null) {
      report.failed.push({ path: pair[0], code: failure?.code ?? "file_not_found", error: failure?.message ?? "" });
      return;
    }
    uploads.push([pair[1], entry.content]);
  });
  if (uploads.length === 0) return;
  const results = await destination.backend.uploadFiles(uploads);
  results.forEach((entry, index) => {
    const upload = uploads[index];
    if (!upload) return;
    const failure = failed(entry, upload[0]);
    if (failure) report.failed.push({ path: upload[0], code: failure.code, error: failure.message });
    else {
      report.files += 1;
      report.bytes += upload[1].byteLength;
    }
  });
}

/**
 * Copies a file or a whole tree between two backends, byte for byte, in batches of downloadFiles
 * and uploadFiles calls with a few batches in flight.
 *
 * - A file to a path ending in `/` or naming an existing directory lands in that directory under
 *   its own name; to any other path, it becomes that file.
 * - A directory (a path ending in `/`, or one with files below it) copies its contents into the
 *   destination directory: `cp ./src s3://b/app/src` makes `/app/src/a.ts` of `./src/a.ts`.
 */
export async function copy(source: Target, destination: Target, options: CopyOptions = {}): Promise<CopyReport> {
  if (!source.path.endsWith("/")) {
    const [entry] = await source.backend.downloadFiles([source.path]);
    if (entry && !entry.error && entry.content) {
      let to = destination.path;
      if (await isDirectory(destination.backend, to)) to = posix.join(trimSlash(to), posix.basename(source.path));
      const [uploaded] = await destination.backend.uploadFiles([[to, entry.content]]);
      const failure = uploaded ? failed(uploaded, to) : undefined;
      if (failure) throw failure;
      return { files: 1, bytes: entry.content.byteLength, failed: [] };
    }
    const failure = entry ? failed(entry, source.path) : undefined;
    if (failure && failure.code !== "is_directory" && failure.code !== "file_not_found") throw failure;
  }
  const root = trimSlash(source.path);
  const files = await filesBelow(source.backend, root);
  if (files.length === 0 && !source.path.endsWith("/")) {
    throw new CliError("file_not_found", "no such file or directory", { path: source.path });
  }
  const target = trimSlash(destination.path);
  const prefix = root === "/" ? "" : root;
  return copyFiles(source, destination, files, (path) => posix.join(target, path.slice(prefix.length)), options);
}

/**
 * Copies `files` of the source (paths and sizes from a listing) to `to(path)` of the destination,
 * in batches of one downloadFiles and one uploadFiles call, a few batches in flight.
 */
export async function copyFiles(
  source: Target,
  destination: Target,
  files: FileInfo[],
  to: (path: string) => string,
  options: CopyOptions = {},
): Promise<CopyReport> {
  const report: CopyReport = { files: 0, bytes: 0, failed: [] };
  const limit = pLimit(options.concurrency ?? 4);
  const progress = files.length > 0 ? options.progress : undefined;
  progress?.start(
    files.length,
    files.reduce((sum, file) => sum + (file.size ?? 0), 0),
  );
  try {
    await Promise.all(
      batches(files, options.batchSize ?? 64).map((batch) =>
        limit(async () => {
          await copyBatch(
            source,
            destination,
            batch.map((file): [string, string] => [file.path, to(file.path)]),
            report,
          );
          progress?.update(report.files + report.failed.length, report.bytes);
        }),
      ),
    );
  } finally {
    progress?.stop();
  }
  report.failed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return report;
}

/** `deepfs cp SRC DST`: prints what was copied; exit status 2 when any file failed. */
export async function cp(
  session: Session,
  out: Output,
  from: string,
  to: string,
  options: TransferOptions,
): Promise<number> {
  const source = await session.target(from);
  const destination = await session.target(to);
  const started = performance.now();
  const report = await copy(source, destination, transferOptions(out, options));
  const seconds = (performance.now() - started) / 1000;
  if (!out.json) {
    for (const f of report.failed) {
      await writeAll(out.streams.stderr, `deepfs: error[${f.code}] ${f.path}: ${f.error.replace(/\s+/g, " ")}\n`);
    }
  }
  await out.print({ ...report, seconds: Number(seconds.toFixed(3)) }, () => [
    `copied ${report.files} file${report.files === 1 ? "" : "s"} (${formatBytes(report.bytes)}) in ${seconds.toFixed(1)} s` +
      (report.failed.length > 0 ? `; ${report.failed.length} failed` : ""),
  ]);
  return report.failed.length > 0 ? 2 : 0;
}
