import { isUtf8 } from "node:buffer";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeepfsError, type GrepLimits, parseGrepArgs } from "@deepfs/core";
import { DriverBackend, isFault } from "@deepfs/core/kit";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { grepWorkers } from "../src/grep-pool.js";
import { GrepFileScanner } from "../src/grep-scan.js";
import { type BatchScan, newScanState, type ScanJob, scanFiles } from "../src/grep-worker.js";
import { LocalBackend, type LocalBackendOptions } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

/**
 * grep's answer is bounded (`maxGrepMatches`, `maxGrepTextLength`) by the backend's own search:
 * every engine stops as soon as the matches it found pass the bounds, and answers `too_large`,
 * instead of searching the whole tree and leaving the facade to refuse the answer afterwards.
 */

const DIRS = 40;
const FILES_PER_DIR = 500;
const FILES = DIRS * FILES_PER_DIR;
/** Files per worker batch (`BATCH_FILES`): a search of every file sends this many batches. */
const BATCHES = Math.ceil(FILES / 128);
/** A line of 1,000 characters: ten of them pass a bound of 10,000 characters. */
const WIDE = `hit ${"y".repeat(996)}`;

const tree = tempRoot();
const wide = tempRoot();
const scans = tempRoot();
/** Where a script may run from (a RAM disk may be mounted noexec). */
const scripts = fs.mkdtempSync(join(tmpdir(), "deepfs-bounds-"));

beforeAll(() => {
  // 20,000 files of two matching lines each: the first ones found already pass a bound of 100.
  for (let d = 0; d < DIRS; d++) {
    fs.mkdirSync(join(tree.dir, `d${d}`));
    fs.mkdirSync(join(wide.dir, `d${d}`));
    for (let i = 0; i < FILES_PER_DIR; i++) {
      fs.writeFileSync(join(tree.dir, `d${d}`, `f${i}.txt`), `hit ${d}/${i}\nno\nhit again\n`);
      fs.writeFileSync(join(wide.dir, `d${d}`, `f${i}.txt`), `${WIDE}\n`);
    }
  }
});
afterAll(() => {
  tree.remove();
  wide.remove();
  scans.remove();
  fs.rmSync(scripts, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Counts the batches the backend hands to the worker threads. */
function countBatches() {
  const pool = grepWorkers();
  if (!pool) throw new Error("no worker threads here");
  return vi.spyOn(pool, "run");
}

const ENGINES: Array<{ name: string; options: LocalBackendOptions }> = [
  { name: "built-in walk, worker threads", options: { grepEngine: "builtin" } },
  { name: "ripgrep, worker threads", options: { grepEngine: "ripgrep" } },
];

describe("grep stops as soon as its answer passes the bounds", () => {
  for (const { name, options } of ENGINES) {
    it(`${name}: in lines, without maxCount`, async () => {
      const backend = new LocalBackend({ rootDir: tree.dir, ...options, maxGrepMatches: 100 });
      const run = countBatches();
      const found = await backend.grep("hit");
      expect(found.error).toContain("more than 100 matching lines");
      // The first answers already pass the bound: the walk (or ripgrep) stops, no batch follows.
      expect(run.mock.calls.length).toBeLessThan(BATCHES / 4);
      // Within the bound, the whole answer.
      expect((await backend.grep("hit 3/49", "/d3")).matches).toHaveLength(11);
    });

    it(`${name}: in lines, with a maxCount above the bound (files in path order)`, async () => {
      const backend = new LocalBackend({ rootDir: tree.dir, ...options, maxGrepMatches: 100 });
      const run = countBatches();
      expect((await backend.grep("hit", "/", null, 1_000_000)).error).toContain("more than 100 matching lines");
      expect(run.mock.calls.length).toBeLessThan(BATCHES / 4);
      // A maxCount within the bound answers as always.
      const capped = await backend.grep("hit", "/", null, 100);
      expect(capped.truncated).toBe(true);
      expect(capped.matches).toHaveLength(100);
    });

    it(`${name}: in characters`, async () => {
      const backend = new LocalBackend({ rootDir: wide.dir, ...options, maxGrepTextLength: 10_000 });
      const run = countBatches();
      const found = await backend.grep("hit");
      expect(found.error).toContain("more than 10,000 characters of matching lines");
      expect(run.mock.calls.length).toBeLessThan(BATCHES / 4);
      expect((await backend.grep("hit", "/", null, 10_000)).error).toContain("characters of matching lines");
      expect((await backend.grep("hit", "/d0", "f1?.txt")).matches).toHaveLength(10);
    });
  }

  it("main thread (syncIoMaxBytes: 0, no workers): no further file is read", async () => {
    const backend = new LocalBackend({ rootDir: tree.dir, syncIoMaxBytes: 0, maxGrepMatches: 100 });
    const read = vi.spyOn(GrepFileScanner.prototype, "scan");
    expect((await backend.grep("hit")).error).toContain("more than 100 matching lines");
    // 51 files make 102 lines; the read-ahead (32 files) is all that is read beyond them.
    expect(read.mock.calls.length).toBeLessThan(200);
    read.mockClear();
    const wideBackend = new LocalBackend({ rootDir: wide.dir, syncIoMaxBytes: 0, maxGrepTextLength: 10_000 });
    expect((await wideBackend.grep("hit")).error).toContain("characters of matching lines");
    expect(read.mock.calls.length).toBeLessThan(200);
  });

  it("ripgrep is killed once the answer passes the bounds", async (context) => {
    // A ripgrep that lists the files and then holds its output open for a minute.
    const script = join(scripts, "slow-rg.sh");
    const pidFile = join(scripts, "slow-rg.pid");
    fs.writeFileSync(
      script,
      `#!/bin/sh\nif [ "$1" = "--version" ]; then exec rg --version; fi\nrg "$@"\necho $$ > '${pidFile}'\nexec sleep 60\n`,
      { mode: 0o755 },
    );
    try {
      execFileSync(script, ["--version"]);
    } catch {
      // A temp directory mounted noexec: no script runs from it.
      context.skip();
    }
    const backend = new LocalBackend({
      rootDir: tree.dir,
      grepEngine: "ripgrep",
      ripgrepPath: script,
      maxGrepMatches: 100,
    });
    const started = Date.now();
    expect((await backend.grep("hit")).error).toContain("more than 100 matching lines");
    expect(Date.now() - started).toBeLessThan(20_000);
    // It may have been killed before it wrote its pid (still listing): then it is gone too.
    for (let waited = 0; fs.existsSync(pidFile) && waited < 2_000; waited += 50) {
      const pid = Number(fs.readFileSync(pidFile, "utf8"));
      if (!isAlive(pid)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (fs.existsSync(pidFile)) expect(isAlive(Number(fs.readFileSync(pidFile, "utf8")))).toBe(false);
  });

  it("the driver's own grep answers too_large for the limits of its query (every engine)", async () => {
    const limits: GrepLimits = { maxMatches: 100, maxTextLength: 1_000_000 };
    const parsed = parseGrepArgs("hit", "/");
    if (!parsed.ok) throw new Error(parsed.error);
    for (const options of [...ENGINES.map((e) => e.options), { syncIoMaxBytes: 0 }]) {
      const driver = DriverBackend.driverOf(new LocalBackend({ rootDir: tree.dir, ...options }));
      const found = await driver?.grep?.({ ...parsed.query, limits }, {});
      expect(found && isFault(found) ? found.fault : "an answer", JSON.stringify(options)).toBe("too_large");
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("a worker's batch keeps within the room it was given", () => {
  const deps = { fs, isUtf8, state: newScanState() };
  const hosts: string[] = [];
  beforeAll(() => {
    for (let i = 0; i < 6; i++) {
      const host = join(fs.realpathSync(scans.dir), `s${i}.txt`);
      // Three lines of 3 characters (9 bytes: 日本x) and one 4-byte character (2 units) each.
      fs.writeFileSync(host, "日本x\nnone\n日本x\n😀日本x\n");
      hosts.push(host);
    }
  });
  const job = (overrides: Partial<ScanJob>): ScanJob => ({
    hosts,
    needle: Buffer.from("x"),
    maxBytes: 1 << 20,
    limit: Number.POSITIVE_INFINITY,
    room: Number.POSITIVE_INFINITY,
    textRoom: Number.POSITIVE_INFINITY,
    rootBase: fs.realpathSync(scans.dir),
    rootDev: fs.statSync(scans.dir).dev,
    openFlags: fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
    ...overrides,
  });
  const lines = (batch: BatchScan) => batch.scans.map((scan) => (Array.isArray(scan) ? scan.length : scan));

  it("in matches: the files after the one that filled it are not searched", () => {
    expect(lines(scanFiles(job({ room: 5 }), deps))).toEqual([3, 2, null, null, null, null]);
  });

  it("in UTF-16 code units, counted exactly (not in bytes)", () => {
    // 3 + 3 + 5 = 11 units per file, 31 bytes of text: 6 files are 66 units, 186 bytes and more.
    expect(lines(scanFiles(job({ textRoom: 66 }), deps))).toEqual([3, 3, 3, 3, 3, 3]);
    expect(lines(scanFiles(job({ textRoom: 65 }), deps))).toEqual([3, 3, 3, 3, 3, 3]);
    // The line that goes over is kept (the caller's count shows it), the files after it are not searched.
    expect(lines(scanFiles(job({ textRoom: 16 }), deps))).toEqual([3, 2, null, null, null, null]);
    expect(lines(scanFiles(job({ textRoom: 22 }), deps))).toEqual([3, 3, 1, null, null, null]);
  });

  it("searches nothing once its grep stopped, in a worker thread too (the flag is shared memory)", async () => {
    const stop = new Int32Array(new SharedArrayBuffer(4));
    expect(lines(scanFiles(job({ stop }), deps))).toEqual([3, 3, 3, 3, 3, 3]);
    Atomics.store(stop, 0, 1);
    expect(lines(scanFiles(job({ stop }), deps))).toEqual([null, null, null, null, null, null]);
    const answer = await grepWorkers()?.run(job({ stop }));
    expect(answer && lines(answer)).toEqual([null, null, null, null, null, null]);
  });
});

describe("LocalBackend's limits", () => {
  it("maxGrepMatches and maxGrepTextLength are whole numbers >= 1", () => {
    for (const name of ["maxGrepMatches", "maxGrepTextLength"] as const) {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10" as unknown as number]) {
        let thrown: unknown;
        try {
          new LocalBackend({ rootDir: tree.dir, [name]: bad });
        } catch (error) {
          thrown = error;
        }
        expect(DeepfsError.isInstance(thrown) && thrown.code, `${name}: ${bad}`).toBe("invalid_argument");
        expect(String((thrown as Error).message)).toContain(name);
      }
      expect(() => new LocalBackend({ rootDir: tree.dir, [name]: 1 })).not.toThrow();
    }
  });

  it("travel in the driver's capabilities: the read limit, and grep's bounds when given", () => {
    const limitsOf = (options: LocalBackendOptions) =>
      DriverBackend.driverOf(new LocalBackend({ rootDir: tree.dir, ...options }))?.capabilities.limits;
    expect(limitsOf({})).toEqual({ maxFileBytes: 10 * 1024 * 1024 });
    expect(limitsOf({ maxFileSizeMb: 1, maxGrepMatches: 7, maxGrepTextLength: 9 })).toEqual({
      maxFileBytes: 1024 * 1024,
      maxGrepMatches: 7,
      maxGrepTextLength: 9,
    });
  });

  it("an edit never makes a file larger than maxFileSizeMb", async () => {
    const root = tempRoot();
    try {
      // 2,048 bytes at most.
      const backend = new LocalBackend({ rootDir: root.dir, maxFileSizeMb: 2048 / 1024 / 1024 });
      const text = `${"a".repeat(1_500)} END`;
      expect((await backend.write("/f.txt", text)).error).toBeFalsy();
      const refused = await backend.edit("/f.txt", "END", "x".repeat(600));
      expect(refused.error).toContain("over the limit of 2048 bytes");
      expect(fs.readFileSync(join(root.dir, "f.txt"), "utf8")).toBe(text);
      // Within the limit, as always; and the file stays readable.
      expect((await backend.edit("/f.txt", "END", "x".repeat(500))).error).toBeFalsy();
      expect((await backend.read("/f.txt")).error).toBeFalsy();
    } finally {
      root.remove();
    }
  });
});
