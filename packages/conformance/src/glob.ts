import { checkDirPath, comparePaths, createGlobMatcher } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";
import { seed, type Tree, treePaths } from "./fixtures.js";

/** One fixed tree: dotfiles, nesting, spaces, brackets and other glob syntax in names. */
export const GLOB_TREE: Tree = {
  "/.env": "E=1\n",
  "/.hidden/secret.txt": "s\n",
  "/a.txt": "a\n",
  "/b.txt": "b\n",
  "/c.txt": "c\n",
  "/x.md": "x\n",
  "/ab.md": "ab\n",
  "/README.md": "readme\n",
  "/index.ts": "i\n",
  "/src/index.ts": "i\n",
  "/src/util.ts": "u\n",
  "/src/x.ts": "x\n",
  "/src/lib/x.ts": "x\n",
  "/src/lib/deep/y.ts": "y\n",
  "/src/lib/deep/z.test.ts": "z\n",
  "/src/app/x.ts": "x\n",
  "/src/app/x.tsx": "x\n",
  "/src/.hidden/h.ts": "h\n",
  "/a/doc.md": "d\n",
  "/a/b/notes.md": "n\n",
  "/b/c/d/e.md": "e\n",
  "/c/skip.md": "s\n",
  "/docs/my file.md": "m\n",
  "/docs/[draft].md": "d\n",
  "/docs/d.md": "d\n",
  "/docs/(old) v2.md": "o\n",
  "/docs/brace{1}.md": "b\n",
  "/test/x.test.ts": "t\n",
  "/test/fixtures/.gitkeep": "",
  "/图片/猫.png": new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
};

/** A pattern, the search directory (relative to the root) and whether it must match something. */
interface GlobCase {
  pattern: string;
  path: string;
  /** The case is meaningless if the core matcher finds nothing (guards against a vacuous table). */
  empty?: boolean;
}

export const GLOB_CASES: GlobCase[] = [
  { pattern: "*.ts", path: "/" },
  { pattern: "**/*.ts", path: "/" },
  { pattern: "src/**", path: "/" },
  { pattern: "src/*/x.ts", path: "/" },
  { pattern: "src/**/x.ts", path: "/" },
  { pattern: "?.md", path: "/" },
  { pattern: "?.txt", path: "/" },
  { pattern: "[ab].txt", path: "/" },
  { pattern: "[!a].txt", path: "/" },
  { pattern: "{a,b}/**/*.md", path: "/" },
  { pattern: "**/*.{md,txt}", path: "/" },
  // Alternatives in different directories (under a router with routes at /a/ and /a/b/: spanning them).
  { pattern: "{a/doc.md,a/b/notes.md}", path: "/" },
  { pattern: "/{a/doc.md,a/b/**}", path: "/" },
  { pattern: ".*", path: "/" },
  { pattern: "**/.hidden/*", path: "/" },
  { pattern: "**/.gitkeep", path: "/" },
  { pattern: "/src/**/*.ts", path: "/" },
  { pattern: "/src/*.ts", path: "/docs", empty: true },
  { pattern: "docs/\\[draft\\].md", path: "/" },
  { pattern: "docs/[[]draft].md", path: "/" },
  { pattern: "docs/*.md", path: "/" },
  { pattern: "docs/my file.md", path: "/" },
  { pattern: "**/\\(old\\) v2.md", path: "/" },
  { pattern: "docs/brace{1}.md", path: "/" },
  { pattern: "**/*v2.md", path: "/" },
  { pattern: "**/*.test.ts", path: "/" },
  { pattern: "**/猫.png", path: "/" },
  { pattern: "**", path: "/" },
  { pattern: "*", path: "/" },
  { pattern: "*.ts", path: "/src" },
  { pattern: "**/*.ts", path: "/src" },
  { pattern: "lib/**", path: "/src" },
  { pattern: "*/x.ts", path: "/src" },
  { pattern: "**/.hidden/*", path: "/src" },
  { pattern: "**", path: "/src/lib/" },
  { pattern: "*.md", path: "/docs" },
  { pattern: "**", path: "/missing", empty: true },
  { pattern: "*.ts", path: "/missing/dir", empty: true },
  { pattern: "*.nothing", path: "/", empty: true },
  { pattern: "nomatch/**", path: "/", empty: true },
];

/** The pattern as sent: an anchored pattern is anchored at the root of this test's files. */
function patternFor(env: RuleEnv, pattern: string): string {
  return pattern.startsWith("/") && env.root !== "/" ? `${env.root}${pattern}` : pattern;
}

/** What the core matcher says the backend must return. */
export function expectedGlob(env: RuleEnv, tree: Tree, pattern: string, path: string): string[] {
  const dir = checkDirPath(env.at(path));
  if (!dir.ok) throw new Error(dir.error);
  const matches = createGlobMatcher(patternFor(env, pattern), dir.path);
  return treePaths(env, tree).filter(matches);
}

export function registerGlobRules(ctx: ContractContext): void {
  describe("glob", () => {
    for (const { pattern, path, empty } of GLOB_CASES) {
      ctx.rule(
        `glob(${JSON.stringify(pattern)}, ${JSON.stringify(path)}) returns what the core matcher selects`,
        async (env) => {
          await seed(env, GLOB_TREE);
          const expected = expectedGlob(env, GLOB_TREE, pattern, path);
          expect(expected.length === 0, "table sanity: the core matcher's result").toBe(empty === true);
          const result = await env.backend.glob(patternFor(env, pattern), env.at(path));
          expectSuccess(result);
          expect(pathsOf(result.files)).toEqual(expected);
          for (const file of result.files ?? []) expect(file.is_dir ?? false, `${file.path} is a file`).toBe(false);
          expect(result.truncated ?? false).toBe(false);
        },
      );
    }

    ctx.rule("returns files only, never directories, as absolute sorted paths with sizes", async (env) => {
      await seed(env, GLOB_TREE);
      const result = await env.backend.glob("**", env.at("/"));
      expectSuccess(result);
      const paths = pathsOf(result.files);
      expect(paths).toEqual(treePaths(env, GLOB_TREE));
      expect([...paths].sort(comparePaths)).toEqual(paths);
      for (const file of result.files ?? []) {
        expect(file.path.startsWith("/")).toBe(true);
        expect(file.path.endsWith("/")).toBe(false);
      }
      const png = result.files?.find((f) => f.path === env.at("/图片/猫.png"));
      expect(png?.size).toBe(4);
    });
  });
}
