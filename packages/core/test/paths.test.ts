import { describe, expect, it } from "vitest";
import {
  baseName,
  checkDirPath,
  checkPath,
  comparePaths,
  DeepfsError,
  dirPrefix,
  isWithin,
  joinPath,
  MAX_NAME_BYTES,
  MAX_PATH_LENGTH,
  parentDir,
  relativeTo,
  validatePath,
} from "../src/index.js";

describe("validatePath", () => {
  it.each([
    ["/a/b.txt", "/a/b.txt"],
    ["/", "/"],
    ["/a//b", "/a/b"],
    ["//a///b//", "/a/b"],
    ["/a/b/", "/a/b"],
    ["a/b", "/a/b"],
    ["/a..b", "/a..b"],
    ["/...", "/..."],
    ["/a/..b/c..", "/a/..b/c.."],
    ["/a/~b", "/a/~b"],
    ["/with space/x y.txt", "/with space/x y.txt"],
    ["/ünï/日本語/😀.md", "/ünï/日本語/😀.md"],
    ["/+ % _ # ? [ ] { } ( ) '.txt", "/+ % _ # ? [ ] { } ( ) '.txt"],
    ['/"quoted".txt', '/"quoted".txt'],
  ])("normalises %j to %j", (input, expected) => {
    expect(validatePath(input)).toBe(expected);
    expect(checkPath(input)).toEqual({ ok: true, path: expected });
  });

  it.each([
    ["empty", ""],
    ["a '..' component", "/a/../b"],
    ["a leading '..'", "../a"],
    ["only '..'", ".."],
    ["a trailing '..'", "/a/.."],
    ["a '.' component", "/a/./b"],
    ["a leading '.'", "/./a"],
    ["a trailing '.'", "/a/."],
    ["a relative '.'", "./a"],
    ["a lone high surrogate", "/s\uD800.md"],
    ["a lone low surrogate", "/s\uDFFF.md"],
    ["a reversed surrogate pair", "/s\uDC00\uD800.md"],
    ["a leading '~'", "~"],
    ["a leading '~/'", "~/a"],
    ["a leading '~user'", "~root/.ssh"],
    ["NUL", "/a\u0000b"],
    ["a newline", "/a\nb"],
    ["a tab", "/a\tb"],
    ["ESC", "/a\u001b[31m"],
    ["DEL", "/a\u007f"],
    ["a drive prefix", "C:/Windows"],
    ["a lower-case drive prefix", "c:"],
    ["a drive prefix with backslash", "D:\\x"],
    ["a backslash", "/a\\b"],
    ["a path that is too long", `/${"a/".repeat(MAX_PATH_LENGTH)}`],
    ["a name that is too long", `/${"n".repeat(MAX_NAME_BYTES + 1)}`],
    ["a name too long in UTF-8 bytes", `/${"é".repeat(128)}`],
  ])("rejects %s with invalid_path", (_, input) => {
    const checked = checkPath(input);
    expect(checked.ok).toBe(false);
    if (!checked.ok) {
      expect(checked.code).toBe("invalid_path");
      expect(checked.error).toMatch(/^Invalid path /);
      expect(checked.error.length).toBeLessThan(300);
      expect(checked.error).not.toMatch(/[\u0000\n]/);
    }
    expect(() => validatePath(input)).toThrow(DeepfsError);
    try {
      validatePath(input);
    } catch (error) {
      expect(DeepfsError.isInstance(error) && error.code).toBe("invalid_path");
    }
  });

  it("accepts a name of exactly the maximum length", () => {
    expect(checkPath(`/${"n".repeat(MAX_NAME_BYTES)}`).ok).toBe(true);
  });

  it("names the canonical form when it refuses a '.' component", () => {
    const checked = checkPath("/a/./b/");
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.error).toContain('"/a/b"');
  });

  it("accepts a well-formed surrogate pair (an astral character)", () => {
    expect(checkPath("/\u{1F600}.md")).toEqual({ ok: true, path: "/\u{1F600}.md" });
  });

  it("refuses a non-string without throwing", () => {
    expect(checkPath(undefined as unknown as string)).toMatchObject({ ok: false, code: "invalid_path" });
    expect(checkPath(42 as unknown as string)).toMatchObject({ ok: false, code: "invalid_path" });
  });
});

describe("checkDirPath", () => {
  it.each([undefined, null, ""])("reads %j as the root", (input) => {
    expect(checkDirPath(input)).toEqual({ ok: true, path: "/" });
  });

  it("normalises and validates like checkPath", () => {
    expect(checkDirPath("/a/b/")).toEqual({ ok: true, path: "/a/b" });
    expect(checkDirPath("/a/../b")).toMatchObject({ ok: false, code: "invalid_path" });
  });
});

describe("path helpers", () => {
  it("isWithin respects segment boundaries", () => {
    expect(isWithin("/mem/x", "/mem")).toBe(true);
    expect(isWithin("/mem", "/mem")).toBe(true);
    expect(isWithin("/memo", "/mem")).toBe(false);
    expect(isWithin("/memo/x", "/mem")).toBe(false);
    expect(isWithin("/anything", "/")).toBe(true);
    expect(isWithin("/", "/a")).toBe(false);
  });

  it("relativeTo, joinPath, parentDir, baseName and dirPrefix", () => {
    expect(relativeTo("/a/b/c", "/a")).toBe("b/c");
    expect(relativeTo("/a/b", "/")).toBe("a/b");
    expect(relativeTo("/a", "/a")).toBe("");
    expect(joinPath("/a", "b/c")).toBe("/a/b/c");
    expect(joinPath("/", "b")).toBe("/b");
    expect(joinPath("/a", "")).toBe("/a");
    expect(parentDir("/a/b")).toBe("/a");
    expect(parentDir("/a")).toBe("/");
    expect(parentDir("/")).toBe("/");
    expect(baseName("/a/b.txt")).toBe("b.txt");
    expect(baseName("/")).toBe("");
    expect(dirPrefix("/a")).toBe("/a/");
    expect(dirPrefix("/")).toBe("/");
  });
});

describe("comparePaths", () => {
  const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

  it("orders by code point, which is UTF-8 byte order", () => {
    const sorted = ["/b", "/a/b", "/a", "/A", "/a b", "/é", "/\u{E000}", "/\u{FFFF}"].sort(comparePaths);
    expect(sorted).toEqual(["/A", "/a", "/a b", "/a/b", "/b", "/é", "/\u{E000}", "/\u{FFFF}"]);
  });

  it("puts astral characters after BMP private use characters", () => {
    expect(comparePaths("/\u{1F600}", "/\u{E000}")).toBeGreaterThan(0);
    expect(comparePaths("/\u{E000}", "/\u{1F600}")).toBeLessThan(0);
    expect(comparePaths("/\u{FFFF}", "/\u{10000}")).toBeLessThan(0);
    expect(comparePaths("/\u{1F600}", "/\u{1F601}")).toBeLessThan(0);
    expect(comparePaths("/\u{1F600}", "/\u{1F600}")).toBe(0);
    expect(comparePaths("/a", "/a/")).toBeLessThan(0);
  });

  it("puts astral characters after ASCII and other BMP characters below the surrogates", () => {
    expect(comparePaths("/\u{1F600}", "/a")).toBeGreaterThan(0);
    expect(comparePaths("/a", "/\u{1F600}")).toBeLessThan(0);
    expect(comparePaths("/\u{1F600}", "/\u{D7FF}")).toBeGreaterThan(0);
  });

  it("agrees with UTF-8 byte order on random BMP strings without surrogates", () => {
    const alphabet = ["a", "B", "/", " ", "é", "日", "\u{E000}", "\u{FFFD}", "~", "\u{7F}"];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const word = () =>
      Array.from({ length: Math.floor(next() * 5) }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
    for (let i = 0; i < 2000; i++) {
      const a = word();
      const b = word();
      expect(Math.sign(comparePaths(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(
        Math.sign(utf8Order(a, b)),
      );
    }
  });
});
