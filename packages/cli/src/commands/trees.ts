import { posix } from "node:path";
import type { FileInfo } from "@deepfs/core";
import pLimit from "p-limit";
import { failed } from "../errors.js";
import type { Target } from "../session.js";
import { type CopyFailure, filesBelow, trimSlash } from "./cp.js";

/** The files of a tree by path relative to its root (`src/a.ts`). */
export type Tree = Map<string, FileInfo>;

/** How two trees differ, by relative path, each list sorted. */
export interface TreeComparison {
  /** Only in the source. */
  onlySource: string[];
  /** Only in the target. */
  onlyTarget: string[];
  /** In both, with different bytes. */
  changed: string[];
  /** In both, with the same bytes (the same size with `sizeOnly`). */
  unchanged: string[];
  /** Files that could not be read for the comparison. */
  failed: CopyFailure[];
  source: Tree;
  target: Tree;
}

/** Options of {@link compareTrees}. */
export interface CompareOptions {
  /** Files per downloadFiles call. Default 64. */
  batchSize?: number;
  /** Batches in flight at once. Default 4. */
  concurrency?: number;
  /** Files of equal size count as unchanged without reading them. */
  sizeOnly?: boolean;
}

/** Every file below a target's path, keyed by its path relative to that root. */
export async function listTree(target: Target): Promise<Tree> {
  const root = trimSlash(target.path);
  const prefix = root === "/" ? "" : root;
  const files = await filesBelow(target.backend, root);
  return new Map(files.map((file) => [file.path.slice(prefix.length + 1), file]));
}

/** The absolute path of `rel` below a target's root. */
export function pathIn(target: Target, rel: string): string {
  return posix.join(trimSlash(target.path), rel);
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two trees file by file. Sizes from the listings settle most files (a different size is a
 * change); files of equal size are downloaded from both sides in batches and compared byte for byte,
 * because etags are not comparable across stores (an S3 ETag, a PostgreSQL version, a local mtime).
 */
export async function compareTrees(
  source: Target,
  target: Target,
  options: CompareOptions = {},
): Promise<TreeComparison> {
  const [sourceTree, targetTree] = await Promise.all([listTree(source), listTree(target)]);
  const result: TreeComparison = {
    onlySource: [],
    onlyTarget: [...targetTree.keys()].filter((rel) => !sourceTree.has(rel)),
    changed: [],
    unchanged: [],
    failed: [],
    source: sourceTree,
    target: targetTree,
  };
  const sameSize: string[] = [];
  for (const [rel, file] of sourceTree) {
    const other = targetTree.get(rel);
    if (!other) result.onlySource.push(rel);
    else if ((other.size ?? 0) !== (file.size ?? 0)) result.changed.push(rel);
    else if (options.sizeOnly) result.unchanged.push(rel);
    else sameSize.push(rel);
  }
  const size = options.batchSize ?? 64;
  const limit = pLimit(options.concurrency ?? 4);
  const groups: string[][] = [];
  for (let i = 0; i < sameSize.length; i += size) groups.push(sameSize.slice(i, i + size));
  await Promise.all(
    groups.map((group) =>
      limit(async () => {
        const [left, right] = await Promise.all([
          source.backend.downloadFiles(group.map((rel) => pathIn(source, rel))),
          target.backend.downloadFiles(group.map((rel) => pathIn(target, rel))),
        ]);
        group.forEach((rel, index) => {
          const a = left[index];
          const b = right[index];
          const failure = (a && failed(a, a.path)) ?? (b && failed(b, b.path));
          if (failure || !a?.content || !b?.content) {
            result.failed.push({
              path: failure?.path ?? rel,
              code: failure?.code ?? "backend_unavailable",
              error: failure?.message ?? "no content",
            });
          } else if (Buffer.from(a.content).equals(b.content)) result.unchanged.push(rel);
          else result.changed.push(rel);
        });
      }),
    ),
  );
  for (const list of [result.onlySource, result.onlyTarget, result.changed, result.unchanged]) list.sort(byPath);
  result.failed.sort((a, b) => byPath(a.path, b.path));
  return result;
}
