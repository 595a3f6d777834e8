import { describe, expect, it } from "vitest";
import {
  type BackendProtocol,
  CompositeBackend,
  comparePaths,
  DeepfsError,
  EXECUTE_UNSUPPORTED,
  type ExecuteResponse,
  isSandboxBackend,
  StateBackend,
  withFaults,
} from "../src/index.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | null) => (data ? new TextDecoder().decode(data) : null);
const paths = (entries: Array<{ path: string }> | undefined) => (entries ?? []).map((e) => e.path);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Shared count of member calls running at once, across every instrumented backend. */
interface InFlight {
  now: number;
  max: number;
}

/** A backend wrapper that records every call (method and arguments) and can slow some methods down. */
function instrument<T extends BackendProtocol>(
  backend: T,
  options: { delayMs?: number; slow?: string[]; inFlight?: InFlight } = {},
) {
  const calls: Array<{ method: string; args: unknown[] }> = [];
  const inFlight = options.inFlight ?? { now: 0, max: 0 };
  const proxy = new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      return async (...args: unknown[]) => {
        calls.push({ method: prop, args });
        inFlight.now++;
        inFlight.max = Math.max(inFlight.max, inFlight.now);
        try {
          if (options.delayMs && options.slow?.includes(prop)) await sleep(options.delayMs);
          return await value.apply(target, args);
        } finally {
          inFlight.now--;
        }
      };
    },
  });
  return { backend: proxy, calls, count: (method: string) => calls.filter((c) => c.method === method).length };
}

describe("construction", () => {
  it("accepts both forms and route keys with or without the trailing slash", async () => {
    const def = new StateBackend();
    const mem = new StateBackend({ files: { "/x.txt": "hello" } });
    const a = new CompositeBackend(def, { "/mem/": mem });
    const b = new CompositeBackend({ default: def, routes: { "/mem": mem } });
    const c = new CompositeBackend({ default: def, routes: { "/mem": { backend: mem } } });
    for (const composite of [a, b, c]) {
      expect((await composite.read("/mem/x.txt")).content).toBe("hello");
    }
    expect((await new CompositeBackend(def).ls("/")).files).toEqual([]);
  });

  it.each([
    ["relative", { mem: new StateBackend() }],
    ["the root", { "/": new StateBackend() }],
    ["a '..' component", { "/a/../b": new StateBackend() }],
    ["a '~' prefix", { "~/mem": new StateBackend() }],
    ["a backslash", { "/a\\b": new StateBackend() }],
    ["a control character", { "/a\u0001": new StateBackend() }],
    ["a duplicate after normalising", { "/mem": new StateBackend(), "/mem/": new StateBackend() }],
    ["a value that is not a backend", { "/mem": { nope: true } as unknown as BackendProtocol }],
    ["an options object without a backend", { "/mem": { readOnly: true } as unknown as BackendProtocol }],
  ])("throws invalid_argument for a route key or value that is %s", (_, routes) => {
    const build = () => new CompositeBackend(new StateBackend(), routes);
    expect(build).toThrow(DeepfsError);
    try {
      build();
    } catch (error) {
      expect(DeepfsError.isInstance(error) && error.code).toBe("invalid_argument");
    }
  });

  it("throws invalid_argument without a default backend", () => {
    expect(() => new CompositeBackend({} as never)).toThrow(DeepfsError);
    expect(() => new CompositeBackend({ default: undefined } as never)).toThrow(/default backend/);
  });

  it("exposes routePrefixes as deepagents' router does: each mount point with its trailing slash", () => {
    const def = new StateBackend();
    const routes = { "/mem": new StateBackend(), "/x/y/": { backend: new StateBackend(), readOnly: true } };
    for (const composite of [new CompositeBackend(def, routes), new CompositeBackend({ default: def, routes })]) {
      expect(composite.routePrefixes).toEqual(["/mem/", "/x/y/"]);
      composite.routePrefixes.push("/changed/");
      expect(composite.routePrefixes).toEqual(["/mem/", "/x/y/"]);
    }
    expect(new CompositeBackend(def).routePrefixes).toEqual([]);
  });

  it("takes artifactsRoot in either form, keeps it as given (default '/'), and refuses a relative one", () => {
    const def = new StateBackend();
    const routes = { "/workspace/": new StateBackend() };
    expect(new CompositeBackend(def, routes).artifactsRoot).toBe("/");
    expect(new CompositeBackend({ default: def, routes }).artifactsRoot).toBe("/");
    expect(new CompositeBackend(def, routes, { artifactsRoot: "/workspace" }).artifactsRoot).toBe("/workspace");
    expect(new CompositeBackend(def, {}, { artifactsRoot: "/workspace/" }).artifactsRoot).toBe("/workspace/");
    expect(new CompositeBackend({ default: def, routes, artifactsRoot: "/workspace/" }).artifactsRoot).toBe(
      "/workspace/",
    );
    for (const bad of ["workspace", "", "/a/../b", 7]) {
      expect(() => new CompositeBackend(def, routes, { artifactsRoot: bad as string }), String(bad)).toThrow(
        DeepfsError,
      );
    }
  });
});

describe("routing", () => {
  it("matches prefixes on segment boundaries only and strips the prefix", async () => {
    const def = new StateBackend();
    const mem = new StateBackend();
    const composite = new CompositeBackend(def, { "/mem/": mem });
    await composite.write("/mem/a.txt", "route");
    await composite.write("/memo/a.txt", "default");
    await composite.write("/mem.txt", "default too");
    expect(Object.keys(mem.files)).toEqual(["/a.txt"]);
    expect(Object.keys(def.files)).toEqual(["/mem.txt", "/memo/a.txt"]);
    expect((await composite.read("/memo/a.txt")).content).toBe("default");
    expect(await composite.ls("/mem")).toEqual(await composite.ls("/mem/"));
    expect(paths((await composite.ls("/mem")).files)).toEqual(["/mem/a.txt"]);
  });

  it("prefers the longest matching prefix", async () => {
    const a = new StateBackend();
    const ab = new StateBackend();
    const composite = new CompositeBackend(new StateBackend(), { "/a": a, "/a/b/": ab });
    await composite.write("/a/b/c.txt", "deep");
    await composite.write("/a/bc.txt", "shallow");
    expect(Object.keys(ab.files)).toEqual(["/c.txt"]);
    expect(Object.keys(a.files)).toEqual(["/bc.txt"]);
  });

  it("normalises paths before routing and refuses unsafe ones without calling a member", async () => {
    const mem = instrument(new StateBackend());
    const composite = new CompositeBackend(new StateBackend(), { "/mem": mem.backend });
    expect((await composite.write("//mem//a.txt", "x")).path).toBe("/mem/a.txt");
    for (const bad of [
      "/mem/../etc/passwd",
      "/mem/./a.txt",
      "/./mem/a.txt",
      "/mem/s\uD800",
      "~/mem/a",
      "/mem/a\u0000b",
      "C:/mem/a",
      "/mem\\a",
    ]) {
      expect((await composite.read(bad)).code).toBe("invalid_path");
      expect((await composite.write(bad, "x")).code).toBe("invalid_path");
      expect((await composite.ls(bad)).code).toBe("invalid_path");
      expect((await composite.grep("x", bad)).code).toBe("invalid_path");
      expect((await composite.glob("*", bad)).code).toBe("invalid_path");
      expect((await composite.delete(bad)).code).toBe("invalid_path");
    }
    expect(mem.calls.map((c) => c.method)).toEqual(["write"]);
  });
});

describe("re-prefixing", () => {
  async function setup() {
    const mem = new StateBackend();
    const composite = new CompositeBackend(new StateBackend(), { "/project/": mem });
    await composite.write("/project/src/a.py", "print('x')\nneedle\n");
    await composite.write("/project/src/b.py", "needle\n");
    return { mem, composite };
  }

  it("re-adds the prefix in write, edit and delete results", async () => {
    const { mem, composite } = await setup();
    expect(Object.keys(mem.files)).toEqual(["/src/a.py", "/src/b.py"]);
    const written = await composite.write("/project/src/c.py", "one");
    expect(written.path).toBe("/project/src/c.py");
    expect(written.etag).toEqual(expect.any(String));
    const edited = await composite.edit("/project/src/c.py", "one", "two");
    expect(edited).toMatchObject({ path: "/project/src/c.py", occurrences: 1 });
    expect((await composite.read("/project/src/c.py")).content).toBe("two");
    expect(await composite.delete("/project/src/c.py")).toEqual({ path: "/project/src/c.py" });
    expect((await composite.delete("/project/src")).path).toBe("/project/src");
  });

  it("re-adds the prefix in ls, glob and grep results", async () => {
    const { composite } = await setup();
    expect(paths((await composite.ls("/project")).files)).toEqual(["/project/src/"]);
    expect((await composite.ls("/project/src")).files).toEqual([
      expect.objectContaining({ path: "/project/src/a.py", is_dir: false, size: 18 }),
      expect.objectContaining({ path: "/project/src/b.py", is_dir: false, size: 7 }),
    ]);
    expect(paths((await composite.glob("**/*.py", "/")).files)).toEqual(["/project/src/a.py", "/project/src/b.py"]);
    expect(paths((await composite.glob("*.py", "/project/src")).files)).toEqual([
      "/project/src/a.py",
      "/project/src/b.py",
    ]);
    expect((await composite.grep("needle", "/")).matches).toEqual([
      { path: "/project/src/a.py", line: 2, text: "needle" },
      { path: "/project/src/b.py", line: 1, text: "needle" },
    ]);
    expect(paths((await composite.grep("needle", "/project/src/b.py")).matches)).toEqual(["/project/src/b.py"]);
  });

  it("re-adds the prefix in upload and download entries", async () => {
    const { composite } = await setup();
    const uploaded = await composite.uploadFiles([["/project//up.bin", new Uint8Array([0, 255, 1])]]);
    expect(uploaded).toEqual([{ path: "/project/up.bin", error: null }]);
    const downloaded = await composite.downloadFiles(["/project/up.bin", "/project/missing.txt"]);
    expect(downloaded[0]).toEqual({ path: "/project/up.bin", content: new Uint8Array([0, 255, 1]), error: null });
    expect(downloaded[1]).toMatchObject({ path: "/project/missing.txt", content: null, error: "file_not_found" });
    expect(downloaded[1]?.message).toContain("'/project/missing.txt'");
  });

  it("names caller paths in the members' error messages and keeps their codes", async () => {
    const { composite } = await setup();
    const missing = await composite.read("/project/nope.txt");
    expect(missing.code).toBe("file_not_found");
    expect(missing.error).toContain("'/project/nope.txt'");
    expect(missing.error).not.toContain("'/nope.txt'");
    const below = await composite.write("/project/src/a.py/x.txt", "x");
    expect(below.code).toBe("not_a_directory");
    expect(below.error).toContain("'/project/src/a.py'");
    expect(below.error).toContain("'/project/src/a.py/x.txt'");
    const dir = await composite.read("/project/src");
    expect(dir).toMatchObject({ code: "is_directory", error: expect.stringContaining("'/project/src'") });
    const noHit = await composite.edit("/project/src/a.py", "absent", "x");
    expect(noHit.code).toBe("string_not_found");
    expect(noHit.error).toContain("'/project/src/a.py'");
    expect((await composite.edit("/project/src/a.py", "x", "y", false, { ifMatch: "stale" })).code).toBe("conflict");
  });

  it("answers is_directory for a mount point and for paths with a mount point below", async () => {
    const composite = new CompositeBackend(new StateBackend(), { "/x/y": new StateBackend() });
    for (const path of ["/x", "/x/y", "/x/y/"]) {
      expect((await composite.read(path)).code).toBe("is_directory");
      expect((await composite.write(path, "no")).code).toBe("is_directory");
      expect((await composite.uploadFiles([[path, bytes("no")]]))[0]).toMatchObject({ error: "is_directory" });
    }
  });
});

describe("route confinement: a route never reads or writes outside its mount", () => {
  /** A route at /mem between a default backend and a sibling route that both hold a secret. */
  function setup() {
    const def = instrument(
      new StateBackend({ files: { "/secret.txt": "default secret\n", "/memo/x.txt": "secret memo\n" } }),
    );
    const other = instrument(new StateBackend({ files: { "/o.txt": "other secret\n" } }));
    const mem = instrument(
      new StateBackend({ files: { "/own.txt": "own secret\n", "/sub/inner.md": "secret inner\n" } }),
    );
    const composite = new CompositeBackend(def.backend, { "/mem/": mem.backend, "/other/": other.backend });
    return { composite, def, mem, other };
  }
  const snapshot = (backend: BackendProtocol) => JSON.stringify((backend as StateBackend).files);

  it.each([
    "/mem/../secret.txt",
    "/mem/../other/o.txt",
    "/mem/..",
    "/mem/sub/../../secret.txt",
    "/mem//..//secret.txt",
    "/mem/./../memo/x.txt",
    "/mem/sub/..",
  ])("refuses %s in every method before calling any member", async (bad) => {
    const { composite, def, mem, other } = setup();
    const before = [def, mem, other].map((m) => snapshot(m.backend));
    expect((await composite.ls(bad)).code).toBe("invalid_path");
    expect((await composite.read(bad)).code).toBe("invalid_path");
    expect((await composite.readRaw(bad)).code).toBe("invalid_path");
    expect((await composite.write(bad, "x")).code).toBe("invalid_path");
    expect((await composite.edit(bad, "secret", "x")).code).toBe("invalid_path");
    expect((await composite.grep("secret", bad)).code).toBe("invalid_path");
    expect((await composite.glob("**", bad)).code).toBe("invalid_path");
    expect((await composite.delete(bad)).code).toBe("invalid_path");
    expect((await composite.uploadFiles([[bad, bytes("x")]]))[0]).toMatchObject({ error: "invalid_path" });
    expect((await composite.downloadFiles([bad]))[0]).toMatchObject({ content: null, error: "invalid_path" });
    expect([def, mem, other].map((m) => m.calls.length)).toEqual([0, 0, 0]);
    expect([def, mem, other].map((m) => snapshot(m.backend))).toEqual(before);
  });

  it("keeps percent-encoded and look-alike traversal as literal names inside the mount", async () => {
    const { composite, def, mem, other } = setup();
    const before = [def, other].map((m) => snapshot(m.backend));
    const names = [
      "%2e%2e",
      "%2E%2E%2Fsecret.txt",
      "..%2f..",
      "%252e%252e",
      ".%2e",
      "\u2025",
      "\uff0e\uff0e",
      "a\u2215b",
    ];
    for (const name of names) {
      const path = `/mem/${name}/x.txt`;
      expect((await composite.write(path, `literal ${name}`)).path).toBe(path);
      expect((await composite.read(path)).content).toBe(`literal ${name}`);
      expect((await composite.read(`/mem/${name}/secret.txt`)).code).toBe("file_not_found");
      expect((await composite.read(`/mem/${name}/o.txt`)).code).toBe("file_not_found");
    }
    expect(Object.keys((mem.backend as StateBackend).files).sort()).toEqual(
      ["/own.txt", "/sub/inner.md", ...names.map((n) => `/${n}/x.txt`)].sort(),
    );
    expect([def, other].map((m) => snapshot(m.backend))).toEqual(before);
  });

  it("answers ls, glob and grep at the mount boundary from the route only", async () => {
    const { composite } = setup();
    const inMem = (list: string[]) => list.every((p) => p.startsWith("/mem/"));
    expect(paths((await composite.ls("/mem")).files)).toEqual(["/mem/own.txt", "/mem/sub/"]);
    expect(await composite.ls("/mem/")).toEqual(await composite.ls("/mem"));
    expect(paths((await composite.glob("**", "/mem")).files)).toEqual(["/mem/own.txt", "/mem/sub/inner.md"]);
    expect(paths((await composite.glob("**/*.txt", "/mem")).files)).toEqual(["/mem/own.txt"]);
    expect((await composite.grep("secret", "/mem")).matches).toEqual([
      { path: "/mem/own.txt", line: 1, text: "own secret" },
      { path: "/mem/sub/inner.md", line: 1, text: "secret inner" },
    ]);
    // Patterns that try to climb out match nothing outside the mount (or are refused).
    for (const pattern of ["../*", "../**", "../other/*", "**/../*", "/../secret.txt", "../memo/*"]) {
      const globbed = await composite.glob(pattern, "/mem");
      expect(inMem(paths(globbed.files)), `glob ${pattern} in /mem`).toBe(true);
      const grepped = await composite.grep("secret", "/mem", pattern);
      expect(inMem(paths(grepped.matches)), `grep with glob ${pattern} in /mem`).toBe(true);
    }
    // A name that merely starts like the mount is the default backend's, and never the route's.
    expect(paths((await composite.ls("/memo")).files)).toEqual(["/memo/x.txt"]);
    expect(paths((await composite.grep("secret", "/memo")).matches)).toEqual(["/memo/x.txt"]);
    expect(paths((await composite.glob("**", "/memo")).files)).toEqual(["/memo/x.txt"]);
    expect((await composite.read("/mem/secret.txt")).code).toBe("file_not_found");
    expect((await composite.read("/mem/o.txt")).code).toBe("file_not_found");
  });

  it("lands every mutation through the mount inside its member", async () => {
    const { composite, def, mem, other } = setup();
    const before = [def, other].map((m) => snapshot(m.backend));
    expect((await composite.write("/mem/secret.txt", "mine")).path).toBe("/mem/secret.txt");
    expect((await composite.edit("/mem/own.txt", "own", "edited")).path).toBe("/mem/own.txt");
    expect((await composite.uploadFiles([["/mem/o.txt", bytes("mine too")]]))[0]).toEqual({
      path: "/mem/o.txt",
      error: null,
    });
    expect((await composite.delete("/mem/sub")).path).toBe("/mem/sub");
    expect((mem.backend as StateBackend).files).toEqual({
      "/own.txt": expect.anything(),
      "/secret.txt": expect.anything(),
      "/o.txt": expect.anything(),
    });
    expect([def, other].map((m) => snapshot(m.backend))).toEqual(before);
    expect((await composite.read("/secret.txt")).content).toBe("default secret");
    expect((await composite.read("/other/o.txt")).content).toBe("other secret");
  });
});

describe("mount points and shadowing", () => {
  it("lists mount points as directories, nested routes included", async () => {
    const def = new StateBackend({ files: { "/top.txt": "t", "/x/own.txt": "o" } });
    const a = new StateBackend({ files: { "/a.txt": "a", "/b/hidden.txt": "shadowed by /a/b" } });
    const ab = new StateBackend({ files: { "/ab.txt": "ab" } });
    const deep = new StateBackend();
    const composite = new CompositeBackend(def, { "/a/": a, "/a/b/": ab, "/x/y/z": deep });
    expect((await composite.ls("/")).files).toEqual([
      { path: "/a/", is_dir: true, size: 0 },
      expect.objectContaining({ path: "/top.txt", is_dir: false }),
      { path: "/x/", is_dir: true, size: 0 },
    ]);
    expect(paths((await composite.ls("/a")).files)).toEqual(["/a/a.txt", "/a/b/"]);
    expect(paths((await composite.ls("/a/b")).files)).toEqual(["/a/b/ab.txt"]);
    expect(paths((await composite.ls("/x")).files)).toEqual(["/x/own.txt", "/x/y/"]);
    expect(paths((await composite.ls("/x/y")).files)).toEqual(["/x/y/z/"]);
    expect((await composite.ls("/x/y/z")).files).toEqual([]);
    expect((await composite.read("/a/b/hidden.txt")).code).toBe("file_not_found");
    expect(paths((await composite.glob("**", "/a")).files)).toEqual(["/a/a.txt", "/a/b/ab.txt"]);
  });

  it("hides a parent backend's files below a mount point from every method", async () => {
    const def = new StateBackend({ files: { "/memories/x.txt": "needle", "/keep.txt": "needle" } });
    const mem = new StateBackend({ files: { "/y.txt": "needle" } });
    const composite = new CompositeBackend(def, { "/memories/": mem });
    expect(paths((await composite.ls("/")).files)).toEqual(["/keep.txt", "/memories/"]);
    expect(paths((await composite.ls("/memories")).files)).toEqual(["/memories/y.txt"]);
    expect(paths((await composite.glob("**/*.txt")).files)).toEqual(["/keep.txt", "/memories/y.txt"]);
    expect(paths((await composite.grep("needle")).matches)).toEqual(["/keep.txt", "/memories/y.txt"]);
    expect(paths((await composite.grep("needle", "/", "x.txt")).matches)).toEqual([]);
    expect((await composite.read("/memories/x.txt")).code).toBe("file_not_found");
    expect((await composite.readRaw("/memories/x.txt")).code).toBe("file_not_found");
    expect((await composite.downloadFiles(["/memories/x.txt"]))[0]).toMatchObject({ error: "file_not_found" });
  });

  it("does not let shadowed matches use up a shared maxCount", async () => {
    const shadowed: Record<string, string> = {};
    for (let i = 0; i < 30; i++) shadowed[`/mem/f${String(i).padStart(2, "0")}.txt`] = "hit";
    const def = new StateBackend({ files: { ...shadowed, "/a.txt": "hit", "/z.txt": "hit" } });
    const composite = new CompositeBackend(def, { "/mem": new StateBackend({ files: { "/m.txt": "hit" } }) });
    expect(await composite.grep("hit", "/", null, 3)).toEqual({
      matches: [
        { path: "/a.txt", line: 1, text: "hit" },
        { path: "/mem/m.txt", line: 1, text: "hit" },
        { path: "/z.txt", line: 1, text: "hit" },
      ],
    });
    expect(await composite.grep("hit", "/", null, 2)).toEqual({
      matches: [
        { path: "/a.txt", line: 1, text: "hit" },
        { path: "/mem/m.txt", line: 1, text: "hit" },
      ],
      truncated: true,
    });
  });
});

describe("delete across mounts", () => {
  /** `backend` without a `delete` method, as a foreign backend may be. */
  function withoutDelete(backend: StateBackend): BackendProtocol {
    return new Proxy(backend, {
      get: (target, prop, receiver) => (prop === "delete" ? undefined : Reflect.get(target, prop, receiver)),
    }) as BackendProtocol;
  }
  /** A StateBackend that declares every mutation read-only, as `LocalBackend({ readOnly: true })` does. */
  class ReadOnlyState extends StateBackend {
    override readonly capabilities = { ...new StateBackend().capabilities, readOnly: true };
  }

  it("deletes the files of every route mounted below the target and keeps the mounts", async () => {
    const def = new StateBackend({ files: { "/d/own.txt": "o", "/keep.txt": "k" } });
    const route = new StateBackend({ files: { "/r.txt": "r", "/sub/s.txt": "s" } });
    const composite = new CompositeBackend(def, { "/d/mnt": route });
    expect(await composite.delete("/d")).toEqual({ path: "/d" });
    expect(Object.keys(def.files)).toEqual(["/keep.txt"]);
    expect(Object.keys(route.files)).toEqual([]);
    expect(paths((await composite.ls("/d")).files)).toEqual(["/d/mnt/"]);
  });

  it("delete('/') clears the default backend and every route, nested routes included", async () => {
    const def = new StateBackend({ files: { "/top.txt": "t", "/a/shadowed.txt": "s" } });
    const a = new StateBackend({ files: { "/a.txt": "a" } });
    const ab = new StateBackend({ files: { "/ab.txt": "ab" } });
    const c = new StateBackend({ files: { "/deep/c.txt": "c" } });
    const composite = new CompositeBackend(def, { "/a/": a, "/a/b/": ab, "/c": c });
    expect(await composite.delete("/")).toEqual({ path: "/" });
    for (const member of [def, a, ab, c]) expect(member.files).toEqual({});
    expect(paths((await composite.ls("/")).files)).toEqual(["/a/", "/c/"]);
    expect((await composite.glob("**")).files).toEqual([]);
  });

  it("deletes a directory whose only content is a mount point below it", async () => {
    const memories = new StateBackend({ files: { "/notes.md": "n" } });
    const composite = new CompositeBackend(new StateBackend(), { "/workspace/memories/": memories });
    expect(paths((await composite.ls("/workspace")).files)).toEqual(["/workspace/memories/"]);
    expect(await composite.delete("/workspace")).toEqual({ path: "/workspace" });
    expect(memories.files).toEqual({});
    expect(await composite.delete("/workspace")).toEqual({
      error: expect.stringContaining("'/workspace'"),
      code: "file_not_found",
    });
  });

  it("answers file_not_found when neither the member nor a route below has anything there", async () => {
    const composite = new CompositeBackend(new StateBackend(), { "/w/m": new StateBackend() });
    expect(await composite.delete("/w")).toMatchObject({
      code: "file_not_found",
      error: expect.stringContaining("'/w'"),
    });
    expect((await composite.delete("/w/m")).code).toBe("file_not_found");
  });

  it("refuses with read_only, before any member deletes, when a read-only mount lies at or below the target", async () => {
    const def = withFaults(new StateBackend({ files: { "/top.txt": "t", "/x/own.txt": "o" } }), []);
    const writable = withFaults(new StateBackend({ files: { "/w.txt": "w" } }), []);
    const docs = withFaults(new StateBackend({ files: { "/guide.md": "g" } }), []);
    const declared = new CompositeBackend(def, {
      "/a-writable": writable,
      "/x/docs": { backend: docs, readOnly: true },
    });
    const byCapability = new CompositeBackend(def, {
      "/a-writable": writable,
      "/x/docs": new ReadOnlyState({ files: { "/guide.md": "g" } }),
    });
    for (const composite of [declared, byCapability]) {
      for (const target of ["/", "/x", "//x/", "/x/docs", "/x/docs/guide.md"]) {
        const answer = await composite.delete(target);
        expect(answer, target).toMatchObject({ code: "read_only", error: expect.stringContaining("read-only") });
      }
      expect((await composite.delete("/")).error).toBe(
        "'/' contains the read-only mount '/x/docs/', so it cannot be deleted; nothing was deleted",
      );
    }
    expect([def.faults.calls.delete, writable.faults.calls.delete, docs.faults.calls.delete]).toEqual([0, 0, 0]);
    expect(Object.keys(def.files)).toEqual(["/top.txt", "/x/own.txt"]);
    // Targets beside the read-only mount are not affected by it.
    expect(await declared.delete("/a-writable")).toEqual({ path: "/a-writable" });
    expect(await declared.delete("/top.txt")).toEqual({ path: "/top.txt" });
  });

  it("answers unsupported when a member it would reach has no delete, and deletes nothing", async () => {
    const def = new StateBackend({ files: { "/top.txt": "t" } });
    const bare = new StateBackend({ files: { "/b.txt": "b" } });
    const composite = new CompositeBackend(def, { "/bare": withoutDelete(bare) });
    expect(await composite.delete("/bare/b.txt")).toEqual({
      error: "'/bare/b.txt' cannot be deleted: the mount '/bare/' does not support deletion; nothing was deleted",
      code: "unsupported",
    });
    expect(await composite.delete("/")).toMatchObject({ code: "unsupported" });
    expect(Object.keys(def.files)).toEqual(["/top.txt"]);
    expect(Object.keys(bare.files)).toEqual(["/b.txt"]);
    const noDefaultDelete = new CompositeBackend(withoutDelete(def), {});
    expect(await noDefaultDelete.delete("/top.txt")).toMatchObject({
      code: "unsupported",
      error: expect.stringContaining("the default backend does not support deletion"),
    });
  });

  it("stops at a failing member and names what it had already cleared", async () => {
    const def = new StateBackend({ files: { "/top.txt": "t" } });
    const deep = new StateBackend({ files: { "/d.txt": "d" } });
    const bad = withFaults(new StateBackend({ files: { "/b.txt": "b" } }), [
      { method: "delete", times: 1, code: "backend_unavailable", message: "the store at '/' is down." },
    ]);
    // Routes are asked deepest first, then the member serving the target: /deep/er, /bad, default.
    const composite = new CompositeBackend(def, { "/bad": bad, "/deep/er": deep });
    const failed = await composite.delete("/");
    expect(failed).toEqual({
      error:
        "Deleting '/' stopped part way, at the mount '/bad/': Deleting '/bad' failed. " +
        "Already deleted (this cannot be undone): '/deep/er'. Not deleted: '/bad', '/'. " +
        "Deleting the same path again deletes the rest.",
      code: "backend_unavailable",
      cleared: ["/deep/er"],
    });
    expect(deep.files).toEqual({});
    expect(Object.keys(bad.files)).toEqual(["/b.txt"]);
    expect(Object.keys(def.files)).toEqual(["/top.txt"]);
    // Once the member is back, the same delete finishes the job (the cleared route is skipped).
    expect(await composite.delete("/")).toEqual({ path: "/" });
    expect([def.files, bad.files]).toEqual([{}, {}]);
  });

  it("reports a throwing member as backend_unavailable with what was cleared, never its message", async () => {
    const def = new StateBackend({ files: { "/top.txt": "t" } });
    const deep = new StateBackend({ files: { "/d.txt": "d" } });
    const crashing = withFaults(new StateBackend({ files: { "/c.txt": "c" } }), [
      { method: "delete", throw: new Error("password=hunter2") },
    ]);
    const composite = new CompositeBackend(def, { "/crash": crashing, "/deep/er": deep });
    const failed = await composite.delete("/");
    expect(failed).toMatchObject({ code: "backend_unavailable", cleared: ["/deep/er"] });
    expect(failed.error).toContain("the backend mounted at '/crash' failed");
    expect(failed.error).not.toContain("hunter2");
    // A failure of the first member asked is a plain failure: nothing was deleted.
    const first = new CompositeBackend(def, { "/crash": crashing });
    expect(await first.delete("/")).toEqual({
      error: "Deleting '/crash' failed: the backend mounted at '/crash' failed",
      code: "backend_unavailable",
    });
    expect(Object.keys(def.files)).toEqual(["/top.txt"]);
  });

  it("skips members answering not found without a code, and merges filesUpdate in caller paths", async () => {
    /** A deepagents-style member: `filesUpdate` in results, errors without codes. */
    const foreign = (files: string[]): BackendProtocol => {
      const state = new StateBackend({ files: Object.fromEntries(files.map((f) => [f, "x"])) });
      return new Proxy(state, {
        get(target, prop, receiver) {
          if (prop !== "delete") return Reflect.get(target, prop, receiver);
          return async (path: string) => {
            const below = Object.keys(target.files).filter(
              (f) => f === path || path === "/" || f.startsWith(`${path}/`),
            );
            if (below.length === 0) return { error: `Error: File '${path}' not found` };
            await target.delete(path);
            return { path, filesUpdate: Object.fromEntries(below.map((f) => [f, null])) };
          };
        },
      });
    };
    const composite = new CompositeBackend(foreign(["/top.txt"]), { "/m": foreign(["/a.txt"]), "/e": foreign([]) });
    expect(await composite.delete("/")).toEqual({ path: "/", filesUpdate: { "/m/a.txt": null, "/top.txt": null } });
    expect(await composite.delete("/")).toEqual({ error: "File '/' not found", code: "file_not_found" });
  });
});

describe("read-only routes", () => {
  it("answers every mutation with read_only and changes nothing", async () => {
    const ro = new StateBackend({ files: { "/doc.md": "# title\n" } });
    const composite = new CompositeBackend(new StateBackend(), { "/docs": { backend: ro, readOnly: true } });
    const before = ro.files;
    expect((await composite.write("/docs/new.md", "x")).code).toBe("read_only");
    expect((await composite.write("/docs/doc.md", "x")).code).toBe("read_only");
    expect((await composite.edit("/docs/doc.md", "title", "x")).code).toBe("read_only");
    expect((await composite.delete("/docs/doc.md")).code).toBe("read_only");
    expect((await composite.delete("/docs")).code).toBe("read_only");
    const failed = await composite.write("/docs/new.md", "x");
    expect(failed.error).toContain("'/docs/new.md'");
    const uploads = await composite.uploadFiles([
      ["/docs/up.md", bytes("x")],
      ["/ok.md", bytes("fine")],
    ]);
    expect(uploads).toEqual([
      { path: "/docs/up.md", error: "permission_denied", code: "read_only", message: expect.any(String) },
      { path: "/ok.md", error: null },
    ]);
    expect(ro.files).toEqual(before);
    expect((await composite.read("/docs/doc.md")).content).toBe("# title");
    expect(paths((await composite.grep("title")).matches)).toEqual(["/docs/doc.md"]);
    expect(composite.capabilities.readOnly).toBe(false);
    expect(new CompositeBackend(new StateBackend(), { "/docs": ro }).capabilities.readOnly).toBe(false);
  });
});

describe("uploadFiles and downloadFiles", () => {
  it("make one call per member backend and answer in input order", async () => {
    const def = instrument(new StateBackend());
    const a = instrument(new StateBackend());
    const shared = instrument(new StateBackend());
    const composite = new CompositeBackend(def.backend, {
      "/a": a.backend,
      "/s1": shared.backend,
      "/s2": shared.backend,
    });
    const input: Array<[string, Uint8Array]> = [
      ["/a/1.txt", bytes("a1")],
      ["/root.txt", bytes("r")],
      ["/s1/x.png", new Uint8Array([0, 1, 2])],
      ["/a/../bad", bytes("bad")],
      ["/s2/y.png", new Uint8Array([9])],
      ["/a/2.txt", bytes("a2")],
    ];
    const uploaded = await composite.uploadFiles(input);
    expect(uploaded.map((u) => [u.path, u.error])).toEqual([
      ["/a/1.txt", null],
      ["/root.txt", null],
      ["/s1/x.png", null],
      ["/a/../bad", "invalid_path"],
      ["/s2/y.png", null],
      ["/a/2.txt", null],
    ]);
    expect([def.count("uploadFiles"), a.count("uploadFiles"), shared.count("uploadFiles")]).toEqual([1, 1, 1]);
    expect(a.calls[0]?.args[0]).toEqual([
      ["/1.txt", bytes("a1")],
      ["/2.txt", bytes("a2")],
    ]);
    expect(shared.backend.files["/x.png"]?.content).toEqual(new Uint8Array([0, 1, 2]));
    expect(shared.backend.files["/y.png"]?.content).toEqual(new Uint8Array([9]));

    const downloaded = await composite.downloadFiles([
      "/s2/y.png",
      "/a/2.txt",
      "~/x",
      "/root.txt",
      "/a/1.txt",
      "/a/3.txt",
    ]);
    expect(downloaded.map((d) => [d.path, d.error, d.content && text(d.content)])).toEqual([
      ["/s2/y.png", null, "\t"],
      ["/a/2.txt", null, "a2"],
      ["~/x", "invalid_path", null],
      ["/root.txt", null, "r"],
      ["/a/1.txt", null, "a1"],
      ["/a/3.txt", "file_not_found", null],
    ]);
    expect([def.count("downloadFiles"), a.count("downloadFiles"), shared.count("downloadFiles")]).toEqual([1, 1, 1]);
    expect(a.calls.at(-1)?.args[0]).toEqual(["/2.txt", "/1.txt", "/3.txt"]);
  });

  it("answers invalid paths without calling any member", async () => {
    const def = instrument(new StateBackend());
    const composite = new CompositeBackend(def.backend, {});
    const uploaded = await composite.uploadFiles([["../x", bytes("x")]]);
    expect(uploaded).toEqual([
      { path: "../x", error: "invalid_path", code: "invalid_path", message: expect.any(String) },
    ]);
    expect((await composite.downloadFiles(["C:/x"]))[0]).toMatchObject({ error: "invalid_path", content: null });
    expect(def.calls).toEqual([]);
  });
});

describe("grep and glob fan-out", () => {
  it("asks the default backend and every route below the search path at the same time", async () => {
    const inFlight = { now: 0, max: 0 };
    const slow = { delayMs: 300, slow: ["grep", "glob"], inFlight };
    const one = instrument(new StateBackend({ files: { "/f.txt": "hit" } }), slow);
    const two = instrument(new StateBackend({ files: { "/f.txt": "hit" } }), slow);
    const def = instrument(new StateBackend({ files: { "/f.txt": "hit" } }), slow);
    const composite = new CompositeBackend(def.backend, { "/one": one.backend, "/two": two.backend });
    const grep = await composite.grep("hit");
    expect(paths(grep.matches)).toEqual(["/f.txt", "/one/f.txt", "/two/f.txt"]);
    expect(inFlight.max).toBe(3);
    inFlight.max = 0;
    expect(paths((await composite.glob("**/*.txt")).files)).toEqual(["/f.txt", "/one/f.txt", "/two/f.txt"]);
    expect(inFlight.max).toBe(3);
  });

  it("asks only the routes under the search path", async () => {
    const def = instrument(new StateBackend());
    const one = instrument(new StateBackend());
    const two = instrument(new StateBackend());
    const composite = new CompositeBackend(def.backend, { "/one": one.backend, "/d/two": two.backend });
    await composite.grep("x", "/one/sub");
    expect([def.count("grep"), one.count("grep"), two.count("grep")]).toEqual([0, 1, 0]);
    expect(one.calls[0]?.args.slice(0, 2)).toEqual(["x", "/sub"]);
    await composite.glob("*", "/d");
    expect([def.count("glob"), one.count("glob"), two.count("glob")]).toEqual([1, 0, 0]);
    await composite.glob("**", "/d");
    expect([def.count("glob"), one.count("glob"), two.count("glob")]).toEqual([2, 0, 1]);
  });

  it("shares maxCount across members and sets truncated only when more existed", async () => {
    const make = () => new StateBackend({ files: { "/f.txt": "hit\nhit\n", "/g.txt": "hit\nhit\nhit\n" } });
    const composite = new CompositeBackend(make(), { "/b": make(), "/c": make() });
    const all = await composite.grep("hit");
    expect(all.matches).toHaveLength(15);
    expect(all.truncated).toBeUndefined();
    const seven = await composite.grep("hit", "/", null, 7);
    expect(seven.truncated).toBe(true);
    expect(seven.matches?.map((m) => `${m.path}:${m.line}`)).toEqual([
      "/b/f.txt:1",
      "/b/f.txt:2",
      "/b/g.txt:1",
      "/b/g.txt:2",
      "/b/g.txt:3",
      "/c/f.txt:1",
      "/c/f.txt:2",
    ]);
    expect((await composite.grep("hit", "/", null, 15)).truncated).toBeUndefined();
    expect((await composite.grep("hit", "/", null, 14)).truncated).toBe(true);
    expect(await composite.grep("hit", "/", null, 0)).toEqual({ matches: [], truncated: true });
    expect(await composite.grep("absent", "/", null, 0)).toEqual({ matches: [] });
  });

  it("rewrites a grep glob with '/' relative to a route mounted below the search root", async () => {
    const project = instrument(new StateBackend({ files: { "/src/a/b.ts": "x", "/src/c.js": "x", "/lib/d.ts": "x" } }));
    const composite = new CompositeBackend(new StateBackend({ files: { "/src/e.ts": "x" } }), {
      "/project/": project.backend,
    });
    const result = await composite.grep("x", "/", "project/src/**/*.ts");
    expect(paths(result.matches)).toEqual(["/project/src/a/b.ts"]);
    expect(project.calls[0]?.args).toEqual(["x", "/", "src/**/*.ts", null]);
    expect(paths((await composite.grep("x", "/", "/project/src/**/*.ts")).matches)).toEqual(["/project/src/a/b.ts"]);
    expect(paths((await composite.grep("x", "/", "*.ts")).matches)).toEqual([
      "/project/lib/d.ts",
      "/project/src/a/b.ts",
      "/src/e.ts",
    ]);
    expect(project.calls.at(-1)?.args[2]).toBe("*.ts");
    expect(paths((await composite.grep("x", "/", "src/**/*.ts")).matches)).toEqual(["/src/e.ts"]);
    expect(paths((await composite.grep("x", "/", "*/src/*.js")).matches)).toEqual(["/project/src/c.js"]);
  });

  it("rewrites glob patterns relative to a route and anchors them at the route's root", async () => {
    const project = instrument(new StateBackend({ files: { "/src/a.md": "x", "/docs/b.md": "x" } }));
    const composite = new CompositeBackend(new StateBackend({ files: { "/c.md": "x" } }), {
      "/project": project.backend,
    });
    expect(paths((await composite.glob("**/*.md", "/")).files)).toEqual([
      "/c.md",
      "/project/docs/b.md",
      "/project/src/a.md",
    ]);
    expect(project.calls.at(-1)?.args).toEqual(["**/*.md", "/"]);
    expect(paths((await composite.glob("/project/**")).files)).toEqual(["/project/docs/b.md", "/project/src/a.md"]);
    expect(project.calls.at(-1)?.args).toEqual(["/**", "/"]);
    expect(paths((await composite.glob("/project/src/*.md", "/project/src")).files)).toEqual(["/project/src/a.md"]);
    expect(project.calls.at(-1)?.args).toEqual(["/src/*.md", "/src"]);
    expect(paths((await composite.glob("project/docs/*")).files)).toEqual(["/project/docs/b.md"]);
    expect(project.calls.at(-1)?.args).toEqual(["docs/*", "/"]);
    expect(paths((await composite.glob("*/src/*.md")).files)).toEqual(["/project/src/a.md"]);
    const calls = project.count("glob");
    expect(paths((await composite.glob("*.md")).files)).toEqual(["/c.md"]);
    expect(paths((await composite.glob("other/**")).files)).toEqual([]);
    expect(project.count("glob")).toBe(calls);
  });
});

describe("brace patterns across mount points", () => {
  it("routes each brace alternative on its own, so a brace spanning a mount point loses nothing", async () => {
    const project = instrument(new StateBackend({ files: { "/a": "x", "/b": "x", "/src/c.ts": "x", "/{1}": "x" } }));
    const composite = new CompositeBackend(new StateBackend({ files: { "/x/a": "x", "/a": "x" } }), {
      "/proj": project.backend,
    });
    const single = new StateBackend({
      files: { "/proj/a": "x", "/proj/b": "x", "/proj/src/c.ts": "x", "/proj/{1}": "x", "/x/a": "x", "/a": "x" },
    });
    const patterns = [
      "{proj/a,proj/b}",
      "/{proj/a,proj/b}",
      "{proj/a,x/a}",
      "{proj,x}/a",
      "{proj/src/*.ts,a}",
      "{proj/*,x/*}",
      "{,proj/}a",
      "{proj/src,x}/**",
      "{proj/\\{1\\},proj/b}",
      "{proj/{1},a}",
      "proj/{a,b}",
    ];
    for (const pattern of patterns) {
      const expected = paths((await single.glob(pattern)).files);
      expect(expected.length, `${pattern} selects files`).toBeGreaterThan(0);
      expect(paths((await composite.glob(pattern)).files), `glob ${pattern}`).toEqual(expected);
      const grepped = await composite.grep("x", "/", pattern);
      expect(paths(grepped.matches), `grep filter ${pattern}`).toEqual(
        paths((await single.grep("x", "/", pattern)).matches),
      );
    }
    // The route is asked for its own alternatives only, with the mount's names stripped.
    await composite.glob("{proj/a,proj/b}");
    expect(project.calls.at(-1)?.args).toEqual(["/{a,b}", "/"]);
    await composite.glob("{proj/a,x/a}");
    expect(project.calls.at(-1)?.args).toEqual(["/a", "/"]);
    await composite.glob("{proj/\\{1\\},proj/b}");
    expect(project.calls.at(-1)?.args).toEqual(["/{\\{1\\},b}", "/"]);
    const calls = project.count("glob");
    expect(paths((await composite.glob("{x,y}/a")).files)).toEqual(["/x/a"]);
    expect(project.count("glob")).toBe(calls);
  });
});

describe("execute and capabilities", () => {
  it("answers unsupported when the default backend is not a sandbox", async () => {
    const composite = new CompositeBackend(new StateBackend(), {});
    expect(await composite.execute("echo hi")).toEqual(EXECUTE_UNSUPPORTED);
    // No id: deepagents must not take the router for a sandbox and offer an execute tool.
    expect(composite.id).toBeUndefined();
    expect(isSandboxBackend(composite)).toBe(false);
    expect(composite.capabilities.execute).toBe(false);
  });

  it("delegates execute and id to a sandbox default backend", async () => {
    const commands: string[] = [];
    const sandbox = Object.assign(new StateBackend(), {
      id: "sandbox-7",
      execute: async (command: string): Promise<ExecuteResponse> => {
        commands.push(command);
        return { output: "hi\n", exitCode: 0, truncated: false };
      },
    });
    expect(isSandboxBackend(sandbox)).toBe(true);
    const composite = new CompositeBackend(sandbox, { "/mem": new StateBackend() });
    expect(await composite.execute("echo hi")).toEqual({ output: "hi\n", exitCode: 0, truncated: false });
    expect(commands).toEqual(["echo hi"]);
    expect(composite.id).toBe("sandbox-7");
    expect(isSandboxBackend(composite)).toBe(true);
    expect(composite.capabilities.execute).toBe(true);
  });

  it("claims a capability only when every member has it", () => {
    const weak = Object.assign(new StateBackend(), {
      capabilities: {
        execute: false,
        nativeGrep: false,
        conditionalWrites: false,
        realDirectories: false,
        readOnly: true,
      },
    });
    expect(new CompositeBackend(new StateBackend(), { "/m": new StateBackend() }).capabilities).toEqual({
      execute: false,
      nativeGrep: true,
      conditionalWrites: true,
      realDirectories: false,
      readOnly: false,
    });
    expect(new CompositeBackend(new StateBackend(), { "/m": weak }).capabilities).toMatchObject({
      nativeGrep: false,
      conditionalWrites: false,
      readOnly: false,
    });
    expect(
      new CompositeBackend(weak, { "/m": { backend: new StateBackend(), readOnly: true } }).capabilities.readOnly,
    ).toBe(true);
  });

  it("closes nothing", async () => {
    const composite = new CompositeBackend(new StateBackend(), {});
    await composite.close();
    await composite[Symbol.asyncDispose]();
    expect((await composite.write("/still.txt", "works")).path).toBe("/still.txt");
  });
});

describe("a member that throws", () => {
  const SECRET = "password=hunter2";
  /**
   * A StateBackend whose every method rejects (`withFaults`), or throws synchronously, which
   * `withFaults` (an async wrapper) cannot do, so that case keeps a proxy of its own.
   */
  function crashing(mode: "sync" | "async"): BackendProtocol {
    if (mode === "async") return withFaults(new StateBackend(), [{ method: "*", throw: new Error(SECRET) }]);
    return new Proxy(new StateBackend(), {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== "function" || prop === "constructor") return value;
        return () => {
          throw new Error(SECRET);
        };
      },
    });
  }

  for (const mode of ["sync", "async"] as const) {
    it(`answers backend_unavailable naming the path and mount, never the thrown message (${mode})`, async () => {
      const composite = new CompositeBackend(new StateBackend({ files: { "/top.txt": "x\n" } }), {
        "/r/": crashing(mode),
      });
      const read = await composite.read("/r/a.txt");
      expect(read).toEqual({
        error: "Reading '/r/a.txt' failed: the backend mounted at '/r' failed",
        code: "backend_unavailable",
      });
      expect(await composite.ls("/r")).toMatchObject({
        code: "backend_unavailable",
        error: expect.stringContaining("'/r'"),
      });
      expect((await composite.grep("x")).code).toBe("backend_unavailable");
      expect((await composite.glob("**")).code).toBe("backend_unavailable");
      // Searches that do not reach the route still work.
      expect((await composite.grep("x", "/top.txt")).matches).toHaveLength(1);
      const all = JSON.stringify([read, await composite.grep("x"), await composite.write("/r/b.txt", "y")]);
      expect(all).not.toContain(SECRET);
    });
  }

  it("fails every entry of the crashed member's batch, and only those", async () => {
    const composite = new CompositeBackend(new StateBackend(), { "/r/": crashing("async") });
    const uploaded = await composite.uploadFiles([
      ["/r/a.txt", bytes("a")],
      ["/ok.txt", bytes("ok")],
      ["/r/b.txt", bytes("b")],
    ]);
    expect(uploaded).toEqual([
      {
        path: "/r/a.txt",
        error: "invalid_path",
        code: "backend_unavailable",
        message: "Uploading '/r/a.txt' failed: the backend mounted at '/r' failed",
      },
      { path: "/ok.txt", error: null },
      {
        path: "/r/b.txt",
        error: "invalid_path",
        code: "backend_unavailable",
        message: "Uploading '/r/b.txt' failed: the backend mounted at '/r' failed",
      },
    ]);
    const downloaded = await composite.downloadFiles(["/ok.txt", "/r/a.txt"]);
    expect(text(downloaded[0]?.content ?? null)).toBe("ok");
    expect(downloaded[1]).toEqual({
      path: "/r/a.txt",
      content: null,
      error: "invalid_path",
      code: "backend_unavailable",
      message: "Downloading '/r/a.txt' failed: the backend mounted at '/r' failed",
    });
  });

  it("answers a throwing sandbox's execute with a coded error output", async () => {
    const sandbox = Object.assign(new StateBackend(), {
      id: "sandbox-8",
      execute: async (): Promise<ExecuteResponse> => {
        throw new Error(SECRET);
      },
    });
    const composite = new CompositeBackend(sandbox, {});
    expect(await composite.execute("echo hi")).toEqual({
      output: "Error: '/': the backend mounted at '/' failed (code: backend_unavailable)",
      exitCode: null,
      truncated: false,
    });
  });
});

describe("equivalence with one StateBackend holding the same files", () => {
  /** Small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
  function random(seed: number) {
    let state = seed >>> 0;
    const next = () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    return { next, pick };
  }

  const MOUNTS = ["/a", "/a/b", "/mem", "/x/y"];
  // Directory names never carry an extension and file names always do, so no path is both.
  const DIRS = ["a", "b", "mem", "memo", "x", "y", "src", "d1", "ü"];
  const FILES = ["f1.txt", "f2.md", "notes.txt", "k.png", ".hidden.md", "a b.txt", "z.ts"];
  const WORDS = ["foo", "bar", "baz", "foo bar", "qux", "", "ba", "\u{1F600} foo"];
  const MOUNT_ANCESTORS = new Set(["/a", "/a/b", "/mem", "/x", "/x/y"]);

  function randomTree(rng: ReturnType<typeof random>, count: number): Record<string, string> {
    const files: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
      const depth = Math.floor(rng.next() * 4);
      const segments = Array.from({ length: depth }, () => rng.pick(DIRS));
      const path = `/${[...segments, rng.pick(FILES)].join("/")}`;
      const lines = Array.from({ length: 1 + Math.floor(rng.next() * 5) }, () => rng.pick(WORDS));
      files[path] = lines.join(rng.next() < 0.2 ? "\r\n" : "\n") + (rng.next() < 0.5 ? "\n" : "");
    }
    return files;
  }

  function build(seed: number) {
    const rng = random(seed);
    const members = ["/", ...MOUNTS].map((mount) => ({ mount, files: randomTree(rng, 40) }));
    // Every mount point holds a visible file, so that the single backend also has the directory.
    for (const member of members) if (member.mount !== "/") member.files["/keep.md"] = "foo keep";
    const backends = members.map((m) => new StateBackend({ files: m.files }));
    const [def, ...routes] = backends as [StateBackend, ...StateBackend[]];
    const composite = new CompositeBackend(
      def,
      Object.fromEntries(MOUNTS.map((m, i) => [m, routes[i] as StateBackend])),
    );
    const owner = (path: string) =>
      [...MOUNTS].sort((p, q) => q.length - p.length).find((m) => path === m || path.startsWith(`${m}/`)) ?? "/";
    const visible: Record<string, string> = {};
    for (const { mount, files } of members) {
      for (const [inner, content] of Object.entries(files)) {
        const outer = mount === "/" ? inner : `${mount}${inner}`;
        if (owner(outer) === mount && !MOUNT_ANCESTORS.has(outer)) visible[outer] = content;
      }
    }
    return { composite, single: new StateBackend({ files: visible }), visible };
  }

  const SEARCH_DIRS = ["/", "/a", "/a/b", "/a/b/src", "/mem", "/memo", "/x", "/x/y", "/d1", "/src", "/nope"];
  const GLOBS = [
    "**",
    "**/*",
    "**/*.md",
    "*",
    "*.txt",
    "a/**",
    "a/b/**/*.txt",
    "/a/**",
    "/a/b/*.md",
    "/**/*.txt",
    "mem/*",
    "x/y/**",
    "x/*/keep.md",
    "**/b/**",
    "{a,mem}/**/*.md",
    "a/*/f?.txt",
    "[am]*/**",
    "*/*",
    "*/*/*.md",
    "src/**",
    "**/src/*",
    "/x/y/src/**",
    "y/**",
    // Braces whose alternatives lie in different members, or span a mount point.
    "{a/keep.md,a/b/keep.md}",
    "/{x/y/keep.md,x/y/*/keep.md}",
    "{a/b,mem}/**",
    "{a/b/keep.md,x/y/keep.md,mem/*}",
    "/{x/y,a}/*.md",
    "{mem,memo}/*",
    "{a,x}/{b,y}/**/*.txt",
  ];

  it.each([1, 2, 3, 4, 5])("gives the same ls, glob and grep results (seed %i)", async (seed) => {
    const { composite, single, visible } = build(seed);
    expect(Object.keys(visible).length).toBeGreaterThan(50);
    const dirs = new Set(["/", ...SEARCH_DIRS]);
    for (const path of Object.keys(visible)) {
      for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) dirs.add(path.slice(0, i));
    }
    const shape = (files: Array<{ path: string; is_dir?: boolean; size?: number }> | undefined) =>
      (files ?? []).map((f) => `${f.path}|${f.is_dir}|${f.size}`);
    for (const dir of [...dirs].sort(comparePaths)) {
      expect(shape((await composite.ls(dir)).files), `ls ${dir}`).toEqual(shape((await single.ls(dir)).files));
    }
    for (const dir of SEARCH_DIRS) {
      for (const pattern of GLOBS) {
        const got = await composite.glob(pattern, dir);
        expect(shape(got.files), `glob ${pattern} in ${dir}`).toEqual(shape((await single.glob(pattern, dir)).files));
      }
      for (const pattern of ["foo", "ba", "absent", "\u{1F600}"]) {
        for (const glob of [null, "*.md", "**/*.txt", "a/b/**", "b/**/*.md", "/a/**/*.txt", "mem/*.txt", "*/keep.md"]) {
          for (const maxCount of [null, 0, 1, 3, 10]) {
            const expected = await single.grep(pattern, dir, glob, maxCount);
            const got = await composite.grep(pattern, dir, glob, maxCount);
            const label = `grep ${pattern} in ${dir} glob=${glob} max=${maxCount}`;
            expect(got.matches, label).toEqual(expected.matches);
            expect(got.truncated === true, label).toBe(expected.truncated === true);
          }
        }
      }
    }
  });
});
