import { type FileDataV2, StateBackend } from "@deepfs/core";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import { getConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { defineBackendContract } from "../src/index.js";
import { inThread, Thread } from "./langgraph-thread.js";

/** One StateBackend per run of the tenant rule, shared by its tenants: threads of one graph. */
const shared = new Map<string, StateBackend>();

defineBackendContract({
  name: "StateBackend in a LangGraph thread (the files state channel)",
  create: () => inThread(new StateBackend(), new Thread()),
  capabilities: { execute: false },
  // Tenants: threads of one agent (one StateBackend instance), each with its own state.
  tenant: (_name, run) => {
    const backend = shared.get(run) ?? new StateBackend();
    shared.set(run, backend);
    return { backend: inThread(backend, new Thread()), cleanup: () => void shared.delete(run) };
  },
});

describe("StateBackend inside a LangGraph run keeps files in the thread's state", () => {
  it("the stand-in tasks give the run config that LangGraph's own getConfig() reads", async () => {
    const run = new Thread().task("probe");
    const configurable = await run(async () => getConfig()?.configurable);
    expect(configurable?.__pregel_task_id).toBe("probe");
  });

  it("inside a run without the history channel, or with history off, history answers unsupported, saying why", async () => {
    const backend = new StateBackend({ history: true, files: { "/kept.txt": "memory" } });
    const run = new Thread().task("h");
    for (const answer of [
      await run(() => backend.history("/kept.txt")),
      await run(() => backend.snapshot()),
      await run(() => backend.restore("/kept.txt", "v1")),
    ]) {
      expect(answer.code).toBe("unsupported");
      expect(answer.error).toMatch(/deepfsHistory\(\)/);
    }
    // Writes still work without the channel; only versions are not kept.
    expect((await run(() => backend.write("/a.txt", "a"))).error).toBeUndefined();
    const off = await new Thread({}, { history: true }).task("o")(() => new StateBackend().history("/a.txt"));
    expect(off).toMatchObject({ code: "unsupported", error: expect.stringMatching(/history/) });
    expect(
      (await backend.history("/kept.txt")).versions?.map((v) => v.op),
      "outside a run: the memory",
    ).toEqual(["write"]);
  });

  it("writes deepagents' FileData v2 into the thread's state, not into the object", async () => {
    const backend = new StateBackend();
    const thread = new Thread();
    const written = await thread.task("a")(() => backend.write("/notes/a.md", "hello\n"));
    thread.commit();
    expect(written).toEqual({ path: "/notes/a.md", etag: expect.any(String) });
    const stored = thread.files["/notes/a.md"] as FileDataV2;
    expect(Object.keys(stored).sort()).toEqual(["content", "created_at", "mimeType", "modified_at"]);
    expect(stored).toMatchObject({ content: "hello\n", mimeType: "text/markdown" });
    expect(backend.files, "outside the run the object's own memory is empty").toEqual({});
    expect(await backend.ls("/")).toEqual({ files: [] });
  });

  it("two threads never see each other's files", async () => {
    const backend = new StateBackend();
    const one = new Thread();
    const two = new Thread();
    await one.task("a")(() => backend.write("/secret.txt", "thread one"));
    one.commit();
    const fromTwo = await two.task("b")(() => backend.read("/secret.txt"));
    expect(fromTwo.code).toBe("file_not_found");
    expect(await two.task("c")(() => backend.glob("**"))).toEqual({ files: [] });
    expect(await one.task("d")(() => backend.read("/secret.txt"))).toMatchObject({ content: "thread one" });
  });

  it("reads seeded state, v1 included, and its etags survive a checkpoint round trip", async () => {
    const backend = new StateBackend();
    const at = "2025-01-01T00:00:00.000Z";
    const thread = new Thread({
      "/v1.txt": { content: ["line 1", "line 2"], created_at: at, modified_at: at },
      "/v2.md": { content: "# v2\n", mimeType: "text/markdown", created_at: at, modified_at: at },
    });
    const run = thread.task("a");
    expect(await run(() => backend.read("/v1.txt"))).toMatchObject({ content: "line 1\nline 2" });
    const first = await run(() => backend.readRaw("/v2.md"));
    // A checkpoint restores copies of the objects: the etag must come from the content.
    const restored = new Thread(structuredClone(thread.files));
    const again = await restored.task("b")(() => backend.readRaw("/v2.md"));
    expect(again.etag).toBe(first.etag);
    const stale = await restored.task("c")(() => backend.write("/v2.md", "other", { ifMatch: "nope" }));
    expect(stale.code).toBe("conflict");
    const ok = await restored.task("d")(() => backend.write("/v2.md", "# v2, edited\n", { ifMatch: first.etag }));
    expect(ok.error).toBeUndefined();
    expect(ok.etag).not.toBe(first.etag);
  });

  it("parallel tasks of one step writing different files both land through the reducer", async () => {
    const backend = new StateBackend();
    const thread = new Thread();
    const [a, b] = await Promise.all([
      thread.task("a")(() => backend.write("/a.txt", "A")),
      thread.task("b")(() => backend.write("/b.txt", "B")),
    ]);
    expect([a.error, b.error]).toEqual([undefined, undefined]);
    thread.commit();
    expect(Object.keys(thread.files).sort()).toEqual(["/a.txt", "/b.txt"]);
  });

  it("a second task of the step changing a file another task changed answers conflict, losing nothing", async () => {
    const backend = new StateBackend({});
    const thread = new Thread({
      "/f.txt": { content: "one two", mimeType: "text/plain", created_at: "x", modified_at: "x" },
    });
    const first = await thread.task("a")(() => backend.edit("/f.txt", "one", "1"));
    const second = await thread.task("b")(() => backend.edit("/f.txt", "two", "2"));
    const removal = await thread.task("c")(() => backend.delete("/"));
    expect(first).toEqual({ path: "/f.txt", occurrences: 1, etag: expect.any(String) });
    expect(second.code).toBe("conflict");
    expect(second.error).toContain("/f.txt");
    expect(removal.code).toBe("conflict");
    thread.commit();
    expect((thread.files["/f.txt"] as FileDataV2).content).toBe("1 two");
    // The next step starts from the merged state: the edit now applies.
    expect(await thread.task("d")(() => backend.edit("/f.txt", "two", "2"))).toMatchObject({ occurrences: 1 });
  });

  it("concurrent edits inside one task both land (the second is re-applied to the first's result)", async () => {
    const backend = new StateBackend();
    const thread = new Thread({
      "/f.txt": { content: "a b c", mimeType: "text/plain", created_at: "x", modified_at: "x" },
    });
    const results = await thread.task("a")(() =>
      Promise.all([
        backend.edit("/f.txt", "a", "A"),
        backend.edit("/f.txt", "b", "B"),
        backend.edit("/f.txt", "c", "C"),
      ]),
    );
    expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    thread.commit();
    expect((thread.files["/f.txt"] as FileDataV2).content).toBe("A B C");
  });

  it("inside a run whose graph has no files channel, every call answers unsupported", async () => {
    const backend = new StateBackend({ files: { "/kept.txt": "memory" } });
    const configurable = {
      __pregel_read: (channel: string) => {
        throw new TypeError(`no channel ${channel}`);
      },
      __pregel_send: () => {},
    };
    const run = <T>(fn: () => Promise<T>) => AsyncLocalStorageProviderSingleton.runWithConfig({ configurable }, fn);
    expect((await run(() => backend.read("/kept.txt"))).code).toBe("unsupported");
    expect((await run(() => backend.write("/x.txt", "x"))).code).toBe("unsupported");
    const [upload] = await run(() => backend.uploadFiles([["/y.bin", new Uint8Array([1])]]));
    expect(upload).toMatchObject({ path: "/y.bin", code: "unsupported" });
    expect((await backend.read("/kept.txt")).content, "outside a run the memory answers").toBe("memory");
  });

  it("grep bounds given to the backend hold for a thread's files too", async () => {
    const backend = inThread(new StateBackend({ maxGrepMatches: 2 }), new Thread());
    expect((await backend.write("/a.txt", "x\nx\nx\n")).error).toBeUndefined();
    const refused = await backend.grep("x");
    expect(refused.code).toBe("too_large");
    expect(refused.error).toContain("more than 2 matching lines");
    expect((await backend.grep("x", "/", null, 2)).matches).toHaveLength(2);
  });
});
