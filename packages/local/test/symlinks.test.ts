import { lstatSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkPath } from "@deepfs/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FsCalls } from "../src/fs-calls.js";
import { HostRoot } from "../src/host-root.js";
import { LocalBackend } from "../src/index.js";
import { IO_MODES } from "./io-modes.js";
import { tempRoot } from "./temp-root.js";

const REALPATH = Symbol.for("deepagents.realpath");

/** The hook deepagents' filesystem middleware looks up on a backend. */
function realpathHook(backend: LocalBackend): (path: string) => Promise<string> {
  const hook = (backend as unknown as Record<symbol, unknown>)[REALPATH];
  expect(hook).toBeTypeOf("function");
  return hook as (path: string) => Promise<string>;
}

let root: ReturnType<typeof tempRoot>;
let outside: ReturnType<typeof tempRoot>;
beforeEach(() => {
  root = tempRoot("deepfs-links-");
  outside = tempRoot("deepfs-links-outside-");
  writeFileSync(join(outside.dir, "secret.txt"), "OUTSIDE SECRET\n");
  mkdirSync(join(root.dir, "docs"));
  writeFileSync(join(root.dir, "docs", "real.txt"), "needle inside\n");
  symlinkSync("real.txt", join(root.dir, "docs", "alias.txt"));
  symlinkSync(join(root.dir, "docs"), join(root.dir, "docs-link"));
  symlinkSync(join(outside.dir, "secret.txt"), join(root.dir, "docs", "out.txt"));
});
afterEach(() => {
  root.remove();
  outside.remove();
});

describe.each(IO_MODES)("with $name", ({ options }) => {
  it.each(["builtin", "ripgrep"] as const)(
    "ls, glob, grep (%s) and read agree on a link to a file inside the root",
    async (grepEngine) => {
      const backend = new LocalBackend({ ...options, rootDir: root.dir, grepEngine });
      const listed = await backend.ls("/docs");
      expect(listed.files?.map((f) => f.path)).toEqual(["/docs/alias.txt", "/docs/real.txt"]);
      const globbed = await backend.glob("**/*.txt");
      // The link to a file is a file; the link to a directory is not descended into; the link outside is left out.
      expect(globbed.files?.map((f) => f.path)).toEqual(["/docs/alias.txt", "/docs/real.txt"]);
      expect(globbed.files?.[0]).toMatchObject({ is_dir: false, size: "needle inside\n".length });
      expect((await backend.grep("needle")).matches).toEqual([
        { path: "/docs/alias.txt", line: 1, text: "needle inside" },
        { path: "/docs/real.txt", line: 1, text: "needle inside" },
      ]);
      expect((await backend.grep("SECRET")).matches).toEqual([]);
      expect((await backend.read("/docs/alias.txt")).content).toBe("needle inside");
      expect((await backend.read("/docs-link/real.txt")).content).toBe("needle inside");
      expect((await backend.read("/docs/out.txt")).code).toBe("permission_denied");
    },
  );

  it.each([true, false])("refuses writes, edits and uploads through a link (virtualMode %s)", async (virtualMode) => {
    const backend = new LocalBackend({ ...options, rootDir: root.dir, virtualMode });
    const at = (path: string) => (virtualMode ? path : `${backend.rootDir}${path}`);
    symlinkSync(join(outside.dir, "new.txt"), join(root.dir, "dangling.txt"));
    for (const link of ["/docs/alias.txt", "/docs/out.txt", "/dangling.txt", "/docs-link"]) {
      const write = await backend.write(at(link), "pwned");
      expect(write.code, link).toBe("permission_denied");
      expect(write.error).toContain("symbolic link");
      expect((await backend.edit(at(link), "needle", "pwned")).code, link).toBe("permission_denied");
      const [upload] = await backend.uploadFiles([[at(link), new Uint8Array([1])]]);
      expect(upload?.code, link).toBe("permission_denied");
      expect(lstatSync(join(root.dir, link)).isSymbolicLink()).toBe(true);
    }
    expect(readFileSync(join(root.dir, "docs", "real.txt"), "utf8")).toBe("needle inside\n");
    expect(readFileSync(join(outside.dir, "secret.txt"), "utf8")).toBe("OUTSIDE SECRET\n");
    expect(() => lstatSync(join(outside.dir, "new.txt"))).toThrow();
    // A path through a link to a directory inside is not a link at the last component.
    expect((await backend.write(at("/docs-link/real.txt"), "through the directory")).error).toBeUndefined();
    expect(readFileSync(join(root.dir, "docs", "real.txt"), "utf8")).toBe("through the directory");
  });
});

describe("the deepagents realpath hook", () => {
  it("answers the virtual path a call touches, and throws for one that leaves the root", async () => {
    const backend = new LocalBackend({ rootDir: root.dir });
    const realpath = realpathHook(backend);
    expect(Object.getOwnPropertyDescriptor(backend, REALPATH)?.enumerable).toBe(false);
    expect(await realpath("/docs/alias.txt")).toBe("/docs/real.txt");
    expect(await realpath("/docs-link/real.txt")).toBe("/docs/real.txt");
    expect(await realpath("/docs-link/new/deeper.txt")).toBe("/docs/new/deeper.txt");
    expect(await realpath("/missing/file.txt")).toBe("/missing/file.txt");
    expect(await realpath("/")).toBe("/");
    symlinkSync("docs/later.txt", join(root.dir, "dangling.txt"));
    expect(await realpath("/dangling.txt")).toBe("/docs/later.txt");
    await expect(realpath("/docs/out.txt")).rejects.toMatchObject({ code: "permission_denied" });
    await expect(realpath("/a/../b")).rejects.toMatchObject({ code: "invalid_path" });
  });

  it("answers real absolute paths in non-virtual mode", async () => {
    const backend = new LocalBackend({ rootDir: root.dir, virtualMode: false });
    const realpath = realpathHook(backend);
    expect(await realpath(`${backend.rootDir}/docs/alias.txt`)).toBe(`${backend.rootDir}/docs/real.txt`);
    expect(await realpath(`${backend.rootDir}/docs/out.txt`)).toBe(realpathSync(join(outside.dir, "secret.txt")));
  });
});

describe("HostRoot.locate holds on its own", () => {
  /** Fails the test on any filesystem call: the refusal must come before any I/O. */
  const noIo = new Proxy({} as FsCalls, {
    get: (_target, name) => () => {
      throw new Error(`unexpected filesystem call ${String(name)}`);
    },
  });

  it("refuses '.', '..' and empty segments before any I/O", async () => {
    const host = new HostRoot(realpathSync(root.dir));
    for (const path of ["/..", "/../x", "/a/..", "/a/../../b", "/.", "/./a", "/a/./b", "/a/", "//a", "a", ""]) {
      expect(await host.locate(path, noIo), path).toMatchObject({ fault: "invalid_path" });
    }
  });

  it("every path in ls, glob and grep results is canonical and inside the root", async () => {
    const backend = new LocalBackend({ rootDir: root.dir, grepEngine: "builtin" });
    mkdirSync(join(root.dir, "docs", "sub"));
    writeFileSync(join(root.dir, "docs", "sub", "n.txt"), "needle\n");
    const paths = [
      ...((await backend.ls("/docs")).files ?? []).map((f) => f.path.replace(/\/$/, "")),
      ...((await backend.glob("**")).files ?? []).map((f) => f.path),
      ...((await backend.grep("needle")).matches ?? []).map((m) => m.path),
    ];
    expect(paths.length).toBeGreaterThan(5);
    for (const path of paths) expect(checkPath(path), path).toMatchObject({ ok: true, path });
  });
});

describe.each(IO_MODES)("aliases through a linked directory, with $name", ({ options }) => {
  it("serialise like one path: concurrent edits and conditional writes through both lose nothing", async () => {
    const backend = new LocalBackend({ ...options, rootDir: root.dir });
    expect((await backend.write("/docs/ledger.txt", "END\n")).error).toBeUndefined();
    const aliases = ["/docs/ledger.txt", "/docs-link/ledger.txt"];
    const tokens = Array.from({ length: 60 }, (_, i) => `T${i}`);
    const edits = await Promise.all(
      tokens.map((token, i) => backend.edit(aliases[i % 2] as string, "END", `${token}\nEND`)),
    );
    expect(edits.every((e) => e.error === undefined)).toBe(true);
    const content = readFileSync(join(root.dir, "docs", "ledger.txt"), "utf8");
    for (const token of tokens) expect(content).toContain(`${token}\n`);

    // Compare-and-swap through both aliases: of the writes that read one version, exactly one lands.
    const read = await backend.read("/docs/ledger.txt");
    const swaps = await Promise.all(
      Array.from({ length: 10 }, (_, i) => backend.write(aliases[i % 2] as string, `v${i}`, { ifMatch: read.etag })),
    );
    expect(swaps.filter((s) => s.error === undefined)).toHaveLength(1);
    expect(swaps.filter((s) => s.code === "conflict")).toHaveLength(9);
  });
});
