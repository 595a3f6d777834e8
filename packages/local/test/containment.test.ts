import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalBackend } from "../src/index.js";
import { IO_MODES } from "./io-modes.js";
import { tempRoot } from "./temp-root.js";

describe.each(IO_MODES)("with $name", ({ options }) => {
  const SECRET = "top-secret-outside";
  let root: ReturnType<typeof tempRoot>;
  let outside: ReturnType<typeof tempRoot>;
  let backend: LocalBackend;

  beforeEach(() => {
    root = tempRoot("deepfs-root-");
    outside = tempRoot("deepfs-outside-");
    writeFileSync(join(outside.dir, "secret.txt"), `${SECRET}\n`);
    mkdirSync(join(outside.dir, "sub"));
    writeFileSync(join(outside.dir, "sub", "inner.txt"), `${SECRET}\n`);
    mkdirSync(join(root.dir, "inside"));
    writeFileSync(join(root.dir, "inside", "ok.txt"), "fine\n");
    backend = new LocalBackend({ ...options, rootDir: root.dir, grepEngine: "builtin" });
  });

  afterEach(() => {
    root.remove();
    outside.remove();
  });

  const outsideUntouched = () => {
    expect(readFileSync(join(outside.dir, "secret.txt"), "utf8")).toBe(`${SECRET}\n`);
    expect(readFileSync(join(outside.dir, "sub", "inner.txt"), "utf8")).toBe(`${SECRET}\n`);
  };

  /** Every method on a path whose real location is outside: refused, nothing outside read or changed. */
  async function expectEveryMethodRefused(path: string, dirPath?: string): Promise<void> {
    const refused = ["permission_denied", "invalid_path"];
    expect(refused).toContain((await backend.read(path)).code);
    expect(refused).toContain((await backend.readRaw(path)).code);
    expect(refused).toContain((await backend.write(path, "pwned")).code);
    expect(refused).toContain((await backend.edit(path, SECRET, "pwned")).code);
    if (dirPath) expect(refused).toContain((await backend.ls(dirPath)).code);
    const [download] = await backend.downloadFiles([path]);
    expect(download?.content).toBeNull();
    expect(download?.error).toBe("permission_denied");
    const [upload] = await backend.uploadFiles([[path, new Uint8Array([1, 2, 3])]]);
    expect(upload?.error).toBe("permission_denied");
    expect((await backend.grep(SECRET, dirPath ?? path)).matches ?? []).toEqual([]);
    expect((await backend.glob("**", dirPath ?? "/")).files?.filter((f) => f.path === path) ?? []).toEqual([]);
    outsideUntouched();
  }

  describe("symlink escapes", () => {
    it("a symlinked parent directory pointing outside", async () => {
      symlinkSync(outside.dir, join(root.dir, "escape"));
      await expectEveryMethodRefused("/escape/secret.txt", "/escape");
      await expectEveryMethodRefused("/escape/sub/inner.txt", "/escape/sub");
      expect((await backend.write("/escape/new/file.txt", "x")).code).toBe("permission_denied");
      expect((await backend.delete("/escape/secret.txt")).code).toBe("permission_denied");
      outsideUntouched();
    });

    it("a symlink as the final component pointing to a file outside (like /etc/passwd)", async () => {
      symlinkSync(join(outside.dir, "secret.txt"), join(root.dir, "passwd"));
      symlinkSync("/etc/passwd", join(root.dir, "etc-passwd"));
      await expectEveryMethodRefused("/passwd");
      expect((await backend.read("/etc-passwd")).code).toBe("permission_denied");
      // delete removes the link itself, never its target
      expect((await backend.delete("/passwd")).error).toBeUndefined();
      outsideUntouched();
    });

    it("'..' inside a symlink target", async () => {
      symlinkSync(relative(join(root.dir, "inside"), outside.dir), join(root.dir, "inside", "up"));
      symlinkSync(`../../../../../../../../..${outside.dir}/secret.txt`, join(root.dir, "inside", "dots.txt"));
      await expectEveryMethodRefused("/inside/dots.txt");
      await expectEveryMethodRefused("/inside/up/secret.txt", "/inside/up");
    });

    it("'..' in virtual paths is invalid_path before any I/O", async () => {
      expect((await backend.read("/inside/../../etc/passwd")).code).toBe("invalid_path");
      expect((await backend.write("/../x.txt", "x")).code).toBe("invalid_path");
      expect((await backend.ls("/..")).code).toBe("invalid_path");
    });

    it("a symlink inside the root that stays inside is followed", async () => {
      symlinkSync(join(root.dir, "inside"), join(root.dir, "alias"));
      symlinkSync("inside/ok.txt", join(root.dir, "ok-link.txt"));
      expect((await backend.read("/alias/ok.txt")).content).toBe("fine");
      expect((await backend.read("/ok-link.txt")).content).toBe("fine");
      const listed = await backend.ls("/");
      expect(listed.files?.map((f) => f.path)).toEqual(["/alias/", "/inside/", "/ok-link.txt"]);
      // Reads follow it; writes never go through a link at the last component (as deepagents).
      expect((await backend.edit("/ok-link.txt", "fine", "good")).code).toBe("permission_denied");
      expect((await backend.write("/ok-link.txt", "good")).code).toBe("permission_denied");
      expect((await backend.write("/alias/ok.txt", "good")).error).toBeUndefined();
      expect(readFileSync(join(root.dir, "inside", "ok.txt"), "utf8")).toBe("good");
    });

    it("glob and grep never follow symlinks, and ls hides links that leave the root", async () => {
      symlinkSync(outside.dir, join(root.dir, "escape"));
      symlinkSync(join(outside.dir, "secret.txt"), join(root.dir, "inside", "s.txt"));
      expect((await backend.grep(SECRET)).matches).toEqual([]);
      expect((await backend.glob("**")).files?.map((f) => f.path)).toEqual(["/inside/ok.txt"]);
      expect((await backend.ls("/inside")).files?.map((f) => f.path)).toEqual(["/inside/ok.txt"]);
      const ripgrep = new LocalBackend({ rootDir: root.dir, grepEngine: "ripgrep" });
      expect((await ripgrep.grep(SECRET)).matches).toEqual([]);
    });

    it("a symlink swapped in after the check is not followed (O_NOFOLLOW)", async () => {
      // Simulates the race deterministically: the file is a regular file at check time and a link at open time.
      writeFileSync(join(root.dir, "swap.txt"), "inside\n");
      const read = backend.read("/swap.txt");
      rmSync(join(root.dir, "swap.txt"));
      symlinkSync(join(outside.dir, "secret.txt"), join(root.dir, "swap.txt"));
      const result = await read;
      expect(result.content === "inside" || result.code === "permission_denied").toBe(true);
      expect(String(result.content ?? "")).not.toContain(SECRET);
    });

    it("a parent directory replaced by a symlink between calls is re-checked", async () => {
      // Every method has resolved the directory (and a write created one below it) before the swap.
      expect((await backend.read("/inside/ok.txt")).content).toBe("fine");
      expect((await backend.write("/inside/sub/new.txt", "mine")).error).toBeUndefined();
      expect((await backend.edit("/inside/ok.txt", "fine", "good")).error).toBeUndefined();
      renameSync(join(root.dir, "inside"), join(root.dir, "moved"));
      symlinkSync(outside.dir, join(root.dir, "inside"));
      expect((await backend.read("/inside/secret.txt")).code).toBe("permission_denied");
      expect((await backend.write("/inside/secret.txt", "pwned")).code).toBe("permission_denied");
      expect((await backend.write("/inside/new.txt", "pwned")).code).toBe("permission_denied");
      expect((await backend.write("/inside/sub/new.txt", "pwned")).code).toBe("permission_denied");
      expect((await backend.write("/inside/deeper/new.txt", "pwned")).code).toBe("permission_denied");
      expect((await backend.edit("/inside/secret.txt", SECRET, "pwned")).code).toBe("permission_denied");
      expect((await backend.readRaw("/inside/sub/inner.txt")).code).toBe("permission_denied");
      const [upload] = await backend.uploadFiles([["/inside/up.bin", new Uint8Array([1])]]);
      expect(upload?.code).toBe("permission_denied");
      outsideUntouched();
      expect(readdirSync(outside.dir).sort()).toEqual(["secret.txt", "sub"]);
      expect(readdirSync(join(outside.dir, "sub"))).toEqual(["inner.txt"]);
      expect(readFileSync(join(root.dir, "moved", "sub", "new.txt"), "utf8")).toBe("mine");
    });

    it("a dangling symlink is neither followed nor replaced by a write", async () => {
      symlinkSync(join(outside.dir, "created-by-agent.txt"), join(root.dir, "dangling.txt"));
      expect((await backend.read("/dangling.txt")).code).toBe("file_not_found");
      expect((await backend.write("/dangling.txt", "mine")).code).toBe("permission_denied");
      expect(lstatSync(join(root.dir, "dangling.txt")).isSymbolicLink()).toBe(true);
      expect(() => readFileSync(join(outside.dir, "created-by-agent.txt"))).toThrow();
    });

    it("a dangling symlinked directory cannot be written through", async () => {
      symlinkSync(join(outside.dir, "newdir"), join(root.dir, "ghost"));
      expect((await backend.write("/ghost/a.txt", "x")).code).toBe("permission_denied");
      expect(() => readFileSync(join(outside.dir, "newdir", "a.txt"))).toThrow();
    });

    it("deleting a directory that contains links to the outside removes only the links", async () => {
      symlinkSync(outside.dir, join(root.dir, "inside", "out-dir"));
      symlinkSync(join(outside.dir, "secret.txt"), join(root.dir, "inside", "out-file"));
      expect((await backend.delete("/inside")).error).toBeUndefined();
      expect((await backend.ls("/")).files).toEqual([]);
      outsideUntouched();
    });
  });

  describe("symlink loops", () => {
    it("never hang or crash ls, glob or grep (either engine)", async () => {
      symlinkSync("loop-a", join(root.dir, "loop-b"));
      symlinkSync("loop-b", join(root.dir, "loop-a"));
      symlinkSync(".", join(root.dir, "inside", "self"));
      symlinkSync("..", join(root.dir, "inside", "parent"));
      expect((await backend.ls("/")).files?.map((f) => f.path)).toEqual(["/inside/"]);
      expect((await backend.ls("/inside")).files?.map((f) => f.path)).toEqual([
        "/inside/ok.txt",
        "/inside/parent/",
        "/inside/self/",
      ]);
      expect((await backend.glob("**")).files?.map((f) => f.path)).toEqual(["/inside/ok.txt"]);
      expect((await backend.grep("fine")).matches).toEqual([{ path: "/inside/ok.txt", line: 1, text: "fine" }]);
      const ripgrep = new LocalBackend({ rootDir: root.dir, grepEngine: "ripgrep" });
      expect((await ripgrep.grep("fine")).matches).toEqual([{ path: "/inside/ok.txt", line: 1, text: "fine" }]);
      expect(["permission_denied", "invalid_path"]).toContain((await backend.read("/loop-a")).code);
      expect(["permission_denied", "invalid_path"]).toContain((await backend.write("/loop-a/x", "x")).code);
    });
  });

  describe("non-virtual mode", () => {
    it("uses real absolute paths and resolves relative ones against rootDir", async () => {
      const real = new LocalBackend({ ...options, rootDir: root.dir, virtualMode: false });
      const file = join(real.rootDir, "inside", "ok.txt");
      expect((await real.read(file)).content).toBe("fine");
      expect((await real.read("inside/ok.txt")).content).toBe("fine");
      expect((await real.write("rel.txt", "r")).path).toBe(join(real.rootDir, "rel.txt"));
      expect((await real.ls(join(real.rootDir, "inside"))).files?.map((f) => f.path)).toEqual([file]);
      expect((await real.read(`${real.rootDir}/../x`)).code).toBe("invalid_path");
    });
  });

  describe("special files", () => {
    it("a FIFO is not read (and does not block)", async () => {
      const { execFileSync } = await import("node:child_process");
      execFileSync("mkfifo", [join(root.dir, "pipe.txt")]);
      expect((await backend.read("/pipe.txt")).code).toBe("invalid_argument");
      expect((await backend.grep("x")).matches).toEqual([]);
    });
  });
});
