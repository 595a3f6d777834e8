import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BaseSandboxOptions } from "../src/base-sandbox.js";
import { DriverBackend } from "../src/kit/facade.js";
import { encodeUtf8 } from "../src/text.js";

import { HostShellSandbox } from "./support/host-shell-sandbox.js";

describe("BaseSandbox limits", () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "deepfs-sandbox-bounds-"));
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("an edit never makes a file larger than maxFileSizeMb", async () => {
    const sandbox = new HostShellSandbox({ maxFileSizeMb: 0.001 });
    const path = `${root}/a.txt`;
    const text = `${"a".repeat(1000)}\n`;
    expect((await sandbox.write(path, text)).error).toBeUndefined();
    // 1,001 bytes, each "a" doubled: 2,001, over the read limit of 1,048 bytes.
    const refused = await sandbox.edit(path, "a", "aa", true);
    expect(refused.code).toBe("too_large");
    expect(await readFile(path, "utf8")).toBe(text);
    // Up to the limit exactly, the edit goes through and the file reads back.
    expect((await sandbox.edit(path, "\n", `${"b".repeat(47)}\n`)).occurrences).toBe(1);
    expect((await sandbox.read(path)).error).toBeUndefined();
    expect(DriverBackend.driverOf(sandbox)?.capabilities.limits).toEqual({ maxFileBytes: 1048 });
  });

  it("maxGrepMatches and maxGrepTextLength: too_large, and no download past the batch that passed them", async () => {
    const files = Array.from({ length: 100 }, (_, i): [string, Uint8Array] => [
      `${root}/f${String(i).padStart(3, "0")}.txt`,
      encodeUtf8("hit\nmiss\n"),
    ]);
    const unbounded = new HostShellSandbox();
    await unbounded.uploadFiles(files);
    expect((await unbounded.grep("hit", root)).matches).toHaveLength(100);
    expect(unbounded.downloaded).toHaveLength(100);

    for (const [options, passed] of [
      [{ maxGrepMatches: 10 }, "more than 10 matching lines"],
      [{ maxGrepTextLength: 50 }, "more than 50 characters of matching lines"],
    ] as Array<[BaseSandboxOptions, string]>) {
      const sandbox = new HostShellSandbox(options);
      const refused = await sandbox.grep("hit", root);
      expect(refused.code).toBe("too_large");
      expect(refused.error).toContain(passed);
      // Files are downloaded 32 at a time, in path order: the first batch passed the bound.
      expect(sandbox.downloaded).toEqual(files.slice(0, 32).map(([path]) => path));
    }
    // A cap within the bound of lines answers as always.
    const capped = await new HostShellSandbox({ maxGrepMatches: 10 }).grep("hit", root, null, 10);
    expect([capped.matches?.length, capped.truncated]).toEqual([10, true]);
    const both = new HostShellSandbox({ maxGrepMatches: 10, maxGrepTextLength: 50 });
    expect(DriverBackend.driverOf(both)?.capabilities.limits).toEqual({
      maxFileBytes: 10 * 1024 * 1024,
      maxGrepMatches: 10,
      maxGrepTextLength: 50,
    });
    expect(() => new HostShellSandbox({ maxGrepMatches: -1 })).toThrow(/maxGrepMatches/);
    expect(() => new HostShellSandbox({ maxGrepTextLength: Number.NaN })).toThrow(/maxGrepTextLength/);
  });
});
