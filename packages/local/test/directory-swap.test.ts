// A directory swapped for a symlink to the outside at the exact moment between two filesystem
// calls of one operation: recursive delete, ls, glob. The swaps are made by hooks on the backend's
// filesystem calls (`fs-calls.ts`), so each race is hit on every run; `symlink-race.test.ts` races
// a second process against the same guarantees at random moments.
import * as fs from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DIRECTORY_FLAGS, openDirectoryExactlySync, PROC_FD_DIR } from "../src/descriptors.js";
import { blockingFs, type FsCalls, threadpoolFs } from "../src/fs-calls.js";
import { LocalBackend } from "../src/index.js";
import { walkDirs } from "../src/walk-worker.js";
import { IO_MODES } from "./io-modes.js";
import { tempRoot } from "./temp-root.js";

const FILES = 300;
const SECRET_SIZE = 12345;

/** Calls `hook` around each call of `method` of both sets of filesystem calls (restored after each test). */
function hookFs<M extends keyof FsCalls>(
  method: M,
  hook: (args: Parameters<FsCalls[M]>, call: () => ReturnType<FsCalls[M]>) => ReturnType<FsCalls[M]>,
): void {
  for (const calls of [blockingFs, threadpoolFs]) {
    const original = calls[method] as (...args: Parameters<FsCalls[M]>) => ReturnType<FsCalls[M]>;
    vi.spyOn(calls, method).mockImplementation(((...args: Parameters<FsCalls[M]>) =>
      hook(args, () => original(...args))) as never);
  }
}

/** Whether an outcome's `await` (a value or a promise) is done: runs `then` after it. */
async function after<T>(value: T | Promise<T>, then: () => void): Promise<T> {
  try {
    return await value;
  } finally {
    then();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(IO_MODES)("a directory swapped for a symlink mid-operation, with $name", ({ options }) => {
  let root: ReturnType<typeof tempRoot>;
  let outside: ReturnType<typeof tempRoot>;
  let backend: LocalBackend;
  let swapped: boolean;

  beforeEach(() => {
    root = tempRoot("deepfs-swap-");
    outside = tempRoot("deepfs-swap-outside-");
    // The backend resolves its root: hooks compare host paths with the real one.
    root.dir = fs.realpathSync(root.dir);
    swapped = false;
    backend = new LocalBackend({ ...options, rootDir: root.dir, grepEngine: "builtin" });
  });

  afterEach(() => {
    root.remove();
    outside.remove();
  });

  /** Moves `root/<dir>` to `root/<aside>` and puts a symlink to `outside/<target>` in its place, once. */
  const swap = (dir: string, aside: string, target = "") => {
    if (swapped) return;
    swapped = true;
    fs.renameSync(join(root.dir, dir), join(root.dir, aside));
    fs.symlinkSync(join(outside.dir, target), join(root.dir, dir));
  };

  const outsideFiles = () => fs.readdirSync(outside.dir).length;

  describe("recursive delete", () => {
    beforeEach(() => {
      fs.mkdirSync(join(root.dir, "victim", "sub"), { recursive: true });
      for (let i = 0; i < FILES; i++) {
        fs.writeFileSync(join(root.dir, "victim", "sub", `f${i}`), "inside");
        fs.writeFileSync(join(outside.dir, `f${i}`), "OUTSIDE");
      }
    });

    /**
     * Also swaps as soon as a file of `victim/sub` is gone, polled between event-loop turns: where
     * the removal makes no call through the hooks (Node's `fs.rm`, which walks by path string),
     * this is the moment the hooks would have chosen.
     */
    const swapWhenEmptying = () => {
      const poll = () => {
        if (swapped) return;
        if (!fs.existsSync(join(root.dir, "victim", "sub", "f0"))) swap("victim/sub", "moved");
        else setImmediate(poll);
      };
      setImmediate(poll);
    };

    it("while it is being emptied: the rest of it is emptied where it now is, the link unlinked, nothing outside touched", async () => {
      hookFs("unlink", (_args, call) => after(call(), () => swap("victim/sub", "moved")));
      swapWhenEmptying();
      const result = await backend.delete("/victim");
      expect(swapped).toBe(true);
      // Nothing is removed after the answer either.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(outsideFiles()).toBe(FILES);
      expect(result).toEqual({ path: "/victim" });
      expect(fs.existsSync(join(root.dir, "victim"))).toBe(false);
      expect(fs.readdirSync(join(root.dir, "moved"))).toEqual([]);
    });

    it("before it is opened: the link is unlinked, never followed", async () => {
      hookFs("open", (args, call) => {
        if (String(args[0]).endsWith("/sub")) swap("victim/sub", "moved");
        return call();
      });
      swapWhenEmptying();
      const result = await backend.delete("/victim");
      expect(swapped).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(outsideFiles()).toBe(FILES);
      expect(result).toEqual({ path: "/victim" });
      expect(fs.existsSync(join(root.dir, "victim"))).toBe(false);
      // Moved out of the tree before the delete reached it: no longer part of what was deleted.
      expect(fs.readdirSync(join(root.dir, "moved"))).toHaveLength(FILES);
    });

    it("delete('/') too", async () => {
      hookFs("unlink", (_args, call) => after(call(), () => swap("victim/sub", "moved")));
      swapWhenEmptying();
      const result = await backend.delete("/");
      expect(swapped).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(outsideFiles()).toBe(FILES);
      expect(result).toEqual({ path: "/" });
      expect(fs.readdirSync(root.dir)).toEqual(["moved"]);
      expect(fs.readdirSync(join(root.dir, "moved"))).toEqual([]);
    });
  });

  describe("listings", () => {
    beforeEach(() => {
      fs.mkdirSync(join(root.dir, "d", "sub"), { recursive: true });
      fs.writeFileSync(join(root.dir, "d", "inside.txt"), "x");
      fs.writeFileSync(join(root.dir, "d", "sub", "deep.txt"), "x");
      fs.writeFileSync(join(outside.dir, "OUTSIDE_SECRET.txt"), "s".repeat(SECRET_SIZE));
      fs.mkdirSync(join(outside.dir, "sub"));
      fs.writeFileSync(join(outside.dir, "sub", "OUTSIDE_DEEP.txt"), "s");
      // Same name as the inside file: its size would tell.
      fs.writeFileSync(join(outside.dir, "sub", "deep.txt"), "s".repeat(SECRET_SIZE));
    });

    /** Swaps `dir` right after the backend has located it (its lstat said: a directory). */
    const swapOnceLocated = (dir: string, aside: string, target = "") => {
      hookFs("lstat", (args, call) =>
        after(call(), () => {
          if (args[0] === join(root.dir, dir)) swap(dir, aside, target);
        }),
      );
    };

    const leaks = (files: Array<{ path: string; size?: number }> | undefined) =>
      (files ?? []).filter((f) => f.path.includes("OUTSIDE") || f.size === SECRET_SIZE);

    it("ls of a directory swapped after it was located lists nothing from where the link leads", async () => {
      swapOnceLocated("d", "d-moved");
      const listed = await backend.ls("/d");
      expect(swapped).toBe(true);
      expect(leaks(listed.files)).toEqual([]);
      // What it answers: an error (the link is not followed), or the directory it located.
      if (listed.error) expect(listed.code).toBe("permission_denied");
      else expect(listed.files?.map((f) => f.path)).toEqual(["/d/inside.txt", "/d/sub/"]);
    });

    it("glob of a directory swapped after it was located finds nothing from where the link leads", async () => {
      swapOnceLocated("d", "d-moved");
      const found = await backend.glob("**", "/d");
      expect(swapped).toBe(true);
      expect(leaks(found.files)).toEqual([]);
      expect(found.error).toBeUndefined();
    });

    it("ls stats a linked file through its directory: a parent swapped after realpath gives no size from outside", async () => {
      fs.symlinkSync(join(root.dir, "d", "sub", "deep.txt"), join(root.dir, "link.txt"));
      hookFs("open", (args, call) => {
        if (args[0] === join(root.dir, "d", "sub")) swap("d/sub", "d/sub-moved", "sub");
        return call();
      });
      const listed = await backend.ls("/");
      expect(swapped).toBe(true);
      expect(leaks(listed.files)).toEqual([]);
      expect(listed.files?.map((f) => f.path)).toEqual(["/d/"]);
    });
  });
});

describe("a directory swapped for a symlink mid-walk (threadpool calls only)", () => {
  let root: ReturnType<typeof tempRoot>;
  let outside: ReturnType<typeof tempRoot>;

  beforeEach(() => {
    root = tempRoot("deepfs-swap-walk-");
    outside = tempRoot("deepfs-swap-walk-outside-");
    root.dir = fs.realpathSync(root.dir);
    fs.mkdirSync(join(root.dir, "d", "sub"), { recursive: true });
    fs.writeFileSync(join(root.dir, "d", "inside.txt"), "x");
    fs.writeFileSync(join(root.dir, "d", "sub", "deep.txt"), "x");
    fs.mkdirSync(join(outside.dir, "sub"));
    fs.writeFileSync(join(outside.dir, "sub", "OUTSIDE_DEEP.txt"), "s");
    fs.writeFileSync(join(outside.dir, "sub", "deep.txt"), "s".repeat(SECRET_SIZE));
  });

  afterEach(() => {
    root.remove();
    outside.remove();
  });

  const swapSub = () => {
    fs.renameSync(join(root.dir, "d", "sub"), join(root.dir, "d", "sub-moved"));
    fs.symlinkSync(join(outside.dir, "sub"), join(root.dir, "d", "sub"));
  };

  it("a subdirectory swapped after its parent was read: not read where the link leads", async () => {
    let reads = 0;
    hookFs("readdir", (_args, call) =>
      after(call(), () => {
        // The first directory read is /d: its entry "sub" was a directory then.
        if (++reads === 1) swapSub();
      }),
    );
    const found = await new LocalBackend({ rootDir: root.dir, syncIoMaxBytes: 0 }).glob("**", "/d");
    expect(reads).toBeGreaterThan(0);
    expect(found.files?.map((f) => f.path)).toEqual(["/d/inside.txt"]);
  });

  it("a directory swapped after the walk, before its files' sizes are looked up: no size from where the link leads", async () => {
    let reads = 0;
    hookFs("readdir", (_args, call) =>
      after(call(), () => {
        // The second and last directory read is /d/sub: the walk has found deep.txt in it.
        if (++reads === 2) swapSub();
      }),
    );
    const found = await new LocalBackend({ rootDir: root.dir, syncIoMaxBytes: 0 }).glob("**", "/d");
    expect(reads).toBe(2);
    const deep = found.files?.find((f) => f.path === "/d/sub/deep.txt");
    // Left out (its directory is no longer there), or its own size: never the size of the outside file.
    expect(deep === undefined || deep.size === 1).toBe(true);
    expect(found.files?.some((f) => f.size === SECRET_SIZE)).toBe(false);
  });

  it("the workers' walk: a subdirectory swapped after its parent was read is not read where the link leads", () => {
    let reads = 0;
    const calls = {
      ...fs,
      readdirSync: ((path: fs.PathLike, opts: { withFileTypes: true }) => {
        const entries = fs.readdirSync(path, opts);
        if (++reads === 1) swapSub();
        return entries;
      }) as typeof fs.readdirSync,
    };
    const job = {
      dirs: [join(root.dir, "d")],
      budget: 1_000,
      linksOnly: false,
      hidden: "\\\\",
      procFd: PROC_FD_DIR,
      dirFlags: DIRECTORY_FLAGS,
      statNames: null,
    };
    const answer = walkDirs(job, calls, openDirectoryExactlySync);
    expect(answer.files.map((f) => f.slice(root.dir.length)).sort()).toEqual(["/d/inside.txt"]);
    expect(answer.pending).toEqual([]);
  });

  it("the workers' walk: sizes looked up during the walk are those of the directory it read, swapped or not", () => {
    let reads = 0;
    const calls = {
      ...fs,
      readdirSync: ((path: fs.PathLike, opts: { withFileTypes: true }) => {
        const entries = fs.readdirSync(path, opts);
        // The second directory read is /d/sub: swapped before its files are stat'ed.
        if (++reads === 2) swapSub();
        return entries;
      }) as typeof fs.readdirSync,
    };
    const job = {
      dirs: [join(root.dir, "d")],
      budget: 1_000,
      linksOnly: false,
      hidden: "\\\\",
      procFd: PROC_FD_DIR,
      dirFlags: DIRECTORY_FLAGS,
      statNames: "",
    };
    const answer = walkDirs(job, calls, openDirectoryExactlySync);
    const sizes = Object.fromEntries(answer.files.map((f, i) => [f.slice(root.dir.length), answer.fileStats[2 * i]]));
    expect(reads).toBe(2);
    expect(sizes).toEqual({ "/d/inside.txt": 1, "/d/sub/deep.txt": 1 });
  });
});
