import { describe, expect, it } from "vitest";
import { createGlobMatcher, createGrepGlobFilter, globSearchRoot, grepGlobSearchRoot } from "../src/index.js";

const TREE = [
  "/a.py",
  "/b.ts",
  "/.env",
  "/.git/config",
  "/src/a.py",
  "/src/b.ts",
  "/src/lib/c.ts",
  "/src/lib/deep/d.ts",
  "/src/.hidden/e.ts",
  "/docs/x.md",
  "/docs/ab.md",
  "/docs/a[1].md",
  "/docs/with space.md",
  "/x/src/f.ts",
];

const select = (pattern: string, dir = "/") => TREE.filter(createGlobMatcher(pattern, dir));

describe("createGlobMatcher", () => {
  it("matches `*suffix`, `prefix*` and `**/x` (string fast paths) as the general matcher does", () => {
    // The same names through patterns that take the general path (a class, a `?`, an extra segment).
    const names = [
      "/.ts",
      "/a.ts",
      "/a.tsx",
      "/😀.ts",
      "/x/😀😀.ts",
      "/ts",
      "/a.ts/b",
      "/d/e/f.ts",
      "/pre",
      "/prefix.md",
    ];
    const pairs: Array<[string, string]> = [
      ["*.ts", "*.t[s]"],
      ["**/*.ts", "**/*.t[s]"],
      ["pre*", "pr[e]*"],
      ["**/pre*", "**/pr[e]*"],
      ["*😀.ts", "*😀.t[s]"],
      ["**/😀*", "**/[😀]*"],
    ];
    for (const [fast, general] of pairs) {
      expect(names.filter(createGlobMatcher(fast)), fast).toEqual(names.filter(createGlobMatcher(general)));
    }
    expect(names.filter(createGlobMatcher("**/*.ts"))).toEqual(["/.ts", "/a.ts", "/😀.ts", "/x/😀😀.ts", "/d/e/f.ts"]);
  });

  it.each([
    ["*.py", "/", ["/a.py"]],
    ["**/*.py", "/", ["/a.py", "/src/a.py"]],
    ["*", "/", ["/a.py", "/b.ts", "/.env"]],
    ["**", "/", TREE],
    ["src/*", "/", ["/src/a.py", "/src/b.ts"]],
    ["src/**", "/", ["/src/a.py", "/src/b.ts", "/src/lib/c.ts", "/src/lib/deep/d.ts", "/src/.hidden/e.ts"]],
    ["src/**/*.ts", "/", ["/src/b.ts", "/src/lib/c.ts", "/src/lib/deep/d.ts", "/src/.hidden/e.ts"]],
    ["**/src/*.ts", "/", ["/src/b.ts", "/x/src/f.ts"]],
    ["docs/?.md", "/", ["/docs/x.md"]],
    ["docs/??.md", "/", ["/docs/ab.md"]],
    ["docs/[ax]*.md", "/", ["/docs/x.md", "/docs/ab.md", "/docs/a[1].md"]],
    ["docs/{x,ab}.md", "/", ["/docs/x.md", "/docs/ab.md"]],
    ["**/*.{py,md}", "/", ["/a.py", "/src/a.py", "/docs/x.md", "/docs/ab.md", "/docs/a[1].md", "/docs/with space.md"]],
    ["docs/with space.md", "/", ["/docs/with space.md"]],
    [".git/*", "/", ["/.git/config"]],
    ["*.ts", "/src", ["/src/b.ts"]],
    ["**/*.ts", "/src/lib", ["/src/lib/c.ts", "/src/lib/deep/d.ts"]],
    ["lib/*.ts", "/src", ["/src/lib/c.ts"]],
    ["/src/*.ts", "/", ["/src/b.ts"]],
    ["/src/*.ts", "/src", ["/src/b.ts"]],
    ["/src/*.ts", "/docs", []],
    ["/**/d.ts", "/src/lib", ["/src/lib/deep/d.ts"]],
    ["*.md", "/nope", []],
  ])("%j in %j", (pattern, dir, expected) => {
    expect(select(pattern, dir)).toEqual(expected);
  });

  it("never matches the search directory itself", () => {
    expect(createGlobMatcher("**", "/src/a.py")("/src/a.py")).toBe(false);
  });

  it("matches names with glob metacharacters as plain files", () => {
    expect(createGlobMatcher("*.md", "/docs")("/docs/a[1].md")).toBe(true);
  });
});

describe("createGrepGlobFilter", () => {
  const filter = (pattern: string, dir = "/") => TREE.filter(createGrepGlobFilter(pattern, dir));

  it("matches the basename at any depth for a pattern without '/'", () => {
    expect(filter("*.py")).toEqual(["/a.py", "/src/a.py"]);
    expect(filter("c.ts")).toEqual(["/src/lib/c.ts"]);
    expect(filter("*.ts", "/src/lib")).toEqual(["/src/lib/c.ts", "/src/lib/deep/d.ts"]);
    expect(filter(".env")).toEqual(["/.env"]);
  });

  it("matches the path relative to the search root for a pattern with '/'", () => {
    expect(filter("src/*.ts")).toEqual(["/src/b.ts"]);
    expect(filter("src/**/*.ts", "/x")).toEqual(["/x/src/f.ts"]);
    expect(filter("lib/*.ts", "/src")).toEqual(["/src/lib/c.ts"]);
    expect(filter("**/*.py")).toEqual(["/a.py", "/src/a.py"]);
  });
});

describe("globSearchRoot", () => {
  it.each([
    ["*.ts", "/", "/"],
    ["**/*.ts", "/", "/"],
    ["src/**", "/", "/src"],
    ["src/lib/*.ts", "/", "/src/lib"],
    ["src/lib/*.ts", "/p", "/p/src/lib"],
    ["src/*/x/*.ts", "/", "/src"],
    ["a/{b,c}/*.ts", "/", "/a"],
    ["a/[bc]/*.ts", "/", "/a"],
    ["{a,b}/x.ts", "/", "/"],
    ["a//b/*.ts", "/", "/a/b"],
    ["{a,a}/b/*.ts", "/", "/a/b"],
    ["a/{b,c}/d/*.ts", "/", "/a"],
    ["{a/b/x,a/b/y}/*.ts", "/", "/a/b"],
    ["src", "/", "/"],
    ["/abs/dir/*.ts", "/", "/abs/dir"],
    ["/p/src/*.ts", "/p", "/p/src"],
    ["/p/*.ts", "/p/src", "/p/src"],
    ["//abs/*.ts", "/", "/abs"],
  ])("%j in %j lies below %j", (pattern, dir, root) => {
    expect(globSearchRoot(pattern, dir)).toBe(root);
  });

  it("bounds every match of the table patterns", () => {
    for (const pattern of ["src/**", "src/lib/*.ts", "/src/*.ts", "docs/{x,ab}.md", "**/*.py"]) {
      const root = globSearchRoot(pattern, "/");
      for (const path of select(pattern))
        expect(path === root || path.startsWith(root === "/" ? "/" : `${root}/`)).toBe(true);
    }
  });
});

describe("grepGlobSearchRoot", () => {
  it("narrows only for a pattern with '/'", () => {
    expect(grepGlobSearchRoot("*.py", "/x")).toBe("/x");
    expect(grepGlobSearchRoot(null, "/x")).toBe("/x");
    expect(grepGlobSearchRoot(undefined)).toBe("/");
    expect(grepGlobSearchRoot("src/*.py", "/x")).toBe("/x/src");
  });
});
