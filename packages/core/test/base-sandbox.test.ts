import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeUtf8 } from "../src/text.js";

import { HostShellSandbox } from "./support/host-shell-sandbox.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("BaseSandbox against hostile files (generic path: sizes first)", () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "deepfs-base-sandbox-"));
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("never downloads a file over maxFileSizeMb for read, readRaw, edit or grep: too_large, grep skips it", async () => {
    const sandbox = new HostShellSandbox({ maxFileSizeMb: 0.001 });
    const small = `${root}/small.txt`;
    const big = `${root}/big.txt`;
    await sandbox.uploadFiles([
      [small, encodeUtf8("needle\n")],
      [big, encodeUtf8(`needle\n${"x".repeat(2000)}`)],
    ]);
    sandbox.downloaded.length = 0;
    const read = await sandbox.read(big);
    expect(read).toMatchObject({ code: "too_large" });
    expect(read.error).toContain("2007 bytes, over this sandbox's read limit of 1048 bytes");
    expect(await sandbox.readRaw(big)).toMatchObject({ code: "too_large" });
    expect(await sandbox.edit(big, "needle", "pin")).toMatchObject({ code: "too_large" });
    expect((await sandbox.grep("needle", root)).matches).toEqual([{ path: small, line: 1, text: "needle" }]);
    expect(sandbox.downloaded).toEqual([small]);
    expect(await sandbox.read(small)).toMatchObject({ content: "needle" });
  });

  it("answers a FIFO with invalid_argument without downloading it, and a file grown meanwhile with too_large", async () => {
    const sandbox = new HostShellSandbox({ maxFileSizeMb: 0.001 });
    const fifo = `${root}/pipe.txt`;
    expect(await sandbox.execute(`mkfifo '${fifo}'`)).toMatchObject({ exitCode: 0 });
    expect(await sandbox.read(fifo)).toMatchObject({ code: "invalid_argument" });
    expect(sandbox.downloaded).toEqual([]);
    await sandbox.write(`${root}/g.txt`, "small");
    sandbox.growOnDownload = 5000;
    expect(await sandbox.read(`${root}/g.txt`)).toMatchObject({ code: "too_large" });
  });

  it("serialises edits and uploads of one file made through a linked directory", async () => {
    const sandbox = new HostShellSandbox();
    const real = `${root}/real/f.txt`;
    const alias = `${root}/alias/f.txt`;
    await sandbox.write(real, "a-old b-old");
    expect(await sandbox.execute(`ln -s real '${root}/alias'`)).toMatchObject({ exitCode: 0 });
    // The edit's download is held: an upload through the other name must wait for the whole edit.
    let open = () => {};
    sandbox.downloadGate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const editing = sandbox.edit(real, "a-old", "a-new");
    while (!sandbox.downloaded.includes(real)) await sleep(5);
    sandbox.downloadGate = undefined;
    const uploading = sandbox.uploadFiles([[alias, encodeUtf8("uploaded")]]);
    await sleep(100);
    expect(await readFile(real, "utf8")).toBe("a-old b-old");
    open();
    expect(await editing).toMatchObject({ occurrences: 1 });
    expect(await uploading).toEqual([{ path: alias, error: null }]);
    // The acknowledged upload came last and was not undone.
    expect(await readFile(real, "utf8")).toBe("uploaded");

    await sandbox.write(real, Array.from({ length: 20 }, (_, i) => `t${i}-old`).join(" "));
    const edits = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sandbox.edit(i % 2 ? alias : real, `t${i}-old`, `t${i}-new`)),
    );
    expect(edits.map((e) => e.code ?? null)).toEqual(edits.map(() => null));
    expect(await readFile(real, "utf8")).toBe(Array.from({ length: 20 }, (_, i) => `t${i}-new`).join(" "));
  });

  it("refuses a non-positive maxFileSizeMb at construction", () => {
    expect(() => new HostShellSandbox({ maxFileSizeMb: 0 })).toThrow(/maxFileSizeMb/);
    expect(() => new HostShellSandbox({ maxFileSizeMb: Number.NaN })).toThrow(/maxFileSizeMb/);
  });
});
