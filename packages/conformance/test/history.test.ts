// Version history (issue #22, step 2): the history rules on MemoryBackend, StateBackend (outside a
// graph run; inside one is in state-channel.test.ts) and through the router, the whole contract
// with history on, and the `unsupported` answers when history is off.
import { randomUUID } from "node:crypto";
import { CompositeBackend, type FileUploadResponse, MemoryBackend, StateBackend, withHistory } from "@deepfs/core";
import { DriverBackend } from "@deepfs/core/kit";
import { describe, expect, it } from "vitest";
import { createContractContext, defineBackendContract, registerHistoryRules } from "../src/index.js";

describe("history of a MemoryBackend", () => {
  registerHistoryRules(
    createContractContext({ name: "MemoryBackend", create: () => new MemoryBackend({ history: true }) }),
  );
});

describe("history of a MemoryBackend keeping 20 versions", () => {
  const create = () => new MemoryBackend({ history: { maxVersions: 20 } });
  registerHistoryRules(createContractContext({ name: "MemoryBackend maxVersions 20", create }), { maxVersions: 20 });
});

describe("history of a StateBackend", () => {
  registerHistoryRules(
    createContractContext({ name: "StateBackend", create: () => new StateBackend({ history: true }) }),
  );
});

describe("history through a router, in a route", () => {
  const create = () => ({
    backend: new CompositeBackend(new MemoryBackend({ history: true }), {
      "/mnt/": new MemoryBackend({ history: true }),
    }),
    root: `/mnt/t-${randomUUID().slice(0, 8)}`,
  });
  registerHistoryRules(createContractContext({ name: "CompositeBackend route", create }));
});

describe("history through a router, in a StateBackend default", () => {
  const create = () =>
    new CompositeBackend(new StateBackend({ history: true }), { "/mem/": new MemoryBackend({ history: true }) });
  // The router edits a member that is not built on the facade by a conditional write.
  registerHistoryRules(createContractContext({ name: "CompositeBackend over StateBackend", create }), {
    editOp: "write",
  });
});

describe("history of any backend by withHistory, kept in another backend", () => {
  // Two wrappers over one backend and one history store stand for two processes.
  const create = () => {
    const base = new MemoryBackend();
    const store = new MemoryBackend();
    return { backend: withHistory(base, { store }), peer: () => withHistory(base, { store }) };
  };
  registerHistoryRules(createContractContext({ name: "withHistory", create, peers: true }), { peers: true });
});

describe("history of any backend by withHistory keeping 20 versions", () => {
  const create = () => withHistory(new MemoryBackend(), { store: new MemoryBackend(), maxVersions: 20 });
  registerHistoryRules(createContractContext({ name: "withHistory maxVersions 20", create }), { maxVersions: 20 });
});

defineBackendContract({
  name: "withHistory over a MemoryBackend (5 versions)",
  capabilities: { execute: false },
  omit: ["scale"],
  create: () => withHistory(new MemoryBackend(), { store: new MemoryBackend(), maxVersions: 5 }),
});

defineBackendContract({
  name: "MemoryBackend (history on, 5 versions)",
  capabilities: { execute: false },
  omit: ["scale"],
  create: () => new MemoryBackend({ history: { maxVersions: 5 } }),
});

describe("history off, and the router's snapshots", () => {
  it("every history method answers unsupported when history is off", async () => {
    for (const backend of [new MemoryBackend({ files: { "/a.txt": "a" } }), new StateBackend()]) {
      const answers = [
        await backend.history("/a.txt"),
        await backend.readVersion("/a.txt", "v1"),
        await backend.restore("/a.txt", "v1"),
        await backend.snapshot(),
        await backend.changesSince("x"),
        await backend.restoreSnapshot("x"),
      ];
      for (const answer of answers) {
        expect(answer.code).toBe("unsupported");
        expect(answer.error).toMatch(/keeps no history .*`history` option/);
      }
    }
    // Arguments are still validated first.
    expect((await new MemoryBackend().history("/a/../b")).code).toBe("invalid_path");
  });

  it("a router answers unsupported for a member without history, naming it", async () => {
    const router = new CompositeBackend(new MemoryBackend({ history: true }), { "/plain/": new MemoryBackend() });
    await router.write("/plain/x.txt", "x");
    const listed = await router.history("/plain/x.txt");
    expect(listed.code).toBe("unsupported");
    expect(listed.error).toContain("'/plain/x.txt'");
    expect(listed.error).toContain("the mount '/plain/'");
    expect((await router.snapshot()).code).toBe("unsupported");
    expect((await router.history("/plain")).code).toBe("is_directory");
  });

  it("a router's snapshot covers every route and the default, and restores them all", async () => {
    const shadowed = new MemoryBackend({ history: true, files: { "/m/hidden.txt": "under the route" } });
    const route = new MemoryBackend({ history: true });
    const router = new CompositeBackend(shadowed, { "/m/": route });
    await router.write("/top.txt", "top");
    await router.write("/m/in-route.txt", "route");
    const snap = (await router.snapshot()).snapshot as string;
    expect(snap).toMatch(/^r\./);
    await router.write("/top.txt", "TOP");
    await router.delete("/m/in-route.txt");
    await router.write("/m/added.txt", "added");
    // A change the route hides is not reported.
    await shadowed.write("/m/hidden.txt", "changed below the route");
    const changes = (await router.changesSince(snap)).changes?.map((c) => `${c.change} ${c.path}`);
    expect(changes).toEqual(["added /m/added.txt", "deleted /m/in-route.txt", "modified /top.txt"]);
    // The members restore by reading and writing: each version is read once, as of the snapshot,
    // and written back (never read a second time by its id).
    let readsById = 0;
    for (const member of [shadowed, route]) {
      const history = DriverBackend.driverOf(member)?.history;
      if (!history) throw new Error("no driver history");
      const readVersion = history.readVersion.bind(history);
      history.readVersion = (...args) => {
        readsById++;
        return readVersion(...args);
      };
    }
    const restored = await router.restoreSnapshot(snap);
    expect(readsById).toBe(0);
    expect(restored.changes?.length).toBe(3);
    expect((await router.read("/top.txt")).content).toBe("top");
    expect((await router.read("/m/in-route.txt")).content).toBe("route");
    expect((await router.read("/m/added.txt")).code).toBe("file_not_found");
    expect((await route.history("/in-route.txt")).versions?.map((v) => v.op)).toEqual(["restore", "delete", "write"]);
    // A member's own id is not the router's.
    const own = (await route.snapshot()).snapshot as string;
    expect((await router.changesSince(own)).code).toBe("invalid_argument");
    expect((await route.changesSince(snap)).code).toBe("invalid_argument");
  });
});

describe("withHistory when its store fails", () => {
  /** A history store whose uploads fail once `down` is set (the lock and log still answer). */
  class FlakyStore extends MemoryBackend {
    down = false;
    override uploadFiles(files: Array<[string, Uint8Array]>) {
      if (!this.down) return super.uploadFiles(files);
      const down: FileUploadResponse[] = files.map(([path]) => ({
        path,
        error: "permission_denied",
        code: "backend_unavailable",
      }));
      return Promise.resolve(down);
    }
  }

  it("a change made without its version answers backend_unavailable saying so", async () => {
    const base = new MemoryBackend();
    const store = new FlakyStore();
    const backend = withHistory(base, { store });
    expect((await backend.write("/a.txt", "one")).error).toBeUndefined();
    store.down = true;
    const lost = await backend.write("/a.txt", "two");
    expect(lost.code).toBe("backend_unavailable");
    expect(lost.error).toContain("the change was made but its version was not recorded");
    expect(lost.error).not.toContain("two");
    expect((await base.read("/a.txt")).content).toBe("two");
    store.down = false;
    expect((await backend.history("/a.txt")).versions?.map((v) => v.op)).toEqual(["write"]);
    expect(() => withHistory(base, { store: base })).toThrow(/another backend/);
  });
});
