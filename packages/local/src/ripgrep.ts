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
 * Once `signal` is aborted (the caller's answer passed its bounds) ripgrep is killed and the names
 * found so far are the answer: nothing more is read from it.
 */
export function ripgrepCandidates(
  executable: string,
  pattern: string,
  host: string,
  path: string,
  maxBytes: number,
  found?: (file: WalkedFile) => void,
  signal?: AbortSignal,
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
    const files: WalkedFile[] = [];
    const add = found ?? ((file: WalkedFile) => files.push(file));
    // Not spawn's own `signal`, which fails the call: a search stopped on purpose is no failure.
    // Nor is its end awaited: a child of ripgrep's (a wrapper's) may hold the pipe open.
    const stop = () => {
      child.kill("SIGKILL");
      child.stdout.destroy();
      resolve(files);
    };
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop, { once: true });
    child.on("close", () => signal?.removeEventListener("abort", stop));
    // Names end with NUL; a chunk may end inside one, whose bytes wait for the next chunk.
    let rest: Buffer = Buffer.alloc(0);
    child.stdout.on("data", (chunk: Buffer) => {
      if (signal?.aborted) return;
      const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let end = bytes.indexOf(0); end !== -1; end = bytes.indexOf(0, start)) {
        const file = fileOf(bytes.toString("utf8", start, end), host, path);
        if (file) add(file);
        start = end + 1;
      }
      rest = bytes.subarray(start);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      // 0: matches, 1: none, 2: some files could not be read (the rest is still reported).
      if (code !== 0 && code !== 1 && code !== 2) {
        reject(Object.assign(new Error(`ripgrep exited with ${code}`), { code: "ERIPGREP" }));
        return;
      }
      resolve(files);
    });
  });
}

/** The file ripgrep named `found` (a host path below `host`), or null when no virtual path shows it. */
function fileOf(found: string, host: string, path: string): WalkedFile | null {
  if (found === "" || !(found === host || found.startsWith(host === "/" ? "/" : `${host}/`))) return null;
  const rel = found.slice(host === "/" ? 1 : host.length + 1);
  if (rel.split("/").some((name) => !isVisibleName(name))) return null;
  return { host: found, path: rel === "" ? path : path === "/" ? `/${rel}` : `${path}/${rel}` };
}
