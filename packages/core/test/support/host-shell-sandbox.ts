import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { BaseSandbox, type BaseSandboxOptions } from "../../src/base-sandbox.js";
import type { ExecuteResponse, FileDownloadResponse, FileUploadResponse } from "../../src/protocol.js";

/**
 * A BaseSandbox over this machine's own shell and files (a real POSIX sh, find, stat, readlink),
 * with none of the optional hooks: reads go through the generic path, which asks for sizes first.
 * It records what it was asked to download, and lets a test hold a download.
 */
export class HostShellSandbox extends BaseSandbox {
  readonly id: string = "host-shell";
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
