import { posix } from "node:path";
import type { FileInfo } from "@deepfs/core";
import pLimit from "p-limit";
import { CliError, failed } from "../errors.js";
import { formatBytes, type Output, writeAll } from "../output.js";
import type { Session } from "../session.js";
import { type CopyFailure, copyFiles, type TransferOptions, transferOptions, trimSlash } from "./cp.js";
import { compareTrees, pathIn } from "./trees.js";

/** Options of `deepfs sync`. */
export interface SyncOptions extends TransferOptions {
  /** Delete files of DST that SRC does not have. */
  delete?: boolean;
  /** Print the plan, change nothing. */
  dryRun?: boolean;
  /** Files of equal size count as unchanged without reading them. */
  sizeOnly?: boolean;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

async function printFailures(out: Output, failures: CopyFailure[]): Promise<void> {
  if (out.json) return;
  for (const f of failures) {
    await writeAll(out.streams.stderr, `deepfs: error[${f.code}] ${f.path}: ${f.error.replace(/\s+/g, " ")}\n`);
  }
}

/**
 * `deepfs sync SRC DST`: makes the tree DST hold what the tree SRC holds, copying only the files that
 * are missing or differ (by size, then byte for byte); with --delete, also deleting what SRC lacks.
 * An empty or missing SRC is refused (with --delete it would empty DST).
 */
export async function sync(
  session: Session,
  out: Output,
  from: string,
  to: string,
  options: SyncOptions,
): Promise<number> {
  const source = await session.target(from);
  const destination = await session.target(to);
  const started = performance.now();
  const comparison = await compareTrees(source, destination, options);
  if (comparison.source.size === 0) {
    throw new CliError("file_not_found", "nothing to sync: no files below the source directory", {
      path: source.path,
      hint: "check the source; sync copies a directory's tree (use cp for one file)",
    });
  }
  const added = comparison.onlySource;
  const updated = comparison.changed;
  const deleted = options.delete ? comparison.onlyTarget : [];
  const files = [...added, ...updated]
    .map((rel) => comparison.source.get(rel))
    .filter((file): file is FileInfo => file !== undefined);
  const bytes = files.reduce((sum, file) => sum + (file.size ?? 0), 0);
  const failures = [...comparison.failed];
  const plan = { added, updated, deleted, unchanged: comparison.unchanged.length };
  if (options.dryRun) {
    await printFailures(out, failures);
    await out.print({ dryRun: true, ...plan, bytes, failed: failures }, () => [
      ...added.map((rel) => `+ ${rel}`),
      ...updated.map((rel) => `~ ${rel}`),
      ...deleted.map((rel) => `- ${rel}`),
      `would copy ${plural(files.length, "file")} (${formatBytes(bytes)}) and delete ${deleted.length}; ` +
        `${comparison.unchanged.length} unchanged`,
    ]);
    return failures.length > 0 ? 2 : 0;
  }
  const root = trimSlash(source.path);
  const prefix = root === "/" ? "" : root;
  const report = await copyFiles(
    source,
    destination,
    files,
    (path) => pathIn(destination, path.slice(prefix.length + 1)),
    transferOptions(out, options),
  );
  failures.push(...report.failed);
  const limit = pLimit(options.concurrency);
  const removed: string[] = [];
  await Promise.all(
    deleted.map((rel) =>
      limit(async () => {
        const path = pathIn(destination, rel);
        const result = await destination.backend.delete(path);
        const failure = failed(result, path);
        if (failure) failures.push({ path, code: failure.code, error: failure.message });
        else removed.push(rel);
      }),
    ),
  );
  removed.sort();
  const seconds = (performance.now() - started) / 1000;
  await printFailures(out, failures);
  const failedPaths = new Set(report.failed.map((f) => f.path));
  // A download failure names the source path, an upload failure the destination path.
  const copied = (rel: string) => !failedPaths.has(posix.join(root, rel)) && !failedPaths.has(pathIn(destination, rel));
  await out.print(
    {
      added: added.filter(copied),
      updated: updated.filter(copied),
      deleted: removed,
      unchanged: comparison.unchanged.length,
      bytes: report.bytes,
      failed: failures,
      seconds: Number(seconds.toFixed(3)),
    },
    () => [
      `synced: ${added.length} added, ${updated.length} updated, ${removed.length} deleted, ` +
        `${comparison.unchanged.length} unchanged; copied ${formatBytes(report.bytes)} in ${seconds.toFixed(1)} s` +
        (failures.length > 0 ? `; ${failures.length} failed` : ""),
    ],
  );
  return failures.length > 0 ? 2 : 0;
}
