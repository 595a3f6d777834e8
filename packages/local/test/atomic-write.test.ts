import { chmodSync, readdirSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalBackend } from "../src/index.js";
import { IO_MODES } from "./io-modes.js";
import { tempRoot } from "./temp-root.js";

describe.each(IO_MODES)("with $name", ({ options }) => {
  let root: ReturnType<typeof tempRoot>;
  let backend: LocalBackend;

  beforeEach(() => {
    root = tempRoot();
    backend = new LocalBackend({ ...options, rootDir: root.dir });
  });
  afterEach(() => root.remove());

  it("a concurrent reader never sees a partial file while 5 MB files are rewritten", async () => {
    const size = 5 * 1024 * 1024;
    const versions = ["a", "b", "c", "d"].map((ch) => ch.repeat(size));
    expect((await backend.write("/big.txt", versions[0] as string)).error).toBeUndefined();
    let writing = true;
    const reads: string[] = [];
    const reader = (async () => {
      while (writing) {
        const text = await readFile(join(root.dir, "big.txt"), "utf8");
        reads.push(
          text.length === size && text === (text[0] as string).repeat(size) ? "whole" : `partial ${text.length}`,
        );
      }
    })();
    for (let round = 0; round < 12; round++) {
      expect((await backend.write("/big.txt", versions[round % versions.length] as string)).error).toBeUndefined();
    }
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((r) => r !== "whole")).toEqual([]);
    // No temp files are left behind.
    expect(readdirSync(root.dir)).toEqual(["big.txt"]);
  }, 60_000);

  it("keeps the file mode on overwrite and on edit", async () => {
    expect((await backend.write("/run.sh", "#!/bin/sh\necho one\n")).error).toBeUndefined();
    chmodSync(join(root.dir, "run.sh"), 0o751);
    expect((await backend.write("/run.sh", "#!/bin/sh\necho two\n")).error).toBeUndefined();
    expect(statSync(join(root.dir, "run.sh")).mode & 0o7777).toBe(0o751);
    expect((await backend.edit("/run.sh", "two", "three")).error).toBeUndefined();
    expect(statSync(join(root.dir, "run.sh")).mode & 0o7777).toBe(0o751);
    expect(readFileSync(join(root.dir, "run.sh"), "utf8")).toBe("#!/bin/sh\necho three\n");
  });

  it("etags change on every content change, even within one timestamp tick and at the same size", async () => {
    const etags = new Set<string>();
    for (const content of ["aaaa", "bbbb", "cccc", "aaab"]) {
      const written = await backend.write("/t.txt", content);
      expect(written.etag).toBeTypeOf("string");
      etags.add(written.etag as string);
      expect((await backend.read("/t.txt")).etag).toBe(written.etag);
    }
    expect(etags.size).toBe(4);
    // Identical bytes keep the etag, so ifMatch does not fail spuriously.
    const again = await backend.write("/t.txt", "aaab");
    expect(etags.has(again.etag as string)).toBe(true);
  });

  it("concurrent edits of one file in one process all apply", async () => {
    const names = Array.from({ length: 40 }, (_, i) => `line-${i}`);
    expect((await backend.write("/c.txt", names.map((n) => `${n}: todo`).join("\n"))).error).toBeUndefined();
    const results = await Promise.all(names.map((n) => backend.edit("/c.txt", `${n}: todo`, `${n}: done`)));
    expect(results.filter((r) => r.error)).toEqual([]);
    const text = readFileSync(join(root.dir, "c.txt"), "utf8");
    expect(text).toBe(names.map((n) => `${n}: done`).join("\n"));
  });

  it("ifMatch is checked under the same lock as the write", async () => {
    const first = await backend.write("/m.txt", "v1");
    const attempts = await Promise.all(
      Array.from({ length: 10 }, (_, i) => backend.write("/m.txt", `v2-${i}`, { ifMatch: first.etag as string })),
    );
    expect(attempts.filter((a) => a.error === undefined)).toHaveLength(1);
    expect(attempts.filter((a) => a.code === "conflict")).toHaveLength(9);
  });
});
