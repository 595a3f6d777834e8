import { describe, expect, it } from "vitest";
import {
  capGrepMatches,
  concatMatches,
  type GrepMatch,
  grepTexts,
  mergeFileHits,
  parseGrepArgs,
  sortGrepMatches,
} from "../src/index.js";

function query(...args: Parameters<typeof parseGrepArgs>) {
  const parsed = parseGrepArgs(...args);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.query;
}

describe("parseGrepArgs", () => {
  it("normalises the directory and the cap", () => {
    expect(query("x")).toMatchObject({ pattern: "x", dir: "/", glob: null, maxCount: Number.POSITIVE_INFINITY });
    expect(query("x", "/a/", "", 3.7)).toMatchObject({ dir: "/a", glob: null, maxCount: 3 });
    expect(query("x", null, "*.py", null)).toMatchObject({ glob: "*.py" });
  });

  it("returns failures with codes", () => {
    expect(parseGrepArgs("x", "/a/../b")).toMatchObject({ ok: false, code: "invalid_path" });
    expect(parseGrepArgs("x", "/", null, -1)).toMatchObject({ ok: false, code: "invalid_argument" });
    expect(parseGrepArgs("x", "/", null, Number.NaN)).toMatchObject({ ok: false, code: "invalid_argument" });
    expect(parseGrepArgs(5 as unknown as string)).toMatchObject({ ok: false, code: "invalid_argument" });
  });

  it("accepts paths inside the directory that pass the filter", () => {
    const q = query("x", "/src", "*.py");
    expect(q.accepts("/src/deep/a.py")).toBe(true);
    expect(q.accepts("/src/a.ts")).toBe(false);
    expect(q.accepts("/srcx/a.py")).toBe(false);
  });
});

describe("grepTexts", () => {
  const files = [
    { path: "/b.txt", text: "hit\nmiss\nhit hit\n" },
    { path: "/a.txt", text: "hit" },
    { path: "/bin.dat", text: "hit\u0000" },
    { path: "/src/c.py", text: "x\nhit" },
  ];

  it("orders by path then line and skips texts with NUL", () => {
    expect(grepTexts(files, query("hit"))).toEqual({
      matches: [
        { path: "/a.txt", line: 1, text: "hit" },
        { path: "/b.txt", line: 1, text: "hit" },
        { path: "/b.txt", line: 3, text: "hit hit" },
        { path: "/src/c.py", line: 2, text: "hit" },
      ],
    });
  });

  it("caps the total and sets truncated only when more existed", () => {
    expect(grepTexts(files, query("hit", "/", null, 2))).toEqual({
      matches: [
        { path: "/a.txt", line: 1, text: "hit" },
        { path: "/b.txt", line: 1, text: "hit" },
      ],
      truncated: true,
    });
    expect(grepTexts(files, query("hit", "/", null, 4)).truncated).toBeUndefined();
    expect(grepTexts(files, query("hit", "/", null, 0))).toEqual({ matches: [], truncated: true });
  });

  it("applies the directory and the glob filter", () => {
    expect(grepTexts(files, query("hit", "/src")).matches?.map((m) => m.path)).toEqual(["/src/c.py"]);
    expect(grepTexts(files, query("hit", "/", "*.py")).matches?.map((m) => m.path)).toEqual(["/src/c.py"]);
    expect(grepTexts(files, query("hit", "/", "src/*.py")).matches).toHaveLength(1);
    expect(grepTexts(files, query("hit", "/", "*.md")).matches).toEqual([]);
  });
});

describe("sortGrepMatches and capGrepMatches", () => {
  it("sort by code point path then line", () => {
    const matches: GrepMatch[] = [
      { path: "/b", line: 2, text: "" },
      { path: "/\u{E000}", line: 1, text: "" },
      { path: "/b", line: 1, text: "" },
      { path: "/B", line: 9, text: "" },
    ];
    expect(sortGrepMatches(matches).map((m) => `${m.path}:${m.line}`)).toEqual(["/B:9", "/b:1", "/b:2", "/\u{E000}:1"]);
  });

  it("cap", () => {
    const m = (line: number): GrepMatch => ({ path: "/a", line, text: "" });
    expect(capGrepMatches([m(1), m(2)], 2)).toEqual({ matches: [m(1), m(2)] });
    expect(capGrepMatches([m(1), m(2), m(3)], 2)).toEqual({ matches: [m(1), m(2)], truncated: true });
  });
});

describe("concatMatches and mergeFileHits", () => {
  const m = (path: string, line: number): GrepMatch => ({ path, line, text: `${path}:${line}` });
  const groups = [
    { path: "/b", matches: [m("/b", 1), m("/b", 4)] },
    { path: "/a", matches: [] },
    { path: "/c", matches: [m("/c", 2)] },
  ];

  it("concatenates the groups in order, up to a limit, into a dense array", () => {
    expect(concatMatches(groups)).toEqual([m("/b", 1), m("/b", 4), m("/c", 2)]);
    expect(concatMatches(groups, 2)).toEqual([m("/b", 1), m("/b", 4)]);
    expect(concatMatches(groups, 0)).toEqual([]);
    expect(concatMatches(groups, -1)).toEqual([]);
    expect(concatMatches([])).toEqual([]);
    // Every slot is filled: no hole where the limit exceeded the matches.
    const all = concatMatches(groups, 10);
    expect(all).toHaveLength(3);
    expect(all.every((_, i) => i in all)).toBe(true);
  });

  it("merges file hits in path order, capped with truncation", () => {
    const hits = () => groups.map((g) => ({ ...g, matches: [...g.matches] })).reverse();
    expect(mergeFileHits(hits(), Number.POSITIVE_INFINITY)).toEqual({ matches: [m("/b", 1), m("/b", 4), m("/c", 2)] });
    expect(mergeFileHits(hits(), 2)).toEqual({ matches: [m("/b", 1), m("/b", 4)], truncated: true });
    expect(mergeFileHits(hits(), 3)).toEqual({ matches: [m("/b", 1), m("/b", 4), m("/c", 2)] });
  });
});
