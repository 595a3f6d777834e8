import { describe, expect, it } from "vitest";
import { binaryDiff, diffContents, unifiedDiff } from "../src/index.js";

describe("unifiedDiff", () => {
  it("is a git-style patch of two texts, and empty when they are equal", () => {
    expect(unifiedDiff("/a.txt", "one\ntwo\n", "one\nTWO\n")).toBe(
      "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n",
    );
    expect(unifiedDiff("/a.txt", "same\n", "same\n")).toBe("");
  });

  it("names /dev/null for the side of a file that does not exist", () => {
    expect(unifiedDiff("/new.txt", null, "x\n")).toBe("--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,1 @@\n+x\n");
    expect(unifiedDiff("/old.txt", "x\n", null)).toBe("--- a/old.txt\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n");
  });
});

describe("diffContents", () => {
  it("summarises binary changes (invalid UTF-8, or text holding NUL) by size", () => {
    expect(binaryDiff(new Uint8Array(3), null)).toBe("binary, 3 → 0 bytes");
    expect(diffContents("/img.png", new Uint8Array([0xff, 2]), new Uint8Array([1, 2, 3]))).toBe("binary, 2 → 3 bytes");
    expect(diffContents("/img.png", new Uint8Array([0, 2]), null)).toBe("binary, 2 → 0 bytes");
    expect(diffContents("/x.bin", "\u0000ab", "é")).toBe("binary, 3 → 2 bytes");
    expect(diffContents("/t.txt", "a\n", "b\n")).toContain("-a\n+b\n");
  });

  it("diffs bytes that are valid UTF-8 as text (stores that answer bytes for every file)", () => {
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(diffContents("/s3.txt", bytes("été\n"), bytes("hiver\n"))).toBe(
      "--- a/s3.txt\n+++ b/s3.txt\n@@ -1,1 +1,1 @@\n-été\n+hiver\n",
    );
    expect(diffContents("/new.txt", null, bytes("x\n"))).toContain("+x\n");
  });
});
