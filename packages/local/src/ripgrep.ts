import { execFile, spawn } from "node:child_process";
import type { WalkedFile } from "./walk.js";
import { isVisibleName } from "./walk.js";

/** True when the ripgrep executable runs. */
export function ripgrepAvailable(executable: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(executable, ["--version"], { timeout: 10_000 }, (error) => resolve(!error));
  });
}

/**
 * Files below `host` (virtual path `path`) that contain `pattern` as a literal, by ripgrep. This
 * is a candidate list only, a superset of what the core rule would search: `-l` stops at the first
 * hit, `--encoding none` disables transcoding, binary detection and size limits are re-applied by
 * the caller. Hidden files are searched, ignore files are not applied, symlinks are not followed.
 */
export function ripgrepCandidates(
  executable: string,
  pattern: string,
  host: string,
  path: string,
  maxBytes: number,
): Promise<WalkedFile[]> {
  const args = [
    "--files-with-matches",
    "--null",
    "--fixed-strings",
    "--hidden",
    "--no-ignore",
    "--no-follow",
    "--no-config",
    "--no-messages",
    "--encoding=none",
    `--max-filesize=${maxBytes}`,
    "--regexp",
    pattern,
    "--",
    host,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: ["ignore", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      // 0: matches, 1: none, 2: some files could not be read (the rest is still reported).
      if (code !== 0 && code !== 1 && code !== 2) {
        reject(Object.assign(new Error(`ripgrep exited with ${code}`), { code: "ERIPGREP" }));
        return;
      }
      const files: WalkedFile[] = [];
      for (const found of Buffer.concat(chunks).toString("utf8").split("\0")) {
        if (found === "" || !(found === host || found.startsWith(host === "/" ? "/" : `${host}/`))) continue;
        const rel = found.slice(host === "/" ? 1 : host.length + 1);
        if (rel.split("/").some((name) => !isVisibleName(name))) continue;
        files.push({ host: found, path: rel === "" ? path : path === "/" ? `/${rel}` : `${path}/${rel}` });
      }
      resolve(files);
    });
  });
}
