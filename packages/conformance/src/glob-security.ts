import type { GlobResult, GrepResult, MaybePromise } from "@deepfs/core";
import { checkPath, comparePaths, createGlobMatcher, createGrepGlobFilter, isWithin } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import { type ContractContext, HEAVY_TIMEOUT } from "./context.js";
import { createRandom, seed, type Tree, timed, treePaths } from "./fixtures.js";

/**
 * Patterns that try to climb out of the search directory: `..` and `.` segments in every position,
 * anchored, behind braces, ranges and escapes. Each must be refused with `invalid_path` by `glob`
 * and by grep's filter, before any I/O.
 */
export const CLIMBING_PATTERNS = [
  "..",
  ".",
  "../**",
  "../*",
  "../*/*",
  "../../*/*",
  "**/../*",
  "*/../../*",
  "a/..",
  "a/.",
  "./*",
  "a/./b",
  "/../**",
  "/./**",
  "{..,x}/*",
  "{x,..}/**",
  ".{.,}/*",
  "{.,a}/*",
  "{a,{b,..}}/*",
  "{a,b}/../*",
  "x/{1..2}/../*",
  "{-../}/*",
  "\\.\\./*",
  ".\\./*",
  "\\../**",
];

/** Names a climb would reach: the tree is seeded under `/d`, with a sibling that must stay unseen. */
const TREE: Tree = {
  "/d/a.txt": "needle a\n",
  "/d/b/x.txt": "needle bx\n",
  "/d/..a": "needle dotdot-a\n",
  "/d/.b/x.txt": "needle dot-b\n",
  "/d/a/b.txt": "needle ab\n",
  "/outside/secret.txt": "needle SECRET\n",
};

/** Random patterns (seeded, so a failure names a seed that reproduces it) from a grammar with `..`, `.`, `//`, braces, ranges, classes, extglobs, escapes. */
const ATOMS = [
  "..",
  ".",
  "",
  "*",
  "**",
  "?",
  "a",
  "b",
  "x.txt",
  "*.txt",
  ".b",
  "..a",
  "{a,..}",
  "{.,b}",
  "{a,b}",
  "{..,.}",
  "{1..3}",
  "[ab]",
  "[.]",
  "[!a]*",
  "@(a|b)",
  "+(a)",
  "!(x)",
  "*(.)",
  "\\.",
  "\\.\\.",
  ".{.,}",
];

export function randomPatterns(count: number, seedValue: number): string[] {
  const random = createRandom(seedValue);
  const patterns: string[] = [];
  while (patterns.length < count) {
    const segments = 1 + Math.floor(random() * 4);
    const parts: string[] = [];
    for (let i = 0; i < segments; i++) parts.push(ATOMS[Math.floor(random() * ATOMS.length)] as string);
    const pattern = (random() < 0.15 ? "/" : "") + parts.join("/");
    if (pattern !== "" && pattern !== "/") patterns.push(pattern);
  }
  return patterns;
}

/** Every returned path is canonical and inside `dir`. */
function expectConfined(paths: string[], dir: string, label: string): void {
  for (const path of paths) {
    const checked = checkPath(path);
    expect(checked.ok && checked.path === path, `${label}: ${JSON.stringify(path)} is a canonical path`).toBe(true);
    expect(isWithin(path, dir), `${label}: ${JSON.stringify(path)} lies inside ${dir}`).toBe(true);
  }
}

export function registerGlobSecurityRules(ctx: ContractContext): void {
  describe("glob patterns are validated like paths", () => {
    ctx.rule(
      "glob and grep's filter refuse '.' and '..' segments in any alternative with invalid_path",
      async (env) => {
        await seed(env, TREE);
        const dir = env.at("/d");
        for (const pattern of CLIMBING_PATTERNS) {
          const globbed = await env.backend.glob(pattern, dir);
          expectFailure(globbed, "invalid_path");
          expect(globbed.files, `glob(${JSON.stringify(pattern)}) lists nothing`).toBeUndefined();
          const grepped = await env.backend.grep("needle", dir, pattern);
          expectFailure(grepped, "invalid_path");
          expect(grepped.matches, `grep filter ${JSON.stringify(pattern)} finds nothing`).toBeUndefined();
        }
      },
    );

    ctx.rule(
      "random patterns: every result is canonical, inside the search directory, and the core's answer",
      async (env) => {
        await seed(env, TREE);
        const dir = env.at("/d");
        const seedValue = Math.floor(Math.random() * 2 ** 31);
        const all = treePaths(env, TREE);
        for (const pattern of randomPatterns(40, seedValue)) {
          const label = `pattern ${JSON.stringify(pattern)} (seed ${seedValue})`;
          const globbed = await env.backend.glob(pattern, dir);
          if (globbed.code !== undefined) {
            expect(["invalid_path", "invalid_argument"], `${label}: ${globbed.error}`).toContain(globbed.code);
          } else {
            const paths = pathsOf(globbed.files);
            expectConfined(paths, dir, `glob ${label}`);
            expect(paths, `glob ${label}`).toEqual(all.filter(createGlobMatcher(pattern, dir)));
          }
          const grepped = await env.backend.grep("needle", dir, pattern);
          if (grepped.code !== undefined) {
            expect(["invalid_path", "invalid_argument"], `${label}: ${grepped.error}`).toContain(grepped.code);
            expect(grepped.code, `${label}: glob and grep agree`).toBe(globbed.code);
          } else {
            const paths = (grepped.matches ?? []).map((m) => m.path);
            expectConfined(paths, dir, `grep ${label}`);
            expect(paths, `grep ${label}`).toEqual(all.filter(createGrepGlobFilter(pattern, dir)));
            expect(
              (grepped.matches ?? []).some((m) => m.text.includes("SECRET")),
              `grep ${label} never reads outside`,
            ).toBe(false);
          }
        }
      },
    );
  });

  describe("a pattern's literal directories", () => {
    ctx.rule("a file where the pattern names a directory matches nothing, and is no error", async (env) => {
      await seed(env, TREE);
      const dir = env.at("/d");
      for (const pattern of ["a.txt/*", "..a/..a/b", "a.txt/x/**/*.txt", "b/x.txt/y"]) {
        const globbed = await env.backend.glob(pattern, dir);
        expectSuccess(globbed, `glob(${JSON.stringify(pattern)})`);
        expect(globbed.files, `glob(${JSON.stringify(pattern)})`).toEqual([]);
        const grepped = await env.backend.grep("needle", dir, pattern);
        expectSuccess(grepped, `grep filter ${JSON.stringify(pattern)}`);
        expect(grepped.matches, `grep filter ${JSON.stringify(pattern)}`).toEqual([]);
      }
    });
  });

  describe("the cost of a pattern is bounded by its length", () => {
    ctx.rule("hostile patterns answer within a second, refused or right", async (env) => {
      const longName = `${"a".repeat(28)}X`;
      await seed(env, {
        [`/hostile/${longName}`]: "needle\n",
        "/hostile/aaa": "needle\n",
        [`/hostile/${"a".repeat(200)}`]: "needle\n",
      });
      const dir = env.at("/hostile");
      const baseline = await timed(() => env.backend.glob("*", dir));
      expectSuccess(baseline.result);
      const bound = 1_000 + baseline.ms;
      const cases: Array<[string, () => MaybePromise<GlobResult | GrepResult>, string | string[]]> = [
        ["glob {a,b}×22", () => env.backend.glob("{a,b}".repeat(22), dir), "invalid_argument"],
        ["glob {a,b}×40", () => env.backend.glob("{a,b}".repeat(40), dir), "invalid_argument"],
        ["grep filter {a,b}×21", () => env.backend.grep("needle", dir, "{a,b}".repeat(21)), "invalid_argument"],
        ["glob {1..10000000}", () => env.backend.glob("{1..10000000}", dir), "invalid_argument"],
        ["glob nested braces", () => env.backend.glob("{{a,b},{c,{d,e}}}".repeat(6), dir), "invalid_argument"],
        ["glob nested extglob", () => env.backend.glob("+(+(a))", dir), "invalid_argument"],
        ["glob +(*a)", () => env.backend.glob("+(*a)", dir), ["/hostile/aaa", `/hostile/${"a".repeat(200)}`]],
        [
          "grep filter +(*a)",
          () => env.backend.grep("needle", dir, "+(*a)"),
          ["/hostile/aaa", `/hostile/${"a".repeat(200)}`],
        ],
        ["glob *(a|aa)*(a|aa)X", () => env.backend.glob("*(a|aa)*(a|aa)X", dir), [`/hostile/${longName}`]],
        ["glob !(*X)", () => env.backend.glob("!(*X)", dir), ["/hostile/aaa", `/hostile/${"a".repeat(200)}`]],
        ["glob (*a)×400+b", () => env.backend.glob(`${"*a".repeat(400)}b`, dir), []],
        [
          "glob 1024 alternatives",
          () => env.backend.glob(`${"{a,b,c,d}".repeat(5)}*`, dir),
          [`/hostile/${longName}`, `/hostile/${"a".repeat(200)}`],
        ],
      ];
      for (const [label, call, expected] of cases) {
        const { result, ms } = await timed(call);
        if (typeof expected === "string") {
          expectFailure(result, expected as "invalid_argument");
        } else {
          expectSuccess(result, label);
          const paths = "files" in result ? pathsOf(result.files) : (result as GrepResult).matches?.map((m) => m.path);
          expect(paths, label).toEqual(expected.map((p) => env.at(p)).sort(comparePaths));
        }
        expect(ms, `${label} took ${Math.round(ms)} ms (an ordinary glob: ${Math.round(baseline.ms)} ms)`).toBeLessThan(
          bound,
        );
      }
    });

    ctx.rule(
      "512 brace alternatives are matched at once, over hundreds of files and deep paths",
      async (env) => {
        // 64 characters that expand to 512 alternatives of ten segments: `b` below any names.
        const pattern = `${Array(9).fill("{**,?}").join("/")}/b`;
        // 300 names deep (600 characters, within every store's key limit).
        const deep = `/cost/${Array(300).fill("a").join("/")}`;
        const tree: Tree = { "/cost/b": "needle\n", "/cost/src/d1/b": "needle\n", [`${deep}/b`]: "needle\n" };
        for (let i = 0; i < 300; i++) tree[`/cost/src/d${i % 10}/file${i}.ts`] = "needle\n";
        for (let i = 0; i < 400; i++) tree[`${deep}/f${i}`] = "needle\n";
        await seed(env, tree);
        const dir = env.at("/cost");
        const expected = ["/cost/b", "/cost/src/d1/b", `${deep}/b`].map((p) => env.at(p)).sort(comparePaths);
        // Before, each alternative was matched on its own: seconds for these paths.
        const checks: Array<[string, () => MaybePromise<GlobResult | GrepResult>, () => MaybePromise<unknown>]> = [
          ["glob", () => env.backend.glob(pattern, dir), () => env.backend.glob("**", dir)],
          ["grep filter", () => env.backend.grep("needle", dir, pattern), () => env.backend.grep("needle", dir, "**")],
        ];
        for (const [label, call, ordinary] of checks) {
          const baseline = await timed(ordinary);
          const { result, ms } = await timed(call);
          expectSuccess(result, label);
          const paths = "files" in result ? pathsOf(result.files) : (result as GrepResult).matches?.map((m) => m.path);
          expect(paths, label).toEqual(expected);
          expect(ms, `${label} took ${Math.round(ms)} ms (with "**": ${Math.round(baseline.ms)} ms)`).toBeLessThan(
            2_000 + baseline.ms,
          );
        }
      },
      { timeout: HEAVY_TIMEOUT },
    );
  });
}
