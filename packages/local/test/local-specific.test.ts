import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeepfsError, internalTempName, isSandboxBackend } from "@deepfs/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readRegularFile } from "../src/file-io.js";
import { HostRoot } from "../src/host-root.js";
import { FilesystemBackend, LocalBackend, type LocalBackendOptions } from "../src/index.js";
import { IoMode } from "../src/io-mode.js";
import { tempRoot } from "./temp-root.js";

let root: ReturnType<typeof tempRoot>;
beforeEach(() => {
  root = tempRoot();
});
afterEach(() => root.remove());

describe("configuration", () => {
  it("FilesystemBackend is the same class", () => {
    expect(FilesystemBackend).toBe(LocalBackend);
  });

  it("creates a missing rootDir, refuses a file as rootDir and a missing one when read-only", () => {
    const dir = join(root.dir, "new", "root");
    new LocalBackend({ rootDir: dir });
    expect(existsSync(dir)).toBe(true);
    writeFileSync(join(root.dir, "file"), "x");
    expect(() => new LocalBackend({ rootDir: join(root.dir, "file") })).toThrow(DeepfsError);
    expect(() => new LocalBackend({ rootDir: join(root.dir, "absent"), readOnly: true })).toThrow(DeepfsError);
    expect(() => new LocalBackend({ rootDir: root.dir, maxFileSizeMb: 0 })).toThrow(DeepfsError);
  });

  it("is a sandbox backend only when execute is enabled", () => {
    expect(isSandboxBackend(new LocalBackend({ rootDir: root.dir }))).toBe(false);
    const sandbox = new LocalBackend({ rootDir: root.dir, execute: true });
    expect(isSandboxBackend(sandbox)).toBe(true);
    expect(sandbox.capabilities).toMatchObject({ execute: true, realDirectories: true, conditionalWrites: true });
  });
});

describe("read-only mode", () => {
  it("answers every mutation with read_only and changes nothing", async () => {
    writeFileSync(join(root.dir, "a.txt"), "keep\n");
    const backend = new LocalBackend({ rootDir: root.dir, readOnly: true });
    expect(backend.capabilities.readOnly).toBe(true);
    expect((await backend.write("/a.txt", "x")).code).toBe("read_only");
    expect((await backend.write("/new.txt", "x")).code).toBe("read_only");
    expect((await backend.edit("/a.txt", "keep", "x")).code).toBe("read_only");
    expect((await backend.delete("/a.txt")).code).toBe("read_only");
    const [upload] = await backend.uploadFiles([["/u.bin", new Uint8Array([1])]]);
    expect(upload).toMatchObject({ error: "permission_denied", code: "read_only" });
    expect((await backend.read("/a.txt")).content).toBe("keep");
    expect(readFileSync(join(root.dir, "a.txt"), "utf8")).toBe("keep\n");
    expect(existsSync(join(root.dir, "new.txt"))).toBe(false);
  });
});

describe("limits and native errors", () => {
  it("files over maxFileSizeMb are too_large for read and skipped by grep, but download whole", async () => {
    const backend = new LocalBackend({ rootDir: root.dir, maxFileSizeMb: 0.001 });
    writeFileSync(join(root.dir, "big.txt"), "needle\n".repeat(1000));
    expect((await backend.read("/big.txt")).code).toBe("too_large");
    expect((await backend.readRaw("/big.txt")).code).toBe("too_large");
    expect((await backend.grep("needle")).matches).toEqual([]);
    const [download] = await backend.downloadFiles(["/big.txt"]);
    expect(download?.content?.length).toBe(7000);
  });

  it("a path below a file is not_a_directory; a directory is is_directory", async () => {
    const backend = new LocalBackend({ rootDir: root.dir });
    writeFileSync(join(root.dir, "f.txt"), "x");
    mkdirSync(join(root.dir, "d"));
    expect((await backend.write("/f.txt/x.txt", "x")).code).toBe("not_a_directory");
    expect((await backend.write("/f.txt/a/b.txt", "x")).code).toBe("not_a_directory");
    expect((await backend.write("/d", "x")).code).toBe("is_directory");
    expect((await backend.read("/d")).code).toBe("is_directory");
    // An empty real directory is listed.
    expect((await backend.ls("/")).files?.map((f) => f.path)).toEqual(["/d/", "/f.txt"]);
  });

  it("readRegularFile never follows a symlink at the final component (O_NOFOLLOW)", async () => {
    writeFileSync(join(root.dir, "target.txt"), "x");
    symlinkSync(join(root.dir, "target.txt"), join(root.dir, "link.txt"));
    const host = new HostRoot(realpathSync(root.dir));
    for (const io of [new IoMode(64 * 1024), IoMode.threadpool]) {
      await expect(readRegularFile(join(root.dir, "link.txt"), 100, io, host)).rejects.toMatchObject({ code: "ELOOP" });
    }
  });
});

describe("a directory with 10,000 files", () => {
  it("ls, glob and grep handle it", async () => {
    const backend = new LocalBackend({ rootDir: root.dir });
    mkdirSync(join(root.dir, "many"));
    for (let i = 0; i < 10_000; i++)
      writeFileSync(join(root.dir, "many", `f${i}.txt`), i % 1000 === 0 ? "hit\n" : "miss\n");
    expect((await backend.ls("/many")).files).toHaveLength(10_000);
    expect((await backend.glob("many/*.txt")).files).toHaveLength(10_000);
    const grep = await backend.grep("hit");
    expect(grep.matches?.map((m) => m.path)).toEqual(
      Array.from({ length: 10 }, (_, i) => `/many/f${i * 1000}.txt`).sort(),
    );
    const builtin = new LocalBackend({ rootDir: root.dir, grepEngine: "builtin" });
    expect(await builtin.grep("hit", "/", null, 3)).toEqual({ matches: grep.matches?.slice(0, 3), truncated: true });
  }, 60_000);
});

describe("execute", () => {
  const sandbox = (options: LocalBackendOptions = {}) => new LocalBackend({ rootDir: root.dir, ...options });

  it("runs in rootDir with an empty environment unless given or inherited", async () => {
    const bare = sandbox({ execute: true });
    const pwd = await bare.execute("pwd");
    expect(pwd.output.trim()).toBe(bare.rootDir);
    expect((await bare.execute('echo "[$HOME]"')).output.trim()).toBe("[]");
    const given = sandbox({ execute: { env: { GREETING: "hi" } } });
    expect((await given.execute("echo $GREETING")).output.trim()).toBe("hi");
    process.env.DEEPFS_LOCAL_TEST_VAR = "inherited";
    const inherit = sandbox({ execute: { inheritEnv: true } });
    expect((await inherit.execute("echo $DEEPFS_LOCAL_TEST_VAR")).output.trim()).toBe("inherited");
    delete process.env.DEEPFS_LOCAL_TEST_VAR;
  });

  it("kills the whole process group on timeout with exit code 124", async () => {
    const backend = sandbox({ execute: { timeoutMs: 300 } });
    const marker = join(root.dir, "survivor");
    const result = await backend.execute(`(sleep 1; touch '${marker}') & sleep 30`);
    expect(result.exitCode).toBe(124);
    expect(result.output).toContain("timed out");
    // Past the moment the background job would have touched the marker, had it survived.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(existsSync(marker)).toBe(false);
  }, 20_000);

  it("caps output with truncated, closes stdin and reports non-zero exits", async () => {
    const backend = sandbox({ execute: { maxOutputBytes: 1000 } });
    const big = await backend.execute("yes 0123456789 | head -c 50000");
    expect(big.truncated).toBe(true);
    expect(Buffer.byteLength(big.output)).toBeLessThan(1200);
    const stdin = await backend.execute("cat; echo done");
    expect(stdin).toMatchObject({ exitCode: 0, truncated: false });
    expect(stdin.output.trim()).toBe("done");
    expect((await backend.execute("exit 7")).exitCode).toBe(7);
  });

  it("background children do not outlive execute", async () => {
    const backend = sandbox({ execute: true });
    const result = await backend.execute("sleep 30 & echo $!");
    expect(result.exitCode).toBe(0);
    const pid = Number(result.output.trim());
    expect(pid).toBeGreaterThan(0);
    expect(await gone(pid)).toBe(true);
  });

  it("close() kills running commands and their background children", async () => {
    const backend = sandbox({ execute: true });
    const pidFile = join(root.dir, "bg.pid");
    const running = backend.execute(`sleep 30 & echo $! > '${pidFile}'; sleep 30`);
    while (!existsSync(pidFile) || readFileSync(pidFile, "utf8").trim() === "") await sleep(20);
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    await backend.close();
    expect((await running).exitCode).not.toBe(0);
    expect(await gone(pid)).toBe(true);
  });

  it("refuses a timeout that is not a positive number, before running anything", async () => {
    const backend = sandbox({ execute: true });
    const marker = join(root.dir, "ran");
    for (const timeoutMs of [-1, 0, Number.NaN, "100", 2 ** 31]) {
      const result = await backend.execute(`touch '${marker}'`, { timeoutMs: timeoutMs as number });
      expect(result, String(timeoutMs)).toMatchObject({ exitCode: 1, code: "invalid_argument" });
      expect(result.output).toContain("timeoutMs");
    }
    expect(existsSync(marker)).toBe(false);
    expect(() => sandbox({ execute: { timeoutMs: -5 } })).toThrow(DeepfsError);
  });

  it("is refused when not enabled", async () => {
    expect((await sandbox().execute("echo hi")).exitCode).toBe(1);
  });
});

/** True once process `pid` no longer exists (polled for up to two seconds). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await sleep(20);
  }
  return false;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("internal temp names", () => {
  it("hides exactly the internal temp names; delete('/') removes a user file named like an old temp file", async () => {
    const backend = new LocalBackend({ rootDir: root.dir });
    writeFileSync(join(root.dir, ".deepfs-0123456789abcdef.tmp"), "needle\n");
    writeFileSync(join(root.dir, internalTempName("0123456789abcdef")), "needle\n");
    expect((await backend.ls("/")).files?.map((f) => f.path)).toEqual(["/.deepfs-0123456789abcdef.tmp"]);
    expect((await backend.glob("**")).files?.map((f) => f.path)).toEqual(["/.deepfs-0123456789abcdef.tmp"]);
    expect((await backend.grep("needle")).matches?.map((m) => m.path)).toEqual(["/.deepfs-0123456789abcdef.tmp"]);
    expect((await backend.delete("/")).error).toBeUndefined();
    // A temp file is in flight until its rename: delete("/") leaves it to the write that owns it.
    expect(readdirSync(root.dir)).toEqual([internalTempName("0123456789abcdef")]);
  });

  it("concurrent writes leave no temp file behind", async () => {
    const backend = new LocalBackend({ rootDir: root.dir });
    await Promise.all(Array.from({ length: 20 }, (_, i) => backend.write(`/d${i % 3}/f${i}.txt`, "x")));
    const names = readdirSync(root.dir, { recursive: true }).map(String);
    expect(names.filter((name) => name.includes(".tmp"))).toEqual([]);
  });
});
