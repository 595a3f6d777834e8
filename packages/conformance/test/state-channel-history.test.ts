// StateBackend's history inside a LangGraph run (issue #22): versions in the thread's
// `deepfs_history` channel. The history rules and the whole contract with history on run inside
// stand-in threads; the cases below are those only a run has (steps, parallel tasks, checkpoints,
// files changed outside deepfs, subagents' state coming back).
import {
  CompositeBackend,
  type FileDataV2,
  MemoryBackend,
  reduceStateHistory,
  StateBackend,
  type StateHistory,
} from "@deepfs/core";
import { describe, expect, it } from "vitest";
import { createContractContext, defineBackendContract, registerHistoryRules } from "../src/index.js";
import { inThread, Thread } from "./langgraph-thread.js";

const withHistory = (options: { maxVersions?: number } = {}) =>
  new StateBackend({ history: options.maxVersions ? { maxVersions: options.maxVersions } : true });

describe("history of a StateBackend inside a LangGraph thread", () => {
  registerHistoryRules(
    createContractContext({
      name: "StateBackend in a thread, history on",
      create: () => inThread(withHistory(), new Thread({}, { history: true })),
    }),
  );
});

describe("history of a StateBackend inside a LangGraph thread, keeping 20 versions", () => {
  const create = () => inThread(withHistory({ maxVersions: 20 }), new Thread({}, { history: true }));
  registerHistoryRules(createContractContext({ name: "StateBackend in a thread, 20 versions", create }), {
    maxVersions: 20,
  });
});

describe("history through a router over a StateBackend default, inside a LangGraph thread", () => {
  const create = () =>
    inThread(
      new CompositeBackend(withHistory(), { "/mem/": new MemoryBackend({ history: true }) }),
      new Thread({}, { history: true }),
    );
  // The router edits a member that is not built on the facade by a conditional write.
  registerHistoryRules(createContractContext({ name: "CompositeBackend over StateBackend in a thread", create }), {
    editOp: "write",
  });
});

defineBackendContract({
  name: "StateBackend in a LangGraph thread, history on (5 versions)",
  capabilities: { execute: false },
  omit: ["scale"],
  create: () => inThread(withHistory({ maxVersions: 5 }), new Thread({}, { history: true })),
});

const text = (content: string) => ({ content, mimeType: "text/plain", created_at: "x", modified_at: "x" });

describe("StateBackend history in a run: what only a run has", () => {
  it("versions are kept in the thread's state, not in the files, and each thread has its own", async () => {
    const backend = withHistory();
    const one = new Thread({}, { history: true, id: "one" });
    const two = new Thread({}, { history: true, id: "two" });
    await one.step("a", () => backend.write("/f.txt", "v1"));
    await one.step("b", () => backend.edit("/f.txt", "v1", "v2"));
    expect(Object.keys(one.files)).toEqual(["/f.txt"]);
    expect((one.history as StateHistory).versions.map((v) => v.op)).toEqual(["write", "edit"]);
    const listed = await one.step("c", () => backend.history("/f.txt"));
    expect(listed.versions?.map((v) => v.op)).toEqual(["edit", "write"]);
    expect((await two.step("d", () => backend.history("/f.txt"))).versions).toEqual([]);
    // A snapshot of one thread is not an id the other knows.
    const snap = await one.step("e", () => backend.snapshot());
    expect((await two.step("f", () => backend.changesSince(snap.snapshot ?? ""))).code).toBe("invalid_argument");
  });

  it("a version id shown inside a step stays valid after the step, with parallel tasks", async () => {
    const backend = withHistory();
    const thread = new Thread({}, { history: true });
    const [a, b] = [thread.task("a"), thread.task("b")];
    await Promise.all([a(() => backend.write("/a.txt", "A1")), b(() => backend.write("/b.txt", "B1"))]);
    const seen = await a(() => backend.history("/a.txt"));
    const seenB = await b(() => backend.history("/b.txt"));
    thread.commit();
    const after = await thread.step("c", () => backend.history("/a.txt"));
    expect(after.versions?.[0]?.version).toBe(seen.versions?.[0]?.version);
    const afterB = await thread.step("d", () => backend.history("/b.txt"));
    expect(afterB.versions?.[0]?.version).toBe(seenB.versions?.[0]?.version);
    expect(after.versions?.[0]?.version).not.toBe(afterB.versions?.[0]?.version);
    const raw = await thread.step("e", () => backend.readVersion("/a.txt", seen.versions?.[0]?.version ?? ""));
    expect(raw.data?.content).toBe("A1");
  });

  it("a snapshot taken beside another task's write counts that write as a change since", async () => {
    const backend = withHistory();
    const thread = new Thread({ "/s.txt": text("same") }, { history: true });
    await thread.step("seed", () => backend.write("/base.txt", "base"));
    const [a, b] = [thread.task("a"), thread.task("b")];
    const [snap] = await Promise.all([
      a(async () => {
        await backend.write("/own.txt", "mine, before the snapshot");
        return backend.snapshot();
      }),
      b(() => backend.write("/other.txt", "beside it")),
    ]);
    thread.commit();
    const changes = await thread.step("c", () => backend.changesSince(snap.snapshot ?? ""));
    expect(changes.changes).toEqual([{ path: "/other.txt", change: "added" }]);
    await thread.step("r", () => backend.restoreSnapshot(snap.snapshot ?? ""));
    expect(Object.keys(thread.files).sort()).toEqual(["/base.txt", "/own.txt", "/s.txt"]);
  });

  it("a seeded file edited by the agent can be undone: its seeded content is versioned first", async () => {
    const backend = withHistory();
    const thread = new Thread({ "/plan.md": text("seeded plan") }, { history: true });
    await thread.step("a", () => backend.edit("/plan.md", "seeded", "edited"));
    const versions = (await thread.step("b", () => backend.history("/plan.md"))).versions ?? [];
    expect(versions.map((v) => v.op)).toEqual(["edit", "write"]);
    const undo = await thread.step("c", () => backend.restore("/plan.md", versions[1]?.version ?? ""));
    expect(undo.error).toBeUndefined();
    expect((thread.files["/plan.md"] as FileDataV2).content).toBe("seeded plan");
  });

  it("a snapshot versions files changed outside deepfs, so restoring it brings them back", async () => {
    const backend = withHistory();
    const thread = new Thread({}, { history: true });
    await thread.step("a", () => backend.write("/kept.txt", "by deepfs"));
    // Another writer of the channel (deepagents' own tools, a subagent's state, the input).
    thread.files = { ...thread.files, "/kept.txt": text("changed by another tool"), "/new.txt": text("x") };
    const snap = await thread.step("b", () => backend.snapshot());
    await thread.step("c", () => backend.write("/kept.txt", "after the snapshot"));
    await thread.step("d", () => backend.delete("/new.txt"));
    const changes = await thread.step("e", () => backend.changesSince(snap.snapshot ?? ""));
    expect(changes.changes).toEqual([
      { path: "/kept.txt", change: "modified" },
      { path: "/new.txt", change: "deleted" },
    ]);
    await thread.step("f", () => backend.restoreSnapshot(snap.snapshot ?? ""));
    expect((thread.files["/kept.txt"] as FileDataV2).content).toBe("changed by another tool");
    expect((thread.files["/new.txt"] as FileDataV2).content).toBe("x");
  });

  it("the history survives a checkpoint round trip (a copy of the state)", async () => {
    const backend = withHistory();
    const thread = new Thread({}, { history: true });
    await thread.step("a", () => backend.write("/f.bin", "one"));
    await thread.step("b", () => backend.uploadFiles([["/f.bin", new Uint8Array([0, 255, 1])]]));
    const restored = new Thread(structuredClone(thread.files), { history: true });
    restored.history = structuredClone(thread.history);
    const versions = (await restored.step("c", () => backend.history("/f.bin"))).versions ?? [];
    expect(versions.map((v) => v.op)).toEqual(["upload", "write"]);
    const bytes = await restored.step("d", () => backend.readVersion("/f.bin", versions[0]?.version ?? ""));
    expect(bytes.data?.content).toEqual(new Uint8Array([0, 255, 1]));
  });

  it("a whole history coming back (a subagent's state) adds only what it lacks, however often merged", () => {
    const base = reduceStateHistory(undefined, {
      append: [
        {
          id: "v0.a",
          step: 0,
          task: "a",
          local: 0,
          path: "/f",
          op: "write",
          etag: "e",
          size: 1,
          modified_at: "x",
          at: 1,
          data: null,
        },
      ],
    });
    const child = reduceStateHistory(base, {
      append: [
        {
          id: "v1.b",
          step: 1,
          task: "b",
          local: 1,
          path: "/g",
          op: "write",
          etag: "g",
          size: 1,
          modified_at: "x",
          at: 2,
          data: null,
        },
      ],
    });
    const once = reduceStateHistory(base, child);
    const twice = reduceStateHistory(once, child);
    expect(once.versions.map((v) => v.id)).toEqual(["v0.a", "v1.b"]);
    expect(twice).toEqual(once);
    // Malformed input is ignored, never stored.
    expect(reduceStateHistory(once, { append: [{ id: 1 }], versions: "no" })).toEqual(once);
  });

  it("retention drops old versions in the state too, and a snapshot before them says so", async () => {
    const backend = withHistory({ maxVersions: 2 });
    const thread = new Thread({}, { history: true });
    await thread.step("a", () => backend.write("/f.txt", "1"));
    const snap = await thread.step("s", () => backend.snapshot());
    for (const n of [2, 3, 4]) await thread.step(`w${n}`, () => backend.write("/f.txt", String(n)));
    expect((thread.history as StateHistory).versions.length).toBe(2);
    expect((await thread.step("c", () => backend.changesSince(snap.snapshot ?? ""))).code).toBe("unsupported");
  });
});
