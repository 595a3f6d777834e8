import { describe, expect, it } from "vitest";
import { MAX_GLOB_AUTOMATON_PER_CHAR } from "../src/glob-pattern.js";
import {
  checkGlobPattern,
  createGlobMatcher,
  createGrepGlobFilter,
  DeepfsError,
  globSearchRoot,
  MAX_EXTGLOB_TOKENS,
  MAX_GLOB_LENGTH,
  parseGlobArgs,
  parseGrepArgs,
} from "../src/index.js";

const code = (pattern: string) => {
  const checked = checkGlobPattern(pattern);
  return checked.ok ? "ok" : checked.code;
};

describe("checkGlobPattern", () => {
  it.each([
    "..",
    ".",
    "../**",
    "a/../b",
    "**/..",
    "./a",
    "a/./b",
    "a/.",
    "{..,a}/x",
    "{a,..}",
    ".{.,}/x",
    "{a,{b,.}}/x",
    "a/{0..1}/../x",
    "{-../}/x",
    "\\.\\./x",
    ".\\./x",
    "\\../x",
    "a\u0000b",
    "a\nb",
    "s\uD800",
  ])("refuses %j with invalid_path", (pattern) => {
    expect(code(pattern)).toBe("invalid_path");
  });

  it.each([
    ["too many alternatives", "{a,b}".repeat(11)],
    ["a huge numeric range", "{1..100000}"],
    ["a huge character range", "{\u0000..\uffff}x".replace("\u0000", "!")],
    ["too many characters in all", `{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}${"x".repeat(100)}`],
    ["nested extglobs", "+(a|*(b))"],
    ["extglobs past the token budget", `@(${"a".repeat(MAX_EXTGLOB_TOKENS)})`],
    ["an over-long pattern", "a".repeat(MAX_GLOB_LENGTH + 1)],
    ["an empty pattern", ""],
  ])("refuses %s with invalid_argument, saying which limit", (_, pattern) => {
    const checked = checkGlobPattern(pattern);
    expect(checked.ok).toBe(false);
    if (!checked.ok) {
      expect(checked.code).toBe("invalid_argument");
      expect(checked.error.length).toBeLessThan(300);
    }
  });

  it("accepts names that merely contain dots", () => {
    for (const pattern of ["..a", "a..", "...", ".env", "*.", ".*", "**/.git/*", "{.a,b.}", "a..b/c"]) {
      expect(code(pattern), pattern).toBe("ok");
    }
  });

  it("refuses a non-string or empty pattern with invalid_argument", () => {
    expect(parseGlobArgs(42 as unknown as string, "/")).toMatchObject({ ok: false, code: "invalid_argument" });
    expect(parseGlobArgs("", "/")).toMatchObject({ ok: false, code: "invalid_argument" });
  });

  it("counts braces before expanding them: 2^40 alternatives are refused at once", () => {
    const start = performance.now();
    expect(code("{a,b}".repeat(40))).toBe("invalid_argument");
    expect(performance.now() - start).toBeLessThan(100);
  });
});

describe("brace expansion", () => {
  const names = ["a", "b", "c", "ab", "01", "02", "03", "1", "3", "5", "{1}", "{a,b}", "x-y", "{}"];
  const select = (pattern: string) => names.filter((n) => createGlobMatcher(pattern, "/")(`/${n}`));
  it.each([
    ["{a,b}", ["a", "b"]],
    ["{a,{b,c}}", ["a", "b", "c"]],
    ["{a,}b", ["b", "ab"]],
    ["{01..03}", ["01", "02", "03"]],
    ["{1..5..2}", ["1", "3", "5"]],
    ["{a..c}", ["a", "b", "c"]],
    ["{1}", ["{1}"]],
    ["\\{a,b\\}", ["{a,b}"]],
    ["{}", ["{}"]],
    ["x-y", ["x-y"]],
  ])("%j selects %j", (pattern, expected) => {
    expect(select(pattern)).toEqual(expected);
  });
});

describe("extglobs, matched by position sets", () => {
  const matches = (pattern: string, name: string) => createGlobMatcher(pattern, "/")(`/${name}`);
  it.each([
    ["@(a|b).ts", "a.ts", true],
    ["@(a|b).ts", "c.ts", false],
    ["?(a)b", "b", true],
    ["?(a)b", "ab", true],
    ["?(a)b", "aab", false],
    ["*(ab)", "", false],
    ["*(ab)c", "ababc", true],
    ["+(ab)c", "c", false],
    ["+(a|ab)b", "aabb", true],
    ["!(*.d).ts", "x.ts", true],
    ["!(*.d).ts", "x.d.ts", false],
    // bash's reading: `!(b)` matches any span that is not exactly "b", such as "ba".
    ["a!(b)c", "abac", true],
    ["a!(b)c", "abc", false],
    ["+(*a)", `${"a".repeat(28)}X`, false],
    ["+(*a)", "a".repeat(28), true],
  ])("%j on %j is %s", (pattern, name, expected) => {
    if (name === "") return;
    expect(matches(pattern, name)).toBe(expected);
  });

  it("answers hostile extglobs on 255-character names in milliseconds", () => {
    const name = `/${"a".repeat(254)}X`;
    for (const pattern of ["+(*a)", "*(a|aa)*(a|aa)*(a|aa)b", "!(*a)!(*a)!(*a)b", "@(*a*a*a*a)+(a)b"]) {
      const start = performance.now();
      createGlobMatcher(pattern, "/")(name);
      expect(performance.now() - start, pattern).toBeLessThan(1_000);
    }
  });
});

describe("brace alternatives, matched at once", () => {
  // 64 characters, 512 alternatives of ten segments each.
  const SHARED = `${Array(9).fill("{**,?}").join("/")}/b`;

  it("shares the alternatives' states: 512 alternatives make an automaton smaller than the pattern's bound", () => {
    const checked = checkGlobPattern(SHARED);
    expect(checked.ok && checked.glob.alternatives.length).toBe(512);
    expect(checked.ok && checked.glob.automaton.size).toBeLessThanOrEqual(MAX_GLOB_AUTOMATON_PER_CHAR * SHARED.length);
  });

  it("matches hostile brace patterns at a cost bounded by the pattern's length times the path's", () => {
    // 60 paths of 2,000 names: before, each alternative ran its own pass, ~90 ms a path.
    const deep = Array.from({ length: 60 }, (_, i) => `/${"a/".repeat(2000)}${i % 10 === 0 ? "b" : `f${i}`}`);
    // 1,000 names of 200 characters and 1,024 alternatives inside one name: before, ~7 ms a path.
    const wide = Array.from({ length: 1000 }, (_, i) => `/d/${"abcd".repeat(50)}${i % 100 === 0 ? "bX" : i}`);
    const cases: Array<[string, string[]]> = [
      [SHARED, deep],
      [`*/${"*{a,b,c,d}".repeat(5)}X`, wide],
    ];
    for (const [pattern, paths] of cases) {
      const matcher = createGlobMatcher(pattern, "/");
      const start = performance.now();
      const selected = paths.filter(matcher);
      expect(performance.now() - start, pattern).toBeLessThan(2_000);
      expect(selected, pattern).toHaveLength(paths.length / (pattern === SHARED ? 10 : 100));
    }
  });

  it("refuses a pattern whose automaton would be too large for its length, and no ordinary one", () => {
    // A thousand different classes in ten characters: each would be a test of every character.
    for (const pattern of ["*[{!..\u03ff}]*", "**/[a{0..599}]"]) {
      const checked = checkGlobPattern(pattern);
      expect(checked.ok, pattern).toBe(false);
      if (!checked.ok) {
        expect(checked.code).toBe("invalid_argument");
        expect(checked.error).toMatch(/braces make a matcher of \d+ states and transitions/);
      }
      expect(parseGlobArgs(pattern, "/")).toMatchObject({ ok: false, code: "invalid_argument" });
    }
    for (const pattern of [
      "{src,test}/**/*.{ts,tsx}",
      `${"{a,b,c,d}".repeat(5)}*`,
      `**/${"*{a,b,c,d}".repeat(5)}X`,
      "x{1..1000}*",
      "*[{a..z}]*[{a..z}]*",
      SHARED,
      `${"*a".repeat(400)}b`,
    ]) {
      expect(code(pattern), pattern).toBe("ok");
    }
  });
});

describe("the matchers refuse what checkGlobPattern refuses", () => {
  it("createGlobMatcher, createGrepGlobFilter and globSearchRoot throw DeepfsError", () => {
    expect(() => createGlobMatcher("../**")).toThrow(DeepfsError);
    expect(() => createGrepGlobFilter("..")).toThrow(DeepfsError);
    expect(() => globSearchRoot("a/../b/*")).toThrow(DeepfsError);
  });

  it("parseGrepArgs returns the pattern's failure instead of throwing", () => {
    expect(parseGrepArgs("x", "/", "../*")).toMatchObject({ ok: false, code: "invalid_path" });
    expect(parseGrepArgs("x", "/", "{a,b}".repeat(20))).toMatchObject({ ok: false, code: "invalid_argument" });
  });

  it("parseGrepArgs marks patterns that can match no line", () => {
    const nul = parseGrepArgs("a\u0000b");
    const newline = parseGrepArgs("a\nb");
    expect(nul.ok && nul.query.matchesNothing).toBe(true);
    expect(newline.ok && newline.query.matchesNothing).toBe(true);
  });
});
