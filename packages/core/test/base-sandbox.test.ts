import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BaseSandbox, type BaseSandboxOptions } from "../src/base-sandbox.js";
import type { ExecuteResponse, FileDownloadResponse, FileUploadResponse } from "../src/protocol.js";
import { encodeUtf8 } from "../src/text.js";

/**
 * A BaseSandbox over this machine's own shell and files (a real POSIX sh, find, stat, readlink),
 * with none of the optional hooks: reads go through the generic path, which asks for sizes first.
 * It records what it was asked to download, and lets a test hold a download.
 */
class HostShellSandbox extends BaseSandbox {
  readonly id = "host-shell";
  readonly downloaded: string[] = [];
  /** When set, each download waits for it first. */
  downloadGate: Promise<void> | undefined;
  /** Bytes appended to a file as it is downloaded (a file that grows after its size was checked). */
  growOnDownload = 0;

  constructor(options?: BaseSandboxOptions) {
    super(options);
  }

  execute(command: string): Promise<ExecuteResponse> {
    return new Promise((resolve) => {
      execFile("sh", ["-c", command], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error && typeof error.code === "number" ? error.code : 0;
        resolve({ output: stdout + stderr, exitCode: code, truncated: false });
      });
    });
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    return Promise.all(
      files.map(async ([path, bytes]) => {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, bytes);
        return { path, error: null };
      }),
    );
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    this.downloaded.push(...paths);
    await this.downloadGate;
    return Promise.all(
      paths.map(async (path) => {
        try {
          const bytes = await readFile(path);
          const grown = Buffer.concat([bytes, Buffer.alloc(this.growOnDownload, 0x61)]);
          return { path, content: new Uint8Array(grown), error: null };
        } catch {
          return { path, content: null, error: "file_not_found" as const };
        }
      }),
    );
  }
}

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
