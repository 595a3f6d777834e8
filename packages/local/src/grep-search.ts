import { comparePaths, type GrepMatch, type GrepQuery, getMimeType, isTextMimeType } from "@deepfs/core";
import { type Fault, fault } from "@deepfs/core/kit";
import { GrepBudget } from "./grep-budget.js";
import { grepWorkers } from "./grep-pool.js";
import { GrepFileScanner, type ScanResult } from "./grep-scan.js";
import { BATCH_FILES, batchJob, batchMatches, grepWhileFinding, scanJob, WORKERS_FROM } from "./grep-stream.js";
import type { BatchScan } from "./grep-worker.js";
import type { HostRoot } from "./host-root.js";
import type { IoMode } from "./io-mode.js";
import type { GrepEngine } from "./options.js";
import { ripgrepAvailable, ripgrepCandidates } from "./ripgrep.js";
import { type WalkedFile, type WalkOptions, walkFiles } from "./walk.js";

/** Files read ahead of the one being searched: bounded parallel reads, results consumed in path order. */
const READ_AHEAD = 32;
/** Worker messages in flight per worker. */
const BATCHES_PER_WORKER = 2;

/**
 * How grep finds the files below a directory that may hold the pattern: ripgrep (a superset: it
 * matches bytes, the caller re-checks every file), or a walk of every file.
 */
export class GrepEngines {
  private ripgrepCheck: Promise<boolean> | undefined;

  constructor(
    private readonly engine: GrepEngine,
    private readonly ripgrepPath: string,
  ) {}

  /** Candidate files below the host directory `host` (virtual path `path`). */
  async candidates(
    pattern: string,
    host: string,
    path: string,
    maxBytes: number,
    walk: WalkOptions,
  ): Promise<WalkedFile[] | Fault> {
    const useRipgrep = await this.useRipgrep();
    if (typeof useRipgrep !== "boolean") return useRipgrep;
    if (!useRipgrep) return walkFiles(host, path, walk);
    // ripgrep does not follow symlinks (following would descend into linked directories): the links
    // to regular files come from a walk that runs beside it.
    const links = walkFiles(host, path, { ...walk, linksOnly: true });
    try {
      const [found, linked] = await Promise.all([
        ripgrepCandidates(this.ripgrepPath, pattern, host, path, maxBytes),
        links,
      ]);
      return found.concat(linked);
    } catch {
      // ripgrep failed to run: the built-in search gives the same answer.
      await links.catch(() => undefined);
      return walkFiles(host, path, walk);
    }
  }

  /**
   * The whole grep of the host directory `host` (virtual path `path`) when every match is wanted:
   * the files are searched as they are found ({@link grepWhileFinding}), from a walk or from
   * ripgrep (and a walk for the links). Null when that does not apply (`maxCount`, threadpool-only
   * I/O, an empty pattern or one with a lone surrogate, no workers, ripgrep failed): then
   * {@link candidates} and {@link grepCandidates} answer.
   */
  async whole(
    query: GrepQuery,
    host: string,
    path: string,
    maxBytes: number,
    walk: WalkOptions,
    root: HostRoot,
    io: IoMode,
  ): Promise<{ matches: GrepMatch[] } | Fault | null> {
    const { pattern } = query;
    if (query.maxCount !== Number.POSITIVE_INFINITY || io.syncMaxBytes === 0) return null;
    if (pattern.length === 0) return null;
    const workers = grepWorkers();
    if (!workers) return null;
    // With the workers, walking and reading every file beats ripgrep's list of files that the
    // workers then read again (measured on a 40,000-file tree: equal for a rare word, 0.84x for
    // `return`), so `auto` takes the walk; ripgrep still serves `maxCount` searches (its list
    // spares the reads of files without the needle) and every search where no worker can run.
    const useRipgrep = this.engine === "auto" ? false : await this.useRipgrep();
    if (typeof useRipgrep !== "boolean") return useRipgrep;
    // Both stop when the answer passes its bounds (`signal`): ripgrep is killed, the walk ends.
    const find = useRipgrep
      ? (found: (file: WalkedFile) => void, signal: AbortSignal) =>
          Promise.all([
            ripgrepCandidates(this.ripgrepPath, pattern, host, path, maxBytes, found, signal),
            walkFiles(host, path, { ...walk, linksOnly: true, found, signal }),
          ])
      : (found: (file: WalkedFile) => void, signal: AbortSignal) => walkFiles(host, path, { ...walk, found, signal });
    const scanner = new GrepFileScanner(pattern, maxBytes, root, io);
    try {
      return await grepWhileFinding(workers, find, query, maxBytes, root, scanner, new GrepBudget(query), (files) =>
        grepCandidates(files, query, maxBytes, root, io),
      );
    } catch {
      // ripgrep failed to run: the caller's search gives the same answer.
      return null;
    }
  }

  private async useRipgrep(): Promise<boolean | Fault> {
    if (this.engine === "builtin") return false;
    this.ripgrepCheck ??= ripgrepAvailable(this.ripgrepPath);
    const available = await this.ripgrepCheck;
    if (!available && this.engine === "ripgrep") {
      return fault("unsupported", { detail: "grepEngine is 'ripgrep' but the ripgrep executable was not found" });
    }
    return available;
  }
}

/**
 * Greps candidate files exactly as the core matcher (`grepTexts`) would: the glob filter and MIME
 * rule decide which files count, files are searched in path order with bounded read-ahead, and the
 * search stops once `maxCount + 1` matches are known (the facade caps them and tells truncation).
 * Candidates may be a superset (ripgrep's answer or a full walk); every file is re-checked and
 * matched by the core line matcher.
 */
export async function grepCandidates(
  files: WalkedFile[],
  query: GrepQuery,
  maxBytes: number,
  root: HostRoot,
  io: IoMode,
): Promise<{ matches: GrepMatch[] } | Fault> {
  const candidates = files
    .filter((file) => query.accepts(file.path) && isTextMimeType(getMimeType(file.path)))
    .sort((a, b) => comparePaths(a.path, b.path));
  const scanner = new GrepFileScanner(query.pattern, maxBytes, root, io);
  const workers = io.syncMaxBytes > 0 && candidates.length >= WORKERS_FROM ? grepWorkers() : undefined;
  const budget = new GrepBudget(query);
  if (workers && query.pattern.length > 0) {
    return grepInWorkers(workers, candidates, query, maxBytes, root, scanner, budget);
  }
  const matches: GrepMatch[] = [];
  const pending: ScanResult[] = [];
  let next = 0;
  const fill = () => {
    while (pending.length < READ_AHEAD && next < candidates.length) {
      pending.push(scanner.scan((candidates[next++] as WalkedFile).host));
    }
  };
  fill();
  for (const file of candidates) {
    const bytes = await (pending.shift() as ScanResult);
    const room = Math.min(query.maxCount + 1 - matches.length, budget.room);
    if (room <= 0) break;
    // Blocking reads give the event loop a turn every ~10 ms.
    const turn = io.pace();
    if (turn) await turn;
    fill();
    if (bytes === null) continue;
    const found = scanner.matches(file.path, bytes, room);
    for (const match of found) matches.push(match);
    // Past the answer's bounds: no further file is read (those read ahead are dropped).
    if (found.length > 0 && !budget.add(found)) return budget.fault();
  }
  return { matches };
}

/**
 * {@link grepCandidates} through the worker pool: batches of files in path order, a few in flight
 * per worker, consumed in order, no new batch once `maxCount + 1` matches are known. A file whose
 * open failed transiently is read by `scanner` (with retries); a batch the pool could not search
 * is searched by `scanner` too. Past the answer's bounds (`budget`) the batches in flight stop and
 * the grep answers `too_large`.
 */
async function grepInWorkers(
  workers: NonNullable<ReturnType<typeof grepWorkers>>,
  candidates: WalkedFile[],
  query: GrepQuery,
  maxBytes: number,
  root: HostRoot,
  scanner: GrepFileScanner,
  budget: GrepBudget,
): Promise<{ matches: GrepMatch[] } | Fault> {
  const job = scanJob(query, maxBytes, root, scanner, budget);
  const batches: WalkedFile[][] = [];
  for (let i = 0; i < candidates.length; i += BATCH_FILES) batches.push(candidates.slice(i, i + BATCH_FILES));
  const inFlight: Array<Promise<BatchScan | null>> = [];
  let next = 0;
  const fill = () => {
    while (inFlight.length < workers.size * BATCHES_PER_WORKER && next < batches.length) {
      const batch = batches[next++] as WalkedFile[];
      inFlight.push(workers.run(batchJob(job, batch, query.maxCount + 1 - matches.length, budget)));
    }
  };
  const matches: GrepMatch[] = [];
  fill();
  for (const batch of batches) {
    const result = await (inFlight.shift() as Promise<BatchScan | null>);
    const room = Math.min(query.maxCount + 1 - matches.length, budget.room);
    if (room <= 0) break;
    fill();
    for (const hit of await batchMatches(batch, result, scanner, room, workers)) {
      for (const match of hit.matches) matches.push(match);
      // The batches in flight stop at once (`budget.stopFlag`); their answers are not read.
      if (!budget.add(hit.matches)) return budget.fault();
    }
  }
  return { matches };
}
