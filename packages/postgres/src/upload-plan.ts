import { comparePaths } from "@deepfs/core";
import { type Fault, fault } from "@deepfs/core/kit";
import { ancestorsOf } from "./path-range.js";
import type { StoredContent } from "./stored-content.js";

/** Files per multi-row INSERT: 7 parameters each, far below the 65,535 of one statement. */
const CHUNK_FILES = 200;
/** Content bytes per INSERT, so that a chunk of large files does not become one huge message. */
const CHUNK_BYTES = 32 * 1024 * 1024;

/** One valid upload: its position in the caller's list, its normalised path and its columns. */
export interface UploadEntry {
  index: number;
  path: string;
  stored: StoredContent;
}

/** What the table holds around a chunk's paths, read while the chunk's locks are held. */
export interface TreeState {
  /** Chunk paths that are (implicit) directories: some file lies below them. */
  directories: ReadonlySet<string>;
  /** Ancestors of chunk paths that are files. */
  files: ReadonlySet<string>;
}

/** What to do with a chunk: the rows to upsert (one per path), and a fault or null per entry. */
export interface ChunkPlan {
  rows: UploadEntry[];
  outcomes: Map<number, Fault | null>;
}

/** Splits uploads, in input order, into chunks of at most {@link CHUNK_FILES} files and about {@link CHUNK_BYTES}. */
export function chunkUploads(entries: UploadEntry[]): UploadEntry[][] {
  const chunks: UploadEntry[][] = [];
  let current: UploadEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length > 0 && (current.length >= CHUNK_FILES || bytes + entry.stored.size > CHUNK_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.stored.size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** One advisory lock a chunk takes. */
export interface ChunkLock {
  path: string;
  exclusive: boolean;
}

/**
 * The advisory locks of a chunk: exclusive on each path, shared on each ancestor that is not itself
 * a path of the chunk. They are in path order, the order single writes take theirs too (ancestors,
 * then the path), so that no two writers ever wait for each other in a cycle.
 */
export function chunkLocks(chunk: UploadEntry[]): ChunkLock[] {
  const paths = new Set(chunk.map((entry) => entry.path));
  const locks = new Map<string, boolean>();
  for (const path of paths) {
    locks.set(path, true);
    for (const dir of ancestorsOf(path)) if (!paths.has(dir)) locks.set(dir, false);
  }
  return [...locks.entries()]
    .map(([path, exclusive]) => ({ path, exclusive }))
    .sort((a, b) => comparePaths(a.path, b.path));
}

/** Every ancestor of a chunk's paths: the candidates for a file in the way. */
export function chunkAncestors(chunk: UploadEntry[]): string[] {
  return [...new Set(chunk.flatMap((entry) => ancestorsOf(entry.path)))];
}

/**
 * Decides a chunk exactly as writing its entries one after another would: an entry fails when the
 * table or an earlier accepted entry of the chunk makes its path a directory (`is_directory`) or
 * puts a file above it (`not_a_directory`); a path given twice ends with its last content.
 */
export function planChunk(chunk: UploadEntry[], state: TreeState): ChunkPlan {
  const outcomes = new Map<number, Fault | null>();
  const accepted = new Map<string, UploadEntry>();
  for (const entry of chunk) {
    const { path } = entry;
    const ancestors = ancestorsOf(path);
    const fileAbove = ancestors.find((dir) => state.files.has(dir) || accepted.has(dir));
    if (state.directories.has(path) || acceptedBelow(accepted, path)) {
      outcomes.set(entry.index, fault("is_directory"));
    } else if (fileAbove !== undefined) {
      outcomes.set(entry.index, fault("not_a_directory", { path: fileAbove, reason: "file_in_way" }));
    } else {
      accepted.set(path, entry);
      outcomes.set(entry.index, null);
    }
  }
  return { rows: [...accepted.values()], outcomes };
}

/** True when an accepted path lies below `dir`. */
function acceptedBelow(accepted: Map<string, UploadEntry>, dir: string): boolean {
  const prefix = `${dir}/`;
  for (const path of accepted.keys()) if (path.startsWith(prefix)) return true;
  return false;
}
