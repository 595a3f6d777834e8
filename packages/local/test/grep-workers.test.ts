import { isUtf8 } from "node:buffer";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { decodeUtf8Strict, grepText } from "@deepfs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIRECTORY_FLAGS, openDirectoryExactlySync, PROC_FD_DIR } from "../src/descriptors.js";
import { grepWorkers, workerIdle } from "../src/grep-pool.js";
import {
  type BatchScan,
  type FileScan,
  keepSpare,
  newScanState,
  type ScanJob,
  type ScanState,
  scanFiles,
} from "../src/grep-worker.js";
import { LocalBackend } from "../src/index.js";
import { walkBudgets } from "../src/walk.js";
import { statFiles } from "../src/walk-worker.js";
import { tempRoot } from "./temp-root.js";

const root = tempRoot();
const outside = tempRoot();
const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Files that the byte search must treat exactly as the string search of their decoded text. */
const FILES: Record<string, Buffer> = {
  "crlf.txt": Buffer.from("a needle\r\nno\r\nneedle b\r\n"),
  "no-final-newline.txt": Buffer.from("x\nneedle"),
  "many-lines.txt": Buffer.from(
    Array.from({ length: 500 }, (_, i) => (i % 7 === 0 ? `needle ${i}` : `${i}`)).join("\n"),
  ),
  "twice-on-a-line.txt": Buffer.from("needle needle\n\nneedle\n"),
  "unicode.txt": Buffer.from("é needle 日本\n😀 needle\n"),
  "bom.txt": Buffer.from("\ufeffneedle first\n"),
  "invalid-utf8.txt": Buffer.concat([Buffer.from("needle\n"), Buffer.from([0xff, 0xfe])]),
  "nul.txt": Buffer.concat([Buffer.from("needle\n"), Buffer.from([0]), Buffer.from("needle\n")]),
  "empty.txt": Buffer.alloc(0),
  "absent.txt": Buffer.from("nothing here\n"),
};

function job(hosts: string[], overrides: Partial<ScanJob> = {}): ScanJob {
  return {
    hosts,
    needle: Buffer.from("needle"),
    maxBytes: 1 << 20,
    limit: Number.POSITIVE_INFINITY,
    room: Number.POSITIVE_INFINITY,
    textRoom: Number.POSITIVE_INFINITY,
    rootBase: fs.realpathSync(root.dir),
    rootDev: fs.statSync(root.dir).dev,
    openFlags: FLAGS,
    ...overrides,
  };
}

type PerFile = null | "retry" | { lines: number[]; texts: string[] };

/** What the core matcher gives for a file. */
function reference(bytes: Buffer, limit = Number.POSITIVE_INFINITY): PerFile {
  const text = bytes.includes(0) ? null : decodeUtf8Strict(bytes);
  const found = text === null ? [] : grepText(text, "needle", limit);
  return found.length === 0 ? null : { lines: found.map((m) => m.line), texts: found.map((m) => m.text) };
}

/** A batch's answer per file: the lines' texts taken in order from the batch's joined texts. */
function perFile(batch: BatchScan | null | undefined): PerFile[] {
  if (!batch) throw new Error("no answer");
  const texts = batch.text.length > 0 ? Buffer.from(batch.text).toString("utf8").split("\n") : [];
  let next = 0;
  return batch.scans.map((scan: FileScan) => {
    if (scan === null || scan === "retry") return scan;
    const mine = texts.slice(next, next + scan.length);
    next += scan.length;
    return { lines: scan, texts: mine };
  });
}

// Buffers far too small at first: files past 8 bytes go to the large buffer, the texts outgrow the spare.
const deps = { fs, isUtf8, state: { small: Buffer.alloc(8), spares: [new ArrayBuffer(4)] } as ScanState };
const scan = (j: ScanJob) => perFile(scanFiles(j, deps));

beforeAll(() => {
  for (const [name, bytes] of Object.entries(FILES)) fs.writeFileSync(join(root.dir, name), bytes);
  fs.writeFileSync(join(outside.dir, "secret.txt"), "needle outside\n");
  fs.symlinkSync(join(outside.dir, "secret.txt"), join(root.dir, "link-out.txt"));
  fs.symlinkSync(join(root.dir, "crlf.txt"), join(root.dir, "link-in.txt"));
  fs.mkdirSync(join(root.dir, "dir"));
  execFileSync("mkfifo", [join(root.dir, "fifo")]);
});
afterAll(() => {
  root.remove();
  outside.remove();
});

describe("scanFiles (the workers' search) equals the core matcher", () => {
  const names = Object.keys(FILES);

  it("on CRLF, no final newline, many lines, Unicode, BOM, invalid UTF-8, NUL and empty files", () => {
    const scans = scan(job(names.map((n) => join(root.dir, n))));
    // An empty file may be one that reports no size (procfs): the caller reads it to its end.
    expect(scans).toEqual(names.map((n) => (n === "empty.txt" ? "retry" : reference(FILES[n] as Buffer))));
    expect(scans[names.indexOf("crlf.txt")]).toEqual({ lines: [1, 3], texts: ["a needle\r", "needle b\r"] });
    expect(scans[names.indexOf("invalid-utf8.txt")]).toBeNull();
    expect(scans[names.indexOf("nul.txt")]).toBeNull();
  });

  it("keeps at most `limit` matches per file", () => {
    const host = join(root.dir, "many-lines.txt");
    expect(scan(job([host], { limit: 3 }))).toEqual([reference(FILES["many-lines.txt"] as Buffer, 3)]);
  });

  it("reads large files into one buffer it keeps, and writes the texts into the largest buffer handed back", () => {
    const hosts = names.map((n) => join(root.dir, n));
    const state = newScanState();
    state.small = Buffer.alloc(16);
    // Handed back with stale bytes in them: only what the batch writes is its answer.
    const spares = [new ArrayBuffer(32), new ArrayBuffer(1 << 16), new ArrayBuffer(64)];
    for (const spare of spares) new Uint8Array(spare).fill(0x78);
    state.spares = [...spares];
    const answer = scanFiles(job(hosts), { fs, isUtf8, state });
    expect(perFile(answer)).toEqual(scan(job(hosts)));
    expect(answer.text.buffer).toBe(spares[1]);
    expect(state.spares).toEqual([spares[0], spares[2]]);
    const large = state.large;
    expect(large?.length).toBeGreaterThanOrEqual((FILES["many-lines.txt"] as Buffer).length);
    scanFiles(job(hosts), { fs, isUtf8, state });
    expect(state.large).toBe(large);
  });

  it("keeps the largest buffers handed back, at most as many as it may", () => {
    const spares = [new ArrayBuffer(8), new ArrayBuffer(32)];
    keepSpare(spares, new ArrayBuffer(16), 3);
    keepSpare(spares, new ArrayBuffer(4), 3);
    keepSpare(spares, new ArrayBuffer(64), 3);
    expect(spares.map((b) => b.byteLength).sort((a, b) => a - b)).toEqual([16, 32, 64]);
  });

  it("skips files over maxBytes", () => {
    expect(scan(job([join(root.dir, "many-lines.txt")], { maxBytes: 100 }))).toEqual([null]);
  });

  it("never follows a final symlink, and never reads outside the root", () => {
    const hosts = ["link-out.txt", "link-in.txt"].map((n) => join(root.dir, n));
    expect(scan(job(hosts))).toEqual([null, null]);
    // The same file, opened where the root does not hold it.
    expect(scan(job([join(outside.dir, "secret.txt")]))).toEqual([null]);
  });

  /** `deps` whose filesystem counts the files asked where they lie and the reads. */
  function counting() {
    const calls = { asked: 0, reads: 0 };
    const spied = {
      ...deps,
      fs: {
        ...fs,
        readlinkSync: ((path: string) => {
          calls.asked++;
          return fs.readlinkSync(path);
        }) as typeof fs.readlinkSync,
        readSync: ((...args: Parameters<typeof fs.readSync>) => {
          calls.reads++;
          return fs.readSync(...args);
        }) as typeof fs.readSync,
      },
    };
    return { calls, spied };
  }
  const ASKED = ["absent.txt", "crlf.txt", "nul.txt", "invalid-utf8.txt", "unicode.txt"];

  it("asks where a file of the root's filesystem lies when it would search it, and only then", () => {
    const { calls, spied } = counting();
    const hosts = [...ASKED.map((n) => join(root.dir, n)), join(outside.dir, "secret.txt")];
    const answer = perFile(scanFiles(job(hosts), spied));
    // The file outside holds the needle: asked, and refused; the one without it never asked.
    expect(answer).toEqual([null, reference(FILES["crlf.txt"] as Buffer), null, null, expect.anything(), null]);
    expect(calls.asked).toBe(3);
  });

  it("asks where a file of another filesystem lies before reading any of it", () => {
    // The root's filesystem given as another: every file is now one of another filesystem.
    const { calls, spied } = counting();
    const hosts = [...ASKED.map((n) => join(root.dir, n)), join(outside.dir, "secret.txt"), "/proc/self/status"];
    const answer = perFile(scanFiles(job(hosts, { rootDev: -1 }), spied));
    expect(answer).toEqual([null, reference(FILES["crlf.txt"] as Buffer), null, null, expect.anything(), null, null]);
    // Every file asked; the two outside never read (procfs would have answered "retry" if inside).
    expect(calls.asked).toBe(7);
    expect(calls.reads).toBe(5);
  });

  it("skips directories, FIFOs and missing files; empty files go to the caller's own read", () => {
    const hosts = ["dir", "fifo", "missing.txt", "empty.txt"].map((n) => join(root.dir, n));
    expect(scan(job(hosts))).toEqual([null, null, null, "retry"]);
  });
});

describe("the worker pool", () => {
  it("runs scanFiles in a worker thread with the same answers", async () => {
    const pool = grepWorkers();
    expect(pool).toBeDefined();
    const names = Object.keys(FILES);
    const answer = await pool?.run(job(names.map((n) => join(root.dir, n))));
    expect(perFile(answer)).toEqual(scan(job(names.map((n) => join(root.dir, n)))));
    expect(perFile(answer)[names.indexOf("unicode.txt")]).toEqual({
      lines: [1, 2],
      texts: ["é needle 日本", "😀 needle"],
    });
    expect(pool?.started).toBeGreaterThan(0);
  });

  it("serves a backend grep over enough files, through symlinks inside the root only", async () => {
    const many = tempRoot();
    try {
      for (let i = 0; i < 200; i++)
        fs.writeFileSync(join(many.dir, `f${i}.txt`), i % 3 === 0 ? "a\nneedle\n" : "none\n");
      fs.symlinkSync(join(outside.dir, "secret.txt"), join(many.dir, "out.txt"));
      fs.symlinkSync(join(many.dir, "f0.txt"), join(many.dir, "in.txt"));
      const backend = new LocalBackend({ rootDir: many.dir, grepEngine: "builtin" });
      const result = await backend.grep("needle", "/", null, 50);
      expect(result.truncated).toBe(true);
      expect(result.matches?.length).toBe(50);
      const all = await backend.grep("needle");
      expect(all.matches?.map((m) => m.path)).toContain("/in.txt");
      expect(all.matches?.some((m) => m.path === "/out.txt")).toBe(false);
      // f0, f3, ..., f198 and the link to f0.
      expect(all.matches?.length).toBe(67 + 1);
      expect(all.matches?.every((m) => m.line === 2 && m.text === "needle")).toBe(true);
      // The whole character is found by the workers; half of it is no character of a UTF-8 text (the
      // conformance rule), whichever engine would have searched.
      fs.writeFileSync(join(many.dir, "emoji.txt"), "x\n😀 smile\n");
      expect(await backend.grep("😀")).toEqual({ matches: [{ path: "/emoji.txt", line: 2, text: "😀 smile" }] });
      expect(await backend.grep("\ud83d")).toEqual({ matches: [] });
    } finally {
      many.remove();
    }
  });

  it("reads ripgrep's list as it streams: names split across chunks are whole (ripgrep engine = built-in)", async () => {
    const many = tempRoot();
    try {
      // ~1,500 names of ~120 bytes: ripgrep's output spans several pipe chunks.
      const long = "n".repeat(100);
      fs.mkdirSync(join(many.dir, "é dir"));
      for (let i = 0; i < 1500; i++) fs.writeFileSync(join(many.dir, "é dir", `${long}-${i}.txt`), `x\nneedle ${i}\n`);
      const ripgrep = await new LocalBackend({ rootDir: many.dir, grepEngine: "ripgrep" }).grep("needle");
      const builtin = await new LocalBackend({ rootDir: many.dir, grepEngine: "builtin" }).grep("needle");
      expect(ripgrep.matches?.length).toBe(1500);
      expect(ripgrep).toEqual(builtin);
    } finally {
      many.remove();
    }
  });

  it("looks up a glob's sizes and times in the workers: each file's own, links as their targets, gone files left out", async () => {
    const many = tempRoot();
    try {
      // 1,300 files: two full batches for the workers and a remainder looked up on the main thread.
      for (let d = 0; d < 13; d++) {
        fs.mkdirSync(join(many.dir, `d${d}`));
        for (let i = 0; i < 100; i++) {
          const file = join(many.dir, `d${d}`, `f${i}.ts`);
          fs.writeFileSync(file, "x".repeat(d * 100 + i));
          fs.utimesSync(file, new Date(1_700_000_000_000 + i * 1_001), new Date(1_600_000_000_123 + d * 7_777 + i));
        }
      }
      fs.symlinkSync(join(many.dir, "d3", "f7.ts"), join(many.dir, "link.ts"));
      const found = await new LocalBackend({ rootDir: many.dir }).glob("**/*.ts");
      expect(found.files).toHaveLength(1301);
      for (const info of found.files ?? []) {
        const host = info.path === "/link.ts" ? join(many.dir, "d3", "f7.ts") : join(many.dir, info.path);
        const stats = fs.lstatSync(host);
        expect(info, info.path).toMatchObject({ size: stats.size, modified_at: stats.mtime.toISOString() });
      }
      // The worker's lookup itself: a path gone since the walk is NaN (not listed), a link is not followed.
      const stat = (hosts: string[]) =>
        statFiles({ hosts, procFd: PROC_FD_DIR, dirFlags: DIRECTORY_FLAGS }, fs, openDirectoryExactlySync);
      const real = fs.realpathSync(many.dir);
      expect([...stat([join(real, "gone.ts"), join(real, "link.ts")])].slice(0, 2)).toEqual([Number.NaN, Number.NaN]);
      expect(stat([join(real, "link.ts")])[0]).toBe(fs.lstatSync(join(many.dir, "link.ts")).size);
    } finally {
      many.remove();
    }
  });

  it("walks a large tree in the workers as on this thread: links to files inside only, no linked directory, no hidden name", async () => {
    const many = tempRoot();
    try {
      const expected: string[] = [];
      // 3,000 files in nested directories: several jobs for the workers beyond the first entries.
      for (let a = 0; a < 30; a++) {
        for (let b = 0; b < 10; b++) {
          const dir = join(many.dir, `a${a}`, `b${b}`);
          fs.mkdirSync(dir, { recursive: true });
          for (let i = 0; i < 10; i++) {
            fs.writeFileSync(join(dir, `f${i}.txt`), "x");
            expected.push(`/a${a}/b${b}/f${i}.txt`);
          }
        }
      }
      fs.symlinkSync(join(many.dir, "a1", "b1", "f1.txt"), join(many.dir, "a29", "b9", "to-file.txt"));
      expected.push("/a29/b9/to-file.txt");
      fs.symlinkSync(join(many.dir, "a2"), join(many.dir, "a28", "to-dir"));
      fs.symlinkSync(join(many.dir, "nowhere.txt"), join(many.dir, "a23", "dangling.txt"));
      fs.symlinkSync(join(many.dir, "a22", "loop.txt"), join(many.dir, "a22", "loop.txt"));
      fs.writeFileSync(join(outside.dir, "secret.txt"), "x");
      fs.symlinkSync(join(outside.dir, "secret.txt"), join(many.dir, "a27", "to-outside.txt"));
      fs.writeFileSync(join(many.dir, "a26", ".deepfs\\0123abcd.tmp"), "x");
      fs.mkdirSync(join(many.dir, "a25", "bad\\name"));
      fs.writeFileSync(join(many.dir, "a25", "bad\\name", "under.txt"), "x");
      execFileSync("mkfifo", [join(many.dir, "a24", "fifo")]);
      const walked = await new LocalBackend({ rootDir: many.dir }).glob("**");
      expect(walked.files?.map((f) => f.path)).toEqual([...expected].sort());
      // Small budgets: every job hands directories back, and the first part is one directory.
      const budgets = { ...walkBudgets };
      Object.assign(walkBudgets, { first: 1, job: 50 });
      try {
        expect(await new LocalBackend({ rootDir: many.dir }).glob("**")).toEqual(walked);
      } finally {
        Object.assign(walkBudgets, budgets);
      }
      // The same answer without the workers (every call through the threadpool).
      const here = await new LocalBackend({ rootDir: many.dir, syncIoMaxBytes: 0 }).glob("**");
      expect(here).toEqual(walked);
    } finally {
      many.remove();
    }
  });

  it("hands each batch's buffer back to the worker that made it, which writes its next batch into it", async () => {
    const pool = grepWorkers();
    if (!pool) throw new Error("no workers");
    const names = Object.keys(FILES);
    const hosts = names.map((n) => join(root.dir, n));
    const long = tempRoot();
    try {
      // A matching line of 200,000 bytes makes its batch's buffer grow past the 64 KiB first made.
      fs.writeFileSync(join(long.dir, "long.txt"), `needle ${"x".repeat(200_000)}\n`);
      const wide = await pool.run(
        job([join(long.dir, "long.txt")], { rootBase: fs.realpathSync(long.dir), rootDev: fs.statSync(long.dir).dev }),
      );
      const grown = wide?.text.buffer.byteLength ?? 0;
      expect(grown).toBeGreaterThan(200_000);
      // Twenty batches at once, their buffers handed back as they come: every answer is right.
      const many = Array.from({ length: 20 }, () =>
        pool.run(job(hosts)).then((answer) => {
          const files = perFile(answer);
          if (answer) pool.recycle(answer.text);
          return files;
        }),
      );
      for (const files of await Promise.all(many)) expect(files).toEqual(scan(job(hosts)));
      // Handed back to the worker that made it: every worker is given one small batch, and the
      // one that made the grown buffer writes into it instead of a new one.
      if (wide) pool.recycle(wide.text);
      const next = await Promise.all(Array.from({ length: pool.size }, () => pool.run(job(hosts))));
      expect(next.map((answer) => answer?.text.buffer.byteLength)).toContain(grown);
      for (const answer of next) expect(perFile(answer)).toEqual(scan(job(hosts)));
    } finally {
      long.remove();
    }
  });

  it("lets idle workers exit, and starts them again for the next search", async () => {
    const many = tempRoot();
    const idle = workerIdle.ms;
    workerIdle.ms = 50;
    try {
      for (let i = 0; i < 300; i++) fs.writeFileSync(join(many.dir, `f${i}.txt`), `x\nneedle ${i}\n`);
      const backend = new LocalBackend({ rootDir: many.dir, grepEngine: "builtin" });
      expect((await backend.grep("needle")).matches).toHaveLength(300);
      const pool = grepWorkers();
      expect(pool?.started).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(pool?.started).toBe(0);
      expect(grepWorkers()).toBe(pool);
      expect((await backend.grep("needle 29")).matches).toHaveLength(11);
      expect(pool?.started).toBeGreaterThan(0);
    } finally {
      workerIdle.ms = idle;
      many.remove();
    }
  });
});
