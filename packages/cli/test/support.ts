import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The built binary, run as a user runs it. */
export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

/** What one run of the binary did. */
export interface RunResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
  /** stdout as UTF-8 text. */
  text: string;
}

/** Runs `node dist/bin.js ...args`, feeding `input` on stdin. */
export function deepfs(
  args: string[],
  options: { input?: Uint8Array | string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (status) => {
      const stdout = Buffer.concat(out);
      resolve({ status, stdout, stderr: Buffer.concat(err).toString("utf8"), text: stdout.toString("utf8") });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A fresh temporary directory. */
export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `deepfs-cli-${label}-`));
}

/** Bytes 0..255 (and then some): every byte value, not valid UTF-8. */
export function binaryBytes(size = 4096): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + 3) % 256;
  return bytes;
}

/** Writes a tree of `count` files (text and binary, nested) under `root`; answers relative path → bytes. */
export function writeTree(root: string, count: number): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const rel = i % 5 === 0 ? `bin/blob-${i}.png` : `src/dir-${i % 7}/file ${i}.${i % 2 === 0 ? "ts" : "md"}`;
    const content =
      i % 5 === 0
        ? Buffer.concat([binaryBytes(64 + i), randomBytes(16)])
        : Buffer.from(`line one of ${i}\nTODO ${i}\n`);
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
    files.set(rel, content);
  }
  return files;
}

/** Every file under `root`: relative path → bytes. */
export function readTree(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(root, path), readFileSync(path));
    }
  };
  walk(root);
  return files;
}

/**
 * Changes a tree written by {@link writeTree} the way a user does between two syncs: rewrites 3
 * files (one binary), adds 2 (one in a new directory), deletes 1. Answers the relative paths.
 */
export function changeTree(
  root: string,
  files: Map<string, Buffer>,
): { updated: string[]; added: string[]; deleted: string[] } {
  const updated = ["src/dir-1/file 1.md", "src/dir-3/file 3.md", "bin/blob-5.png"];
  for (const rel of updated) {
    const content = rel.endsWith(".png")
      ? Buffer.concat([binaryBytes(300), randomBytes(8)])
      : Buffer.from(`changed ${rel}\n`);
    writeFileSync(join(root, rel), content);
    files.set(rel, content);
  }
  const added = ["new/deeper/added.ts", "src/dir-2/added.md"];
  for (const rel of added) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    const content = Buffer.from(`added ${rel}\n`);
    writeFileSync(join(root, rel), content);
    files.set(rel, content);
  }
  const deleted = ["src/dir-4/file 4.ts"];
  for (const rel of deleted) {
    rmSync(join(root, rel));
    files.delete(rel);
  }
  return { updated, added, deleted };
}
