import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, expect, it } from "vitest";
import { LocalBackend } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

/** The user the root variant drops to: `nobody` on Debian, Ubuntu, Alpine and RHEL. */
const NOBODY = 65534;
const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/**
 * What an unprivileged user gets from a LocalBackend over the test tree: runs in the child process
 * (plain JavaScript; `process.argv` holds the dist URL and the root directory) and prints JSON.
 */
const PROBE = `
const [distUrl, rootDir] = process.argv.slice(1);
const { LocalBackend } = await import(distUrl);
const backend = new LocalBackend({ rootDir });
const [download] = await backend.downloadFiles(["/secret.txt"]);
const [upload] = await backend.uploadFiles([["/locked/u.bin", new Uint8Array([1])]]);
const result = {
  uid: process.getuid(),
  open: (await backend.read("/open.txt")).content,
  read: (await backend.read("/secret.txt")).code,
  readRaw: (await backend.readRaw("/secret.txt")).code,
  edit: (await backend.edit("/secret.txt", "secret", "x")).code,
  download: [download.error, download.code],
  ls: (await backend.ls("/locked")).code,
  readInLocked: (await backend.read("/locked/inner.txt")).code,
  writeInLocked: (await backend.write("/locked/new.txt", "x")).code,
  writeInRoot: (await backend.write("/new.txt", "x")).code,
  upload: [upload.error, upload.code],
  grep: (await backend.grep("secret")).matches,
  glob: (await backend.glob("**")).files.map((f) => f.path),
};
process.stdout.write(JSON.stringify(result));
`;

let root: ReturnType<typeof tempRoot>;
beforeEach(() => {
  root = tempRoot();
  writeFileSync(join(root.dir, "open.txt"), "public\n");
  writeFileSync(join(root.dir, "secret.txt"), "secret\n");
  mkdirSync(join(root.dir, "locked"));
  writeFileSync(join(root.dir, "locked", "inner.txt"), "secret\n");
});
afterEach(() => {
  chmodSync(root.dir, 0o700);
  chmodSync(join(root.dir, "locked"), 0o700);
  root.remove();
});

/**
 * Lets other users traverse (not list) every directory above `path` that they cannot enter yet, for
 * example a checkout inside a `mktemp -d` directory (mode 0700), so that the unprivileged probe can
 * load the built package. Returns what puts the modes back.
 */
function grantTraversal(path: string): () => void {
  const changed: Array<[string, number]> = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      changed.push([dir, mode]);
    }
    if (dir === dirname(dir)) break;
  }
  return () => {
    for (const [dir, mode] of changed) chmodSync(dir, mode);
  };
}

/** Runs {@link PROBE} with the built backend as `uid`/`gid`, returning what it printed. */
function probeAs(uid: number, rootDir: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", PROBE, pathToFileURL(DIST).href, rootDir], {
      uid,
      gid: uid,
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as Record<string, unknown>);
      else reject(new Error(`the probe exited with ${code}: ${stderr}`));
    });
  });
}

// chmod 000 does not stop root, so as root the same denial is tested from a child process that runs
// as `nobody` against root-owned files; otherwise this process is the unprivileged user.
if (process.getuid?.() === 0) {
  it("files and directories the process may not access are permission_denied (as nobody, built backend)", async () => {
    expect(existsSync(DIST), `${DIST} is missing: build @deepfs/local first`).toBe(true);
    // nobody may enter the root (not write to it), read open.txt, and nothing else.
    chmodSync(root.dir, 0o755);
    chmodSync(join(root.dir, "open.txt"), 0o644);
    chmodSync(join(root.dir, "secret.txt"), 0o600);
    chmodSync(join(root.dir, "locked"), 0o700);
    const restore = grantTraversal(DIST);
    const result = await probeAs(NOBODY, root.dir).finally(restore);
    expect(result).toEqual({
      uid: NOBODY,
      open: "public",
      read: "permission_denied",
      readRaw: "permission_denied",
      edit: "permission_denied",
      download: ["permission_denied", "permission_denied"],
      ls: "permission_denied",
      readInLocked: "permission_denied",
      writeInLocked: "permission_denied",
      writeInRoot: "permission_denied",
      upload: ["permission_denied", "permission_denied"],
      grep: [],
      glob: ["/open.txt", "/secret.txt"],
    });
  });
} else {
  it("a file with mode 000 and a directory with mode 000 are permission_denied", async () => {
    const backend = new LocalBackend({ rootDir: root.dir });
    chmodSync(join(root.dir, "secret.txt"), 0);
    chmodSync(join(root.dir, "locked"), 0);
    expect((await backend.read("/open.txt")).content).toBe("public");
    expect((await backend.read("/secret.txt")).code).toBe("permission_denied");
    expect((await backend.edit("/secret.txt", "secret", "x")).code).toBe("permission_denied");
    expect((await backend.downloadFiles(["/secret.txt"]))[0]).toMatchObject({ error: "permission_denied" });
    expect((await backend.ls("/locked")).code).toBe("permission_denied");
    expect((await backend.read("/locked/inner.txt")).code).toBe("permission_denied");
    expect((await backend.write("/locked/new.txt", "x")).code).toBe("permission_denied");
    expect((await backend.grep("secret")).matches).toEqual([]);
  });
}
