import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { decodeUtf8Strict, type GrepResult, getMimeType, grepTexts, isTextMimeType, parseGrepArgs } from "@deepfs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalBackend, type LocalBackendOptions } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

/** A deterministic pseudo-random generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "alpha",
  "beta",
  "needle",
  "Needle",
  "gamma",
  "delta",
  "x.y",
  "a*b",
  "[c]",
  "é",
  "日本",
  "\t",
  " ",
  "-e",
];
const NAMES = ["a", "b", "src", ".hidden", "node_modules", "x y", "ü", "z"];
const EXTS = [".txt", ".ts", ".md", ".json", ".png", ".pdf", "", ".py", ".csv"];
const MAX_FILE_MB = 0.05;

const root = tempRoot();
const texts = new Map<string, Buffer>();
const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;

function seedTree(seed: number, files: number): void {
  const next = random(seed);
  for (let i = 0; i < files; i++) {
    const depth = Math.floor(next() * 4);
    const dirs = Array.from({ length: depth }, () => pick(next, NAMES));
    const path = `/${[...dirs, `f${i}${pick(next, EXTS)}`].join("/")}`;
    const lines = Array.from({ length: Math.floor(next() * 12) }, () =>
      Array.from({ length: 1 + Math.floor(next() * 5) }, () => pick(next, WORDS)).join(" "),
    );
    const eol = next() < 0.2 ? "\r\n" : "\n";
    let body = Buffer.from(lines.join(eol) + (next() < 0.5 ? eol : ""), "utf8");
    const kind = next();
    if (kind < 0.08) body = Buffer.concat([body, Buffer.from([0]), Buffer.from("needle after nul\n")]);
    else if (kind < 0.14)
      body = Buffer.concat([Buffer.from("needle before invalid\n"), Buffer.from([0xff, 0xfe, 0x41])]);
    else if (kind < 0.18)
      body = Buffer.concat([body, Buffer.from("needle\n".repeat(Math.ceil((MAX_FILE_MB * 1048576) / 7)))]);
    else if (kind < 0.2) body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
    mkdirSync(join(root.dir, dirname(path)), { recursive: true });
    writeFileSync(join(root.dir, path), body);
    texts.set(path, body);
  }
}

/** What the core matcher says for the same tree, applying the same file rules. */
function expected(pattern: string, path?: string, glob?: string | null, maxCount?: number | null): GrepResult {
  const parsed = parseGrepArgs(pattern, path, glob, maxCount);
  if (!parsed.ok) throw new Error(parsed.error);
  const files: Array<{ path: string; text: string }> = [];
  for (const [p, bytes] of texts) {
    if (!isTextMimeType(getMimeType(p)) || bytes.length > MAX_FILE_MB * 1048576) continue;
    const text = decodeUtf8Strict(bytes);
    if (text !== null) files.push({ path: p, text });
  }
  return grepTexts(files, parsed.query);
}

const QUERIES: Array<[string, string?, (string | null)?, (number | null)?]> = [
  ["needle"],
  ["Needle"],
  ["a*b"],
  ["[c]"],
  ["-e"],
  ["é"],
  ["日本 "],
  ["\r"],
  [""],
  ["needle", "/src"],
  ["needle", "/", "*.ts"],
  ["needle", "/", "src/**"],
  ["needle", "/", "**/.hidden/**"],
  ["alpha", "/", "*.{md,txt}"],
  ["needle", "/", null, 0],
  ["needle", "/", null, 1],
  ["needle", "/", null, 7],
  ["beta", "/a", null, 3],
  ["absent-string"],
  ["two\nlines"],
];

beforeAll(() => seedTree(20260601, 300));
afterAll(() => root.remove());

/**
 * How files are read: blocking calls for small files (the default), threadpool calls only, and a
 * tiny blocking limit so that most files are opened and checked with blocking calls but read
 * through the threadpool.
 */
const IO_SETTINGS: Array<[string, LocalBackendOptions]> = [
  ["default I/O", {}],
  ["threadpool I/O", { syncIoMaxBytes: 0 }],
  ["blocking open, threadpool read", { syncIoMaxBytes: 64 }],
];

for (const [engine, [io, options]] of (["ripgrep", "builtin"] as const).flatMap((e) =>
  IO_SETTINGS.map((setting) => [e, setting] as const),
)) {
  describe(`grep engine ${engine}, ${io}`, () => {
    const backend = new LocalBackend({ ...options, rootDir: root.dir, grepEngine: engine, maxFileSizeMb: MAX_FILE_MB });
    for (const [pattern, path, glob, maxCount] of QUERIES) {
      it(`equals grepTexts for ${JSON.stringify({ pattern, path, glob, maxCount })}`, async () => {
        const result = await backend.grep(pattern, path, glob, maxCount);
        expect(result.error).toBeUndefined();
        expect(result).toEqual(expected(pattern, path, glob, maxCount));
      });
    }

    it("searches a single file given as the path", async () => {
      const path = [...texts.keys()].find((p) => p.endsWith(".txt")) as string;
      expect(await backend.grep("needle", path)).toEqual(expected("needle", path));
    });
  });
}

it("the seeded tree exercises every special case", () => {
  const all = [...texts.values()];
  expect(all.some((b) => b.includes(0))).toBe(true);
  expect(all.some((b) => b.length > MAX_FILE_MB * 1048576)).toBe(true);
  expect(all.some((b) => b.includes("\r\n"))).toBe(true);
  expect(all.some((b) => decodeUtf8Strict(b) === null && !b.includes(0))).toBe(true);
  expect(expected("needle").matches?.length).toBeGreaterThan(10);
});

it("grepEngine 'ripgrep' without the executable answers unsupported", async () => {
  const backend = new LocalBackend({ rootDir: root.dir, grepEngine: "ripgrep", ripgrepPath: "/nonexistent/rg" });
  expect((await backend.grep("needle")).code).toBe("unsupported");
});

it("grepEngine 'auto' falls back to the built-in search when ripgrep is missing", async () => {
  const backend = new LocalBackend({ rootDir: root.dir, ripgrepPath: "/nonexistent/rg", maxFileSizeMb: MAX_FILE_MB });
  expect(await backend.grep("needle")).toEqual(expected("needle"));
});
