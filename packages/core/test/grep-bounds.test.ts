import { describe, expect, it } from "vitest";
import {
  CompositeBackend,
  DEFAULT_GREP_LIMITS,
  GrepHits,
  GrepTally,
  MemoryBackend,
  parseGrepArgs,
  StateBackend,
  withQuota,
} from "../src/index.js";
import { type Driver, DriverBackend, ForwardingDriver, tightestLimits } from "../src/kit/index.js";

function queryOf(maxCount?: number) {
  const parsed = parseGrepArgs("x", "/", null, maxCount);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.query;
}

describe("GrepTally", () => {
  it("counts lines only when maxCount is above the bound, and characters always", () => {
    const limits = { maxMatches: 3, maxTextLength: 10 };
    const capped = new GrepTally({ ...queryOf(3), limits });
    expect(capped.room).toBe(Number.POSITIVE_INFINITY);
    expect(capped.addCounts(100, 10)).toBe(true);
    expect(capped.addCounts(0, 1)).toBe(false);
    expect(capped.passed).toBe("more than 10 characters of matching lines");

    const open = new GrepTally({ ...queryOf(), limits });
    expect(open.room).toBe(4);
    expect(open.addCounts(3, 3)).toBe(true);
    expect(open.room).toBe(1);
    expect(open.addCounts(1, 1)).toBe(false);
    expect(open.room).toBe(0);
    expect(open.passed).toBe("more than 3 matching lines");
  });

  it("parseGrepArgs gives the default bounds", () => {
    expect(queryOf().limits).toEqual({ maxMatches: 1_000_000, maxTextLength: 256 * 1024 * 1024 });
    expect(Object.isFrozen(DEFAULT_GREP_LIMITS)).toBe(true);
  });
});

describe("store limits", () => {
  it("tightestLimits keeps the smallest of each bound", () => {
    expect(tightestLimits([undefined, undefined])).toBeUndefined();
    expect(
      tightestLimits([{ maxFileBytes: 10, maxGrepMatches: 5 }, undefined, { maxFileBytes: 4, maxGrepTextLength: 7 }]),
    ).toEqual({ maxFileBytes: 4, maxGrepMatches: 5, maxGrepTextLength: 7 });
  });

  it("an edit never makes a file larger than the store's read limit", async () => {
    const memory = new MemoryBackend();
    const base = DriverBackend.driverOf(memory) as Driver;
    const driver: Driver = Object.create(base, {
      capabilities: { value: { ...base.capabilities, limits: { maxFileBytes: 99 } } },
    });
    const backend = new DriverBackend(driver);
    expect((await backend.write("/a.txt", "a".repeat(50))).error).toBeUndefined();
    const refused = await backend.edit("/a.txt", "a", "aa", true);
    expect(refused.code).toBe("too_large");
    expect((await backend.edit("/a.txt", "a", "a", true)).error).toBeUndefined();
    // An explicit facade option wins over the store's limit.
    const wide = new DriverBackend(driver, { maxEditFileBytes: 1000 });
    expect((await wide.edit("/a.txt", "a", "aa", true)).occurrences).toBe(50);
  });

  it("the store's grep bounds apply unless the facade is given others, and are checked", async () => {
    const memory = new MemoryBackend();
    const base = DriverBackend.driverOf(memory) as Driver;
    const driver: Driver = Object.create(base, {
      capabilities: { value: { ...base.capabilities, limits: { maxGrepMatches: 2 } } },
    });
    expect((await memory.write("/a.txt", "x\nx\nx\n")).error).toBeUndefined();
    const bounded = await new DriverBackend(driver).grep("x");
    expect(bounded.code).toBe("too_large");
    expect(bounded.error).toBe(
      "Searching '/' would answer more than 2 matching lines; pass maxCount, or narrow the path, the glob or the pattern",
    );
    expect((await new DriverBackend(driver, { maxGrepMatches: 3 }).grep("x")).matches).toHaveLength(3);
    expect(() => new DriverBackend(driver, { maxGrepMatches: -1 })).toThrow(/maxGrepMatches/);
    expect(() => new DriverBackend(driver, { maxGrepTextLength: 1.5 })).toThrow(/maxGrepTextLength/);
  });
});

describe("grep bounds as backend options", () => {
  it("MemoryBackend and StateBackend take them, and a layer over them keeps them", async () => {
    const files = { "/a.txt": "x\nx\nx\n" };
    for (const backend of [
      new MemoryBackend({ files, maxGrepMatches: 2 }),
      new StateBackend({ files, maxGrepMatches: 2 }),
    ]) {
      expect((await backend.grep("x")).error).toContain("more than 2 matching lines");
      expect((await backend.grep("x", "/", null, 2)).matches).toHaveLength(2);
      expect((await withQuota(backend, { maxBytes: 1000 }).grep("x")).code).toBe("too_large");
    }
    expect((await new MemoryBackend({ files, maxGrepTextLength: 2 }).grep("x")).error).toContain(
      "more than 2 characters of matching lines",
    );
    expect(() => new MemoryBackend({ maxGrepMatches: -1 })).toThrow(/maxGrepMatches/);
  });

  it("a router takes its members' tightest bounds unless it is given its own", async () => {
    const tight = new MemoryBackend({ files: { "/a.txt": "x\nx\nx\n" }, maxGrepMatches: 2 });
    const open = new MemoryBackend({ files: { "/b.txt": "x\nx\n" } });
    const router = new CompositeBackend(open, { "/t/": tight });
    expect((await router.grep("x", "/t")).error).toContain("more than 2 matching lines");
    // 5 matches over both members, against the router's own bound of 4.
    const own = new CompositeBackend(open, { "/t/": tight }, { maxGrepMatches: 4 });
    expect((await own.grep("x", "/t")).matches).toHaveLength(3);
    expect((await own.grep("x")).error).toContain("more than 4 matching lines");
  });
});

describe("a capped grep holds what it can answer", () => {
  it("the character bound counts the matches a maxCount can answer, not every matching file's", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 100; i++) files[`/f${String(i).padStart(3, "0")}.txt`] = `hit ${"y".repeat(96)}\n`;
    const memory = new MemoryBackend({ files, maxGrepTextLength: 1000 });
    const walking = new DriverBackend(
      new ForwardingDriver(DriverBackend.driverOf(memory) as Driver, { omit: ["grep"] }),
    );
    for (const backend of [memory, walking]) {
      // 100 lines of 100 characters match; 2 are answered (and a third read to tell truncation).
      const capped = await backend.grep("hit", "/", null, 2);
      expect(capped.error).toBeUndefined();
      expect(capped.matches?.map((m) => m.path)).toEqual(["/f000.txt", "/f001.txt"]);
      expect(capped.truncated).toBe(true);
      expect((await backend.grep("hit")).code).toBe("too_large");
    }
  });

  it("GrepHits keeps the first files in path order whatever order they come in", () => {
    const parsed = parseGrepArgs("x", "/", null, 3);
    if (!parsed.ok) throw new Error(parsed.error);
    const hits = new GrepHits(parsed.query);
    const order = Array.from({ length: 50 }, (_, i) => (i * 37) % 50);
    for (const i of order) {
      const path = `/f${String(i).padStart(2, "0")}`;
      expect(hits.room).toBe(4);
      expect(hits.add({ path, matches: [1, 2].map((line) => ({ path, line, text: "x" })) })).toBe(true);
    }
    expect(hits.answer()).toEqual({
      matches: [
        { path: "/f00", line: 1, text: "x" },
        { path: "/f00", line: 2, text: "x" },
        { path: "/f01", line: 1, text: "x" },
      ],
      truncated: true,
    });
  });
});
