import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type BackendProtocol,
  CompositeBackend,
  type ExecuteResponse,
  isSandboxBackend,
  StateBackend,
  withFaults,
} from "../src/index.js";

const bytes = (text: string) => new TextEncoder().encode(text);

/** A StateBackend that also "executes" (echoes the command), to test sandbox forwarding. */
function fakeSandbox(): StateBackend & { id: string; execute(command: string): Promise<ExecuteResponse> } {
  return Object.assign(new StateBackend(), {
    id: "fake-sandbox",
    async execute(command: string): Promise<ExecuteResponse> {
      return { output: `ran ${command}`, exitCode: 0, truncated: false };
    },
  });
}

/** Records whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  const tracked = promise.finally(() => {
    done = true;
  });
  return { settled: () => done, promise: tracked };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("withFaults", () => {
  it("forwards every call unchanged with an empty plan, and counts calls per method", async () => {
    const backend = withFaults(new StateBackend({ files: { "/a.txt": "alpha\n" } }), []);
    expect((await backend.read("/a.txt")).content).toBe("alpha");
    expect((await backend.write("/b.txt", "beta")).path).toBe("/b.txt");
    expect((await backend.grep("a")).matches).toHaveLength(2);
    await backend.read("/missing.txt");
    expect(backend.faults.calls.read).toBe(2);
    expect(backend.faults.calls.write).toBe(1);
    expect(backend.faults.calls.grep).toBe(1);
    expect(backend.faults.calls.ls).toBe(0);
    expect(backend.faults.injected).toBe(0);
  });

  it("keeps capabilities, and the sandbox's id and execute", async () => {
    const state = new StateBackend();
    const plain = withFaults(state, []);
    expect(plain.capabilities).toEqual(state.capabilities);
    expect(isSandboxBackend(plain)).toBe(false);
    expect("faults" in plain).toBe(true);

    const sandbox = withFaults(fakeSandbox(), []);
    expect(isSandboxBackend(sandbox)).toBe(true);
    expect(sandbox.id).toBe("fake-sandbox");
    expect(await sandbox.execute("ls")).toEqual({ output: "ran ls", exitCode: 0, truncated: false });
    expect(sandbox.faults.calls.execute).toBe(1);
  });

  it("lets `after` calls pass, fails the next `times`, then passes again", async () => {
    const backend = withFaults(new StateBackend({ files: { "/a.txt": "alpha" } }), [
      { method: "read", after: 2, times: 2, code: "timeout" },
    ]);
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 6; i++) codes.push((await backend.read("/a.txt")).code);
    expect(codes).toEqual([undefined, undefined, "timeout", "timeout", undefined, undefined]);
    expect(backend.faults.calls.read).toBe(6);
    expect(backend.faults.injected).toBe(2);
  });

  it("fails every call by default (after 0, times Infinity) with backend_unavailable", async () => {
    const backend = withFaults(new StateBackend({ files: { "/a.txt": "alpha" } }), [{ method: "readRaw" }]);
    for (let i = 0; i < 3; i++) {
      const result = await backend.readRaw("/a.txt");
      expect(result.code).toBe("backend_unavailable");
      expect(result.error).toMatch(/readRaw/);
      expect(result.data).toBeUndefined();
    }
    // Other methods are untouched.
    expect((await backend.read("/a.txt")).content).toBe("alpha");
  });

  it("answers the plan's code and message, without calling the backend", async () => {
    const state = new StateBackend();
    const backend = withFaults(state, [{ method: "write", code: "read_only", message: "no writes today" }]);
    expect(await backend.write("/x.txt", "x")).toEqual({ error: "no writes today", code: "read_only" });
    expect(state.files).toEqual({});
  });

  it("`*` counts and faults every method", async () => {
    const backend = withFaults(new StateBackend({ files: { "/a.txt": "alpha" } }), [
      { method: "*", after: 1, times: 2, code: "backend_unavailable" },
    ]);
    expect((await backend.ls("/")).files).toHaveLength(1);
    expect((await backend.glob("**")).code).toBe("backend_unavailable");
    expect((await backend.delete("/a.txt")).code).toBe("backend_unavailable");
    expect((await backend.read("/a.txt")).content).toBe("alpha");
    expect(backend.faults.calls).toMatchObject({ ls: 1, glob: 1, delete: 1, read: 1 });
  });

  it("applies the first due fault of the plan, while every fault counts the call", async () => {
    const backend = withFaults(new StateBackend(), [
      { method: "ls", after: 1, times: 1, code: "timeout" },
      { method: "*", code: "permission_denied" },
    ]);
    // Call 0: only the `*` fault is due. Call 1: both are due and the first wins. Call 2: `*` again.
    expect((await backend.ls("/")).code).toBe("permission_denied");
    expect((await backend.ls("/")).code).toBe("timeout");
    expect((await backend.ls("/")).code).toBe("permission_denied");
  });

  it("fails uploadFiles and downloadFiles per entry, in input order, storing nothing", async () => {
    const state = new StateBackend();
    const backend = withFaults(state, [
      { method: "uploadFiles", times: 1, code: "too_large" },
      { method: "downloadFiles", times: 1, code: "file_not_found" },
    ]);
    const uploaded = await backend.uploadFiles([
      ["/u/a.txt", bytes("a")],
      ["//u//b.bin", bytes("b")],
    ]);
    expect(uploaded).toEqual([
      expect.objectContaining({ path: "/u/a.txt", error: "permission_denied", code: "too_large" }),
      expect.objectContaining({ path: "/u/b.bin", error: "permission_denied", code: "too_large" }),
    ]);
    expect(uploaded[0]?.message).toContain("/u/a.txt");
    expect(state.files).toEqual({});

    expect((await backend.uploadFiles([["/u/a.txt", bytes("a")]]))[0]?.error).toBeNull();
    const downloaded = await backend.downloadFiles(["/u/a.txt", "/u/other.txt"]);
    expect(downloaded).toEqual([
      expect.objectContaining({ path: "/u/a.txt", content: null, error: "file_not_found", code: "file_not_found" }),
      expect.objectContaining({ path: "/u/other.txt", content: null, error: "file_not_found", code: "file_not_found" }),
    ]);
    expect((await backend.downloadFiles(["/u/a.txt"]))[0]?.content).toEqual(bytes("a"));
  });

  it("fails execute in its own shape: the code in the output, exit 124 for a timeout", async () => {
    const backend = withFaults(fakeSandbox(), [
      { method: "execute", times: 1, code: "timeout" },
      { method: "execute", code: "backend_unavailable" },
    ]);
    const timedOut = await backend.execute("sleep 9");
    expect(timedOut.exitCode).toBe(124);
    expect(timedOut.output).toContain("(code: timeout)");
    const unavailable = await backend.execute("ls");
    expect(unavailable.exitCode).toBeNull();
    expect(unavailable.output).toContain("(code: backend_unavailable)");
  });

  it("delays a call by delayMs, then forwards it", async () => {
    vi.useFakeTimers();
    const backend = withFaults(new StateBackend({ files: { "/a.txt": "alpha" } }), [
      { method: "read", times: 1, delayMs: 1000 },
    ]);
    const first = track(backend.read("/a.txt"));
    await vi.advanceTimersByTimeAsync(999);
    expect(first.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await first.promise).content).toBe("alpha");
    // The fault is spent: the next read answers at once.
    expect((await backend.read("/a.txt")).content).toBe("alpha");
    expect(backend.faults.injected).toBe(1);
  });

  it("delays, then fails, when delayMs and code are both given", async () => {
    vi.useFakeTimers();
    const backend = withFaults(new StateBackend(), [{ method: "glob", delayMs: 500, code: "timeout" }]);
    const call = track(backend.glob("**"));
    await vi.advanceTimersByTimeAsync(499);
    expect(call.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await call.promise).code).toBe("timeout");
  });

  it("ends a delay early with `aborted` when the call's signal aborts, without forwarding", async () => {
    vi.useFakeTimers();
    const state = new StateBackend({ files: { "/a.txt": "one two" } });
    const backend = withFaults(state, [
      { method: "write", delayMs: 60_000 },
      { method: "edit", delayMs: 60_000 },
    ]);
    const controller = new AbortController();
    const write = track(backend.write("/b.txt", "b", { signal: controller.signal }));
    const edit = track(backend.edit("/a.txt", "one", "1", false, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(10);
    expect(write.settled() || edit.settled()).toBe(false);
    controller.abort();
    expect((await write.promise).code).toBe("aborted");
    expect((await edit.promise).code).toBe("aborted");
    expect(Object.keys(state.files)).toEqual(["/a.txt"]);
    expect((await state.read("/a.txt")).content).toBe("one two");
    // An already aborted signal does not wait at all.
    expect((await backend.write("/c.txt", "c", { signal: controller.signal })).code).toBe("aborted");
  });

  it("throws the plan's error, like a buggy backend, and counts the call", async () => {
    const boom = new Error("boom");
    const backend = withFaults(new StateBackend(), [{ method: "ls", times: 1, throw: boom }]);
    await expect(backend.ls("/")).rejects.toBe(boom);
    expect(backend.faults.calls.ls).toBe(1);
    expect((await backend.ls("/")).files).toEqual([]);
  });

  it("forwards with the original backend as `this`, so internal calls are not counted or faulted", async () => {
    class SelfCalling extends StateBackend {
      override async readRaw(filePath: string) {
        await this.read(filePath);
        return super.readRaw(filePath);
      }
    }
    const backend = withFaults(new SelfCalling({ files: { "/a.txt": "a" } }), [{ method: "read" }]);
    expect((await backend.readRaw("/a.txt")).data?.content).toBe("a");
    expect(backend.faults.calls.read).toBe(0);
  });
});

describe("CompositeBackend with a faulty route", () => {
  function router(route: BackendProtocol) {
    const base = new StateBackend({ files: { "/top.txt": "needle at the top\n" } });
    return new CompositeBackend(base, { "/r/": route });
  }

  it("grep over a failing route answers the route's code, not partial results", async () => {
    const route = withFaults(new StateBackend({ files: { "/in.txt": "needle in the route\n" } }), [
      { method: "grep", code: "backend_unavailable" },
    ]);
    const composite = router(route);
    const result = await composite.grep("needle", "/");
    expect(result.code).toBe("backend_unavailable");
    expect(result.error).toBeTypeOf("string");
    expect(result.matches).toBeUndefined();
    expect(route.faults.calls.grep).toBe(1);
    // A search that does not reach the route never asks it, and succeeds.
    const outside = await composite.grep("needle", "/top.txt");
    expect(outside.matches).toEqual([{ path: "/top.txt", line: 1, text: "needle at the top" }]);
    expect(route.faults.calls.grep).toBe(1);
  });

  it("glob over a failing route answers its code; files of the route still read", async () => {
    const route = withFaults(new StateBackend({ files: { "/in.txt": "x" } }), [{ method: "glob", code: "timeout" }]);
    const composite = router(route);
    expect((await composite.glob("**")).code).toBe("timeout");
    expect((await composite.read("/r/in.txt")).content).toBe("x");
  });

  it("a route that fails its first calls recovers once the fault is spent", async () => {
    const route = withFaults(new StateBackend(), [{ method: "write", times: 2, code: "backend_unavailable" }]);
    const composite = router(route);
    expect((await composite.write("/r/a.txt", "1")).code).toBe("backend_unavailable");
    expect((await composite.write("/r/a.txt", "2")).code).toBe("backend_unavailable");
    expect(await composite.write("/r/a.txt", "3")).toMatchObject({ path: "/r/a.txt" });
    expect((await composite.read("/r/a.txt")).content).toBe("3");
  });

  it("a failing route's upload entries keep their codes; other members' entries succeed", async () => {
    const route = withFaults(new StateBackend(), [{ method: "uploadFiles", code: "backend_unavailable" }]);
    const composite = router(route);
    const uploaded = await composite.uploadFiles([
      ["/r/a.txt", bytes("a")],
      ["/b.txt", bytes("b")],
    ]);
    expect(uploaded).toEqual([
      expect.objectContaining({ path: "/r/a.txt", error: "invalid_path", code: "backend_unavailable" }),
      { path: "/b.txt", error: null },
    ]);
  });

  // A member that throws breaks the contract, but the router must contain it: an agent's tool call
  // gets a coded error instead of an exception. KNOWN ROUTER BUG (reported): every method rejects.
  it("never throws when a route throws: each method answers a coded error", async () => {
    const route = withFaults(new StateBackend(), [{ method: "*", throw: new Error("member crashed") }]);
    const composite = router(route);
    const outcomes: Record<string, unknown> = {};
    const calls: Record<string, () => Promise<unknown>> = {
      ls: () => composite.ls("/r"),
      read: () => composite.read("/r/a.txt"),
      readRaw: () => composite.readRaw("/r/a.txt"),
      write: () => composite.write("/r/a.txt", "x"),
      edit: () => composite.edit("/r/a.txt", "x", "y"),
      delete: () => composite.delete("/r/a.txt"),
      grep: () => composite.grep("x"),
      glob: () => composite.glob("**"),
      uploadFiles: async () => (await composite.uploadFiles([["/r/a.txt", bytes("x")]]))[0],
      downloadFiles: async () => (await composite.downloadFiles(["/r/a.txt"]))[0],
    };
    for (const [method, call] of Object.entries(calls)) {
      try {
        const result = (await call()) as { code?: string };
        outcomes[method] = result.code;
      } catch (error) {
        outcomes[method] = `threw: ${(error as Error).message}`;
      }
    }
    expect(outcomes).toEqual(Object.fromEntries(Object.keys(calls).map((m) => [m, "backend_unavailable"])));
  });
});
