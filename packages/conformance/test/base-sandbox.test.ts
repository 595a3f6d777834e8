import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  BaseSandbox,
  checkPath,
  type ErrorCode,
  type ExecuteOptions,
  type ExecuteResponse,
  type FileDownloadResponse,
  type FileOperationError,
  type FileUploadResponse,
  shellQuote,
} from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import { defineBackendContract } from "../src/index.js";

const DEFAULT_MAX_OUTPUT_BYTES = 100_000;

/** Node's errno codes → the reference's transfer codes (and deepfs's precise code). */
function transferError(error: unknown): { error: FileOperationError; code: ErrorCode } {
  switch ((error as NodeJS.ErrnoException).code) {
    case "EISDIR":
      return { error: "is_directory", code: "is_directory" };
    case "ENOTDIR":
    case "EEXIST":
      return { error: "invalid_path", code: "not_a_directory" };
    case "EACCES":
    case "EPERM":
      return { error: "permission_denied", code: "permission_denied" };
    default:
      return { error: "file_not_found", code: "file_not_found" };
  }
}

/**
 * The smallest useful BaseSandbox, shaped like a container: commands run with `sh -c` inside a
 * chroot of `rootDir` (a temp directory holding only the shell tools), and transfers use node:fs on
 * the same files (`rootDir` + the sandbox path). The chroot keeps `/` small, as in a container:
 * `grep(pattern, "/")` searches the whole sandbox.
 */
class LocalShellSandbox extends BaseSandbox {
  readonly id = `local-${randomUUID()}`;

  constructor(
    private readonly rootDir: string,
    private readonly maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES,
  ) {
    super();
  }

  /** Where a sandbox path lives on this machine. */
  private hostPath(path: string): string {
    return path === "/" ? this.rootDir : `${this.rootDir}${path}`;
  }

  execute(command: string, options: ExecuteOptions = {}): Promise<ExecuteResponse> {
    return new Promise((resolve) => {
      const child = spawn(CHROOT, [this.rootDir, "/bin/sh", "-c", command], {
        env: { PATH: "/bin", HOME: "/" },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      let timedOut = false;
      const collect = (chunk: Buffer) => {
        const room = this.maxOutputBytes - size;
        if (chunk.length > room) truncated = true;
        if (room <= 0) return;
        const kept = chunk.subarray(0, room);
        chunks.push(kept);
        size += kept.length;
      };
      // Both streams feed one buffer, in the order the data arrives.
      child.stdout.on("data", collect);
      child.stderr.on("data", collect);
      const killGroup = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      };
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              killGroup();
            }, options.timeoutMs);
      options.signal?.addEventListener("abort", killGroup, { once: true });
      child.on("close", (code) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", killGroup);
        let output = Buffer.concat(chunks).toString("utf8");
        if (timedOut) output += `\nCommand timed out after ${options.timeoutMs} ms`;
        resolve({ output, exitCode: timedOut ? 124 : code, truncated });
      });
    });
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    // Synchronous node:fs: far faster than thousands of thread-pool round trips, and this is a test.
    return files.map(([rawPath, bytes]): FileUploadResponse => {
      const checked = checkPath(rawPath);
      if (!checked.ok) return { path: rawPath, error: "invalid_path", code: "invalid_path", message: checked.error };
      const path = checked.path;
      if (!(bytes instanceof Uint8Array)) {
        return {
          path,
          error: "invalid_path",
          code: "invalid_argument",
          message: `Content for '${path}' must be bytes`,
        };
      }
      if (path === "/") return { path, error: "is_directory", code: "is_directory", message: "'/' is a directory" };
      try {
        mkdirSync(dirname(this.hostPath(path)), { recursive: true });
        writeFileSync(this.hostPath(path), bytes);
        return { path, error: null };
      } catch (error) {
        return { path, ...transferError(error), message: `Could not write '${path}'` };
      }
    });
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    return Promise.all(
      paths.map(async (rawPath): Promise<FileDownloadResponse> => {
        const checked = checkPath(rawPath);
        if (!checked.ok)
          return { path: rawPath, content: null, error: "invalid_path", code: "invalid_path", message: checked.error };
        const path = checked.path;
        try {
          return { path, content: new Uint8Array(await readFile(this.hostPath(path))), error: null };
        } catch (error) {
          return { path, content: null, ...transferError(error), message: `Could not read '${path}'` };
        }
      }),
    );
  }
}

const CHROOT = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"].find((p) => existsSync(p)) ?? "chroot";
/** Commands the scripts and the contract's execute rules use. */
const TOOLS = ["sh", "find", "grep", "stat", "mktemp", "rm", "mkdir", "cat", "echo", "printf", "sleep", "wc", "ls"];
// A RAM disk where there is one: the contract seeds thousands of small files.
const IMAGE_PARENT = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const BUSYBOX = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));

/** Copies a binary and the shared libraries `ldd` names into `root`, at the same paths. */
function copyWithLibraries(root: string, binary: string, as: string): void {
  mkdirSync(dirname(join(root, as)), { recursive: true });
  copyFileSync(binary, join(root, as));
  const ldd = spawnSync("ldd", [binary], { encoding: "utf8" });
  for (const lib of ldd.stdout.matchAll(/(\/\S+) \(0x/g)) {
    const path = lib[1] as string;
    if (existsSync(join(root, path))) continue;
    mkdirSync(dirname(join(root, path)), { recursive: true });
    copyFileSync(path, join(root, path));
  }
}

/** A directory that works as a container image: `/bin` with the tools, `/dev/null`, `/tmp`, `/work` for tests. */
function buildImage(kind: "gnu" | "busybox"): string {
  const root = mkdtempSync(join(IMAGE_PARENT, `deepfs-${kind}-image-`));
  for (const dir of ["bin", "work"]) mkdirSync(join(root, dir));
  mkdirSync(join(root, "tmp"), { mode: 0o1777 });
  // Every container has /dev/null; the scripts send stderr there.
  mkdirSync(join(root, "dev"));
  execFileSync("mknod", ["-m", "666", join(root, "dev/null"), "c", "1", "3"]);
  for (const tool of TOOLS) {
    if (kind === "busybox") {
      if (tool === "sh") copyFileSync(BUSYBOX as string, join(root, "bin/busybox"));
      symlinkSync("/bin/busybox", join(root, "bin", tool));
    } else {
      const binary = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
      // Shell builtins (echo, printf) need no binary when the host has none.
      if (binary.startsWith("/")) copyWithLibraries(root, binary, `/bin/${tool}`);
    }
  }
  return root;
}

/** Why the chroot sandboxes cannot run here, or undefined when they can. */
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "chroot and mknod need root; the BaseSandbox contract run is skipped";
  if (!BUSYBOX) return "busybox is not installed (apt-get install busybox-static)";
  return undefined;
}

const skip = unavailable();
if (skip) console.warn(`SKIP BaseSandbox contract: ${skip}`);
const images = skip ? undefined : { gnu: buildImage("gnu"), busybox: buildImage("busybox") };
afterAll(() => {
  for (const image of Object.values(images ?? {})) rmSync(image, { recursive: true, force: true });
});

/** A fresh directory of the image as the test's root, removed afterwards. */
async function subjectIn(image: string, maxOutputBytes?: number) {
  const root = `/work/t-${randomUUID()}`;
  await mkdir(join(image, root));
  return {
    backend: new LocalShellSandbox(image, maxOutputBytes),
    root,
    hostRoot: join(image, root),
    cleanup: () => rm(join(image, root), { recursive: true, force: true }),
  };
}

for (const kind of ["gnu", "busybox"] as const) {
  const label = kind === "gnu" ? "GNU sh/find/grep/stat" : "busybox sh/find/grep/stat";
  defineBackendContract({ name: `BaseSandbox (${label})`, create: () => subjectIn(images?.[kind] ?? ""), skip });

  describe.skipIf(skip)(`BaseSandbox specifics (${label})`, () => {
    it("listings survive names with newlines and quotes", async () => {
      const subject = await subjectIn(images?.[kind] ?? "");
      try {
        await writeFile(join(subject.hostRoot, "evil\n0 0 0 fake"), "needle\n");
        await writeFile(join(subject.hostRoot, "it's ok.txt"), "needle\n");
        const listed = await subject.backend.ls(subject.root);
        // The newline name is not a valid virtual path and is left out; nothing is mis-parsed.
        expect(listed.files?.map((f) => f.path)).toEqual([`${subject.root}/it's ok.txt`]);
        const grep = await subject.backend.grep("needle", subject.root);
        expect(grep.matches).toEqual([{ path: `${subject.root}/it's ok.txt`, line: 1, text: "needle" }]);
      } finally {
        await subject.cleanup();
      }
    });

    it("a listing larger than the output cap is read back through a temp file", async () => {
      const subject = await subjectIn(images?.[kind] ?? "", 2_000);
      try {
        for (let i = 0; i < 200; i++)
          await writeFile(join(subject.hostRoot, `file-${String(i).padStart(3, "0")}.txt`), "x");
        expect((await subject.backend.ls(subject.root)).files).toHaveLength(200);
        expect((await subject.backend.glob("*.txt", subject.root)).files).toHaveLength(200);
        const leftovers = await subject.backend.execute("ls /tmp");
        expect(leftovers.output.trim(), "the temp files are removed").toBe("");
      } finally {
        await subject.cleanup();
      }
    });

    it("arguments are quoted for sh", async () => {
      const subject = await subjectIn(images?.[kind] ?? "");
      try {
        const hostile = `a'b"c$(echo pwned)\`x\`;*`;
        const result = await subject.backend.execute(`printf '%s' ${shellQuote(hostile)}`);
        expect(result.output).toBe(hostile);
        expect((await subject.backend.write(`${subject.root}/${hostile}`, "safe")).code).toBeUndefined();
        expect((await subject.backend.ls(subject.root)).files?.map((f) => f.path)).toEqual([
          `${subject.root}/${hostile}`,
        ]);
      } finally {
        await subject.cleanup();
      }
    });
  });
}
