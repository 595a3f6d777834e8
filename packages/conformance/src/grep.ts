import { type GrepResult, grepTexts, parseGrepArgs } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectFailure, expectSuccess } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";
import { seed, type Tree, treeTexts } from "./fixtures.js";

const utf8 = (text: string) => new TextEncoder().encode(text);

/** A fixed tree for grep: text files at several depths, CRLF, case variants, and binary decoys. */
export const GREP_TREE: Tree = {
  "/g/a.txt": "needle one\nno match\nneedle two\n",
  "/g/b.md": "x needle\r\ny\r\n",
  "/g/src/m.ts": "const needle = 1;\n",
  "/g/src/deep/n.ts": "needle\nneedle\nneedle\n",
  "/g/src/q.py": "# needle\n",
  "/g/lib/p.py": "needle = 2\n",
  "/g/regex.txt": "a.*b needle (x)\n[y] needle+\n^start$ needle\n",
  "/g/Case.txt": "NEEDLE\nNeedle\nneedle\n",
  "/g/unicode é.txt": "héllo needle 中文\n",
  "/g/empty.txt": "",
  "/g/img.png": new Uint8Array([0x89, 0x50, 0x4e, 0x47, ...utf8("needle\n")]),
  "/g/nul.txt": new Uint8Array([...utf8("needle"), 0, ...utf8("needle\n")]),
  "/g/bad.txt": new Uint8Array([...utf8("needle\n"), 0xff, 0xfe, 0x0a]),
  "/other/z.txt": "needle outside\n",
};

/** Files that hold "needle" but must never be searched. */
const BINARY_DECOYS = ["/g/img.png", "/g/nul.txt", "/g/bad.txt"];

/** What the core matcher says grep must return (arguments relative to the root). */
export function expectedGrep(
  env: RuleEnv,
  tree: Tree,
  pattern: string,
  path: string | null,
  glob: string | null = null,
  maxCount: number | null = null,
): GrepResult {
  const parsed = parseGrepArgs(pattern, path === null ? env.at("/") : env.at(path), glob, maxCount);
  if (!parsed.ok) throw new Error(parsed.error);
  return grepTexts(treeTexts(env, tree), parsed.query);
}

async function grepBoth(
  env: RuleEnv,
  pattern: string,
  path: string,
  glob: string | null = null,
  maxCount: number | null = null,
): Promise<{ actual: GrepResult; expected: GrepResult }> {
  const actual = await env.backend.grep(pattern, env.at(path), glob, maxCount);
  expectSuccess(actual, `grep(${JSON.stringify(pattern)}, ${path}, ${glob}, ${maxCount})`);
  return { actual, expected: expectedGrep(env, GREP_TREE, pattern, path, glob, maxCount) };
}

/** Compares a backend's grep with the core's, `truncated: false` and absent being the same. */
function expectSameGrep(actual: GrepResult, expected: GrepResult): void {
  expect(actual.matches).toEqual(expected.matches);
  expect(actual.truncated ?? false).toBe(expected.truncated ?? false);
}

export function registerGrepRules(ctx: ContractContext): void {
  describe("grep", () => {
    ctx.rule("regex metacharacters are plain characters", async (env) => {
      await seed(env, GREP_TREE);
      for (const pattern of ["a.*b", "[y]", "needle+", "^start$", "(x)", "."]) {
        const { actual, expected } = await grepBoth(env, pattern, "/g");
        expectSameGrep(actual, expected);
      }
      const { actual } = await grepBoth(env, "a.*b", "/g");
      expect(actual.matches).toEqual([{ path: env.at("/g/regex.txt"), line: 1, text: "a.*b needle (x)" }]);
      const none = await env.backend.grep("n.edle", env.at("/g"));
      expect(none.matches, "'.' is not a wildcard").toEqual([]);
    });

    ctx.rule("is case-sensitive", async (env) => {
      await seed(env, GREP_TREE);
      const { actual, expected } = await grepBoth(env, "Needle", "/g");
      expect(actual.matches).toEqual([{ path: env.at("/g/Case.txt"), line: 2, text: "Needle" }]);
      expectSameGrep(actual, expected);
    });

    ctx.rule("returns 1-based line numbers and the text of the line", async (env) => {
      await seed(env, GREP_TREE);
      const actual = await env.backend.grep("needle", env.at("/g/a.txt"));
      expectSuccess(actual);
      expect(actual.matches).toEqual([
        { path: env.at("/g/a.txt"), line: 1, text: "needle one" },
        { path: env.at("/g/a.txt"), line: 3, text: "needle two" },
      ]);
    });

    ctx.rule("orders matches by path, then line, exactly as the core grep", async (env) => {
      await seed(env, GREP_TREE);
      const { actual, expected } = await grepBoth(env, "needle", "/");
      expectSameGrep(actual, expected);
      expect(actual.matches?.length).toBeGreaterThan(10);
      const keys = actual.matches?.map((m) => [m.path, m.line]);
      expect(keys).toEqual(expected.matches?.map((m) => [m.path, m.line]));
    });

    ctx.rule("a glob filter without '/' matches the basename at any depth", async (env) => {
      await seed(env, GREP_TREE);
      const { actual, expected } = await grepBoth(env, "needle", "/", "*.py");
      expect(actual.matches?.map((m) => m.path)).toEqual([env.at("/g/lib/p.py"), env.at("/g/src/q.py")]);
      expectSameGrep(actual, expected);
      const ts = await grepBoth(env, "needle", "/g/src", "*.ts");
      expect(new Set(ts.actual.matches?.map((m) => m.path))).toEqual(
        new Set([env.at("/g/src/deep/n.ts"), env.at("/g/src/m.ts")]),
      );
      expectSameGrep(ts.actual, ts.expected);
    });

    ctx.rule("a glob filter with '/' matches the path relative to the search path", async (env) => {
      await seed(env, GREP_TREE);
      const { actual, expected } = await grepBoth(env, "needle", "/g", "src/**/*.ts");
      expect(new Set(actual.matches?.map((m) => m.path))).toEqual(
        new Set([env.at("/g/src/deep/n.ts"), env.at("/g/src/m.ts")]),
      );
      expectSameGrep(actual, expected);
      const direct = await grepBoth(env, "needle", "/g", "src/*.ts");
      expect(direct.actual.matches?.map((m) => m.path)).toEqual([env.at("/g/src/m.ts")]);
      expectSameGrep(direct.actual, direct.expected);
      const fromRoot = await grepBoth(env, "needle", "/", "src/**/*.ts");
      expect(fromRoot.actual.matches, "relative to the search path, not to /g").toEqual([]);
      expectSameGrep(fromRoot.actual, fromRoot.expected);
    });

    ctx.rule("the path argument restricts the search to a directory or a single file", async (env) => {
      await seed(env, GREP_TREE);
      const dir = await grepBoth(env, "needle", "/g/src");
      expect(dir.actual.matches?.every((m) => m.path.startsWith(env.at("/g/src/")))).toBe(true);
      expect(dir.actual.matches).toHaveLength(5);
      expectSameGrep(dir.actual, dir.expected);
      const file = await grepBoth(env, "needle", "/g/src/m.ts");
      expect(file.actual.matches).toEqual([{ path: env.at("/g/src/m.ts"), line: 1, text: "const needle = 1;" }]);
      const sibling = await grepBoth(env, "needle", "/g/sr");
      expect(sibling.actual.matches, "a path is a directory, not a name prefix").toEqual([]);
    });

    ctx.rule("maxCount caps the total and sets truncated only when more matches existed", async (env) => {
      await seed(env, GREP_TREE);
      const all = await grepBoth(env, "needle", "/g/src");
      const total = all.actual.matches?.length ?? 0;
      expect(total).toBe(5);
      expect(all.actual.truncated ?? false).toBe(false);
      const capped = await grepBoth(env, "needle", "/g/src", null, 3);
      expect(capped.actual.matches).toEqual(all.actual.matches?.slice(0, 3));
      expect(capped.actual.truncated).toBe(true);
      const exact = await grepBoth(env, "needle", "/g/src", null, total);
      expect(exact.actual.matches).toEqual(all.actual.matches);
      expect(exact.actual.truncated ?? false, "exactly maxCount matches is not truncated").toBe(false);
      const roomy = await grepBoth(env, "needle", "/g/src", null, total + 10);
      expect(roomy.actual.truncated ?? false).toBe(false);
      const zero = await grepBoth(env, "needle", "/g/src", null, 0);
      expect(zero.actual.matches).toEqual([]);
      expect(zero.actual.truncated).toBe(true);
      for (const { actual, expected } of [capped, exact, roomy, zero]) expectSameGrep(actual, expected);
    });

    ctx.rule("maxCount is shared across files", async (env) => {
      await seed(env, GREP_TREE);
      const capped = await grepBoth(env, "needle", "/", null, 4);
      expectSameGrep(capped.actual, capped.expected);
      expect(capped.actual.matches).toHaveLength(4);
      expect(capped.actual.truncated).toBe(true);
    });

    ctx.rule("binary files are skipped (binary MIME, NUL bytes, invalid UTF-8)", async (env) => {
      await seed(env, GREP_TREE);
      const { actual, expected } = await grepBoth(env, "needle", "/g");
      const paths = new Set(actual.matches?.map((m) => m.path));
      for (const decoy of BINARY_DECOYS) expect(paths.has(env.at(decoy)), decoy).toBe(false);
      expectSameGrep(actual, expected);
      for (const decoy of BINARY_DECOYS) {
        const direct = await env.backend.grep("needle", env.at(decoy));
        expectSuccess(direct);
        expect(direct.matches, `grep on ${decoy} itself`).toEqual([]);
      }
    });

    ctx.rule("CRLF lines keep their '\\r' in text", async (env) => {
      await seed(env, GREP_TREE);
      const { actual, expected } = await grepBoth(env, "needle", "/g/b.md");
      expect(actual.matches).toEqual([{ path: env.at("/g/b.md"), line: 1, text: "x needle\r" }]);
      expectSameGrep(actual, expected);
    });

    ctx.rule("results equal the core grep for a table of queries", async (env) => {
      await seed(env, GREP_TREE);
      const queries: Array<[string, string, string | null, number | null]> = [
        ["needle", "/", null, null],
        ["needle", "/g", "*.txt", null],
        ["needle", "/g", "**/*.ts", null],
        ["needle", "/", "g/*", 2],
        ["é", "/", null, null],
        ["中文", "/g", "*.txt", null],
        [" = ", "/g", null, null],
        ["NEEDLE", "/", null, 1],
        ["\r", "/g", null, null],
        ["needle", "/g/unicode é.txt", null, null],
      ];
      for (const [pattern, path, glob, maxCount] of queries) {
        const { actual, expected } = await grepBoth(env, pattern, path, glob, maxCount);
        expectSameGrep(actual, expected);
      }
    });

    ctx.rule("no match gives matches: [] and no error", async (env) => {
      await seed(env, GREP_TREE);
      const result = await env.backend.grep("absent-string", env.at("/"));
      expectSuccess(result);
      expect(result.matches).toEqual([]);
      expect(result.truncated ?? false).toBe(false);
    });

    ctx.rule("a pattern holding NUL or a newline matches nothing and is not an error", async (env) => {
      await seed(env, GREP_TREE);
      // No searchable line holds either (a file with NUL is binary), so no backend may search, and
      // none may fail: Postgres once sent NUL to SQL and answered backend_unavailable.
      const patterns = ["\u0000", "needle\u0000needle", "needle\u0000", "\n", "needle one\nno match", "\r\n"];
      for (const pattern of patterns) {
        for (const [path, glob, maxCount] of [
          ["/", null, null],
          ["/g", "*.txt", 3],
          ["/g/nul.txt", null, null],
        ] as const) {
          const result = await env.backend.grep(pattern, env.at(path), glob, maxCount);
          expectSuccess(result, `grep(${JSON.stringify(pattern)}, ${path}, ${glob})`);
          expect(result.matches, JSON.stringify(pattern)).toEqual([]);
          expect(result.truncated ?? false).toBe(false);
        }
      }
    });

    ctx.rule("a pattern holding a lone UTF-16 surrogate matches nothing, not even half of a character", async (env) => {
      // Texts are UTF-8: no character of one is half of a surrogate pair, so such a pattern can
      // match no line. Every backend says so the same way, whether it searches strings or bytes.
      expectSuccess(await env.backend.write(env.at("/s/emoji.txt"), "x\n😀 smile\n"));
      const whole = await env.backend.grep("😀", env.at("/s"));
      expect(whole.matches).toEqual([{ path: env.at("/s/emoji.txt"), line: 2, text: "😀 smile" }]);
      for (const pattern of ["\ud83d", "\ude00", "\ude00 smile", "x\ud800", "\udfff\ud800"]) {
        for (const maxCount of [null, 1]) {
          const result = await env.backend.grep(pattern, env.at("/"), null, maxCount);
          expectSuccess(result, `grep(${JSON.stringify(pattern)})`);
          expect(result.matches, JSON.stringify(pattern)).toEqual([]);
          expect(result.truncated ?? false).toBe(false);
        }
      }
    });

    ctx.rule("a negative maxCount is invalid_argument", async (env) => {
      expectFailure(await env.backend.grep("x", env.at("/"), null, -1), "invalid_argument");
    });
  });
}
