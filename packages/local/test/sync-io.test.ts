import { chmodSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DeepfsError } from "@deepfs/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalBackend } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

let roots: Array<ReturnType<typeof tempRoot>>;
beforeEach(() => {
  roots = [];
});
afterEach(() => {
  for (const root of roots) root.remove();
});

function freshDir(): string {
  const root = tempRoot();
  roots.push(root);
  return root.dir;
}

/** Runs `call` and reports whether the event loop had a turn (a `setImmediate` ran) before it settled. */
async function loopTurnDuring<T>(call: () => Promise<T>): Promise<{ turned: boolean; result: T }> {
  // A fresh slice, so that earlier blocking calls do not make this one yield.
  await new Promise((resolve) => setImmediate(resolve));
  let turned = false;
  setImmediate(() => {
    turned = true;
  });
  const result = await call();
  return { turned, result };
}

describe("syncIoMaxBytes", () => {
  it("is a non-negative integer", () => {
    const rootDir = freshDir();
    for (const syncIoMaxBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new LocalBackend({ rootDir, syncIoMaxBytes })).toThrow(DeepfsError);
    }
    expect(new LocalBackend({ rootDir, syncIoMaxBytes: 0 }).rootDir).toBeTypeOf("string");
  });

  it("calls on files up to the threshold settle without an event-loop turn; larger ones, and 0, use the threadpool", async () => {
    const rootDir = freshDir();
    const backend = new LocalBackend({ rootDir, syncIoMaxBytes: 1024 });
    const small = `${"x".repeat(1000)}\nmarker\n`;
    const large = `${"y".repeat(1100)}\nmarker\n`;

    const write = await loopTurnDuring(() => backend.write("/new/dir/small.txt", small));
    expect(write).toMatchObject({ turned: false, result: { path: "/new/dir/small.txt" } });
    const etag = write.result.etag as string;
    expect(await loopTurnDuring(() => backend.read("/new/dir/small.txt"))).toMatchObject({
      turned: false,
      result: { content: small.slice(0, -1), etag },
    });
    expect(await loopTurnDuring(() => backend.readRaw("/new/dir/small.txt"))).toMatchObject({
      turned: false,
      result: { data: { content: small }, etag },
    });
    const edited = await loopTurnDuring(() => backend.edit("/new/dir/small.txt", "marker", "MARKER"));
    expect(edited).toMatchObject({ turned: false, result: { occurrences: 1 } });
    const conditional = await loopTurnDuring(() =>
      backend.write("/new/dir/small.txt", small, { ifMatch: edited.result.etag as string }),
    );
    expect(conditional).toMatchObject({ turned: false, result: { etag } });
    expect(await loopTurnDuring(() => backend.read("/new/dir/missing.txt"))).toMatchObject({
      turned: false,
      result: { code: "file_not_found" },
    });

    expect(await loopTurnDuring(() => backend.write("/new/dir/large.txt", large))).toMatchObject({
      turned: true,
      result: { path: "/new/dir/large.txt" },
    });
    expect(await loopTurnDuring(() => backend.read("/new/dir/large.txt"))).toMatchObject({
      turned: true,
      result: { content: large.slice(0, -1) },
    });
    expect(await loopTurnDuring(() => backend.edit("/new/dir/large.txt", "marker", "MARKER"))).toMatchObject({
      turned: true,
      result: { occurrences: 1 },
    });

    const off = new LocalBackend({ rootDir, syncIoMaxBytes: 0 });
    expect(await loopTurnDuring(() => off.write("/new/dir/small.txt", "tiny"))).toMatchObject({
      turned: true,
      result: { path: "/new/dir/small.txt" },
    });
    expect(await loopTurnDuring(() => off.read("/new/dir/small.txt"))).toMatchObject({
      turned: true,
      result: { content: "tiny" },
    });
  });

  it("a loop of small calls still lets timers run", async () => {
    const backend = new LocalBackend({ rootDir: freshDir() });
    let fired = false;
    const timer = setTimeout(() => {
      fired = true;
    }, 0);
    let calls = 0;
    // Without yielding, every call settles in microtasks and the timer could only fire after the loop.
    while (!fired && calls < 20_000) {
      expect((await backend.write("/loop.txt", `call ${calls++}`)).error).toBeUndefined();
    }
    clearTimeout(timer);
    expect(fired).toBe(true);
    expect(calls).toBeLessThan(20_000);
  }, 60_000);

  it("a file that reports size 0 (procfs) is read to its end on both paths", async () => {
    for (const syncIoMaxBytes of [65_536, 0]) {
      // Non-virtual mode: /proc is a real path there, not outside a root.
      const backend = new LocalBackend({ rootDir: freshDir(), virtualMode: false, syncIoMaxBytes });
      const read = await backend.read("/proc/self/status");
      expect(read.error).toBeUndefined();
      expect(read.content).toContain(`Pid:\t${process.pid}`);
    }
  });

  it("both paths give the same answers, on both sides of the threshold", async () => {
    // The blocking side: files up to 4 KiB blocking, the 10 KiB ones through the threadpool.
    const blocking = await scenario(new LocalBackend({ rootDir: freshDir(), syncIoMaxBytes: 4096 }));
    const threadpool = await scenario(new LocalBackend({ rootDir: freshDir(), syncIoMaxBytes: 0 }));
    expect(blocking).toEqual(threadpool);
    // And the answers are the right ones, not merely equal.
    expect(blocking).toMatchObject({
      created: { path: "/a/b/c.txt" },
      existsConflict: "conflict",
      staleConflict: "conflict",
      modeKept: 0o640,
      createdAtKept: true,
      edit: { path: "/a/b/c.txt", occurrences: 1 },
      staleEdit: "conflict",
      read: { content: "hello there" },
      bigEdit: { occurrences: 1 },
      bigRead: { mimeType: "text/plain" },
      errors: ["is_directory", "is_directory", "not_a_directory", "file_not_found", "file_not_found", "too_large"],
      download: [1, 0, 255, 2],
      files: [".hidden", "a", "a/b", "a/b/c.txt", "big.txt", "bin.dat", "huge.txt"],
    });
  });
});

/** A fixed sequence of calls; the answers with timestamps reduced to what must hold of them. */
async function scenario(backend: LocalBackend) {
  const big = `${"z".repeat(10 * 1024)}\nneedle\n`;
  const created = await backend.write("/a/b/c.txt", "hello\n");
  const existsConflict = (await backend.write("/a/b/c.txt", "x", { ifNoneMatch: "*" })).code;
  const staleConflict = (await backend.write("/a/b/c.txt", "x", { ifMatch: "stale" })).code;
  chmodSync(join(backend.rootDir, "a", "b", "c.txt"), 0o640);
  const before = await backend.readRaw("/a/b/c.txt");
  const overwritten = await backend.write("/a/b/c.txt", "hello world\n", { ifMatch: created.etag as string });
  const after = await backend.readRaw("/a/b/c.txt");
  const modeKept = statSync(join(backend.rootDir, "a", "b", "c.txt")).mode & 0o7777;
  const edit = await backend.edit("/a/b/c.txt", "world", "there");
  const staleEdit = (await backend.edit("/a/b/c.txt", "there", "x", false, { ifMatch: created.etag as string })).code;
  const read = await backend.read("/a/b/c.txt");
  const bigWrite = await backend.write("/big.txt", big);
  const bigEdit = await backend.edit("/big.txt", "needle", "pin");
  const bigRaw = await backend.readRaw("/big.txt");
  await backend.write("/.hidden", "dot file");
  const errors = [
    (await backend.read("/a")).code,
    (await backend.write("/a/b", "x")).code,
    (await backend.write("/a/b/c.txt/d.txt", "x")).code,
    (await backend.read("/nope.txt")).code,
    (await backend.edit("/nope.txt", "a", "b")).code,
  ];
  // Over maxFileSizeMb: too_large for read whatever the I/O path.
  const [huge] = await backend.uploadFiles([["/huge.txt", new Uint8Array(11 * 1024 * 1024).fill(97)]]);
  errors.push((await backend.read("/huge.txt")).code);
  await backend.uploadFiles([["/bin.dat", new Uint8Array([1, 0, 255, 2])]]);
  const [download] = await backend.downloadFiles(["/bin.dat"]);
  return {
    created,
    existsConflict,
    staleConflict,
    overwritten,
    modeKept,
    createdAtKept: before.data?.created_at === after.data?.created_at,
    edit,
    staleEdit,
    read,
    bigWrite,
    bigEdit,
    bigRead: { ...bigRaw.data, created_at: undefined, modified_at: undefined, etag: bigRaw.etag },
    errors,
    huge: huge?.error,
    download: [...(download?.content ?? [])],
    // Everything written, and no temp file left anywhere.
    files: readdirSync(backend.rootDir, { recursive: true }).map(String).sort(),
  };
}
