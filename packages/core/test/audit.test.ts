import { describe, expect, it } from "vitest";
import {
  type AuditEvent,
  auditToBackend,
  CompositeBackend,
  runAsActor,
  StateBackend,
  withAudit,
} from "../src/index.js";

function audited(backend = new StateBackend({ history: true }), actor?: string) {
  const events: AuditEvent[] = [];
  const wrapped = withAudit(backend, { onAudit: (e) => void events.push(e), ...(actor ? { actor } : {}) });
  return { backend: wrapped, events };
}

const summary = (events: AuditEvent[]) => events.map((e) => `${e.operation} ${e.path} ${e.outcome} ${e.result}`);

describe("withAudit", () => {
  it("reports each mutation once, with etags before and after, bytes and the actor", async () => {
    const { backend, events } = audited(undefined, "agent-7");
    const first = await backend.write("/notes.md", "secret plan");
    const edited = await backend.edit("/notes.md", "plan", "idea");
    await backend.uploadFiles([["/bin/a.bin", new Uint8Array(4)]]);
    const versions = (await backend.history("/notes.md")).versions ?? [];
    const restored = await backend.restore("/notes.md", versions[1]?.version as string);
    await backend.delete("/notes.md");
    expect(summary(events)).toEqual([
      "write /notes.md done ok",
      "edit /notes.md done ok",
      "upload /bin/a.bin done ok",
      "restore /notes.md done ok",
      "delete /notes.md done ok",
    ]);
    const [write, edit, upload, restore, del] = events;
    expect(write).toMatchObject({ actor: "agent-7", etagBefore: null, etagAfter: first.etag, bytes: 11 });
    expect(edit).toMatchObject({ etagBefore: first.etag, etagAfter: edited.etag, bytes: 11 });
    expect(upload).toMatchObject({ bytes: 4, etagBefore: null });
    expect(restore).toMatchObject({ etagBefore: edited.etag, etagAfter: restored.etag });
    expect(del).toMatchObject({ etagBefore: restored.etag, etagAfter: null, bytes: 0 });
    expect(JSON.stringify(events)).not.toMatch(/secret|idea/);
    expect(Date.parse(write?.time as string)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("marks refusals and reports nothing for calls refused before the store (invalid paths)", async () => {
    const { backend, events } = audited();
    await backend.write("/a.txt", "one");
    expect((await backend.write("/a.txt", "two", { ifNoneMatch: "*" })).code).toBe("conflict");
    expect((await backend.edit("/a.txt", "absent", "x")).code).toBe("string_not_found");
    expect((await backend.delete("/missing.txt")).code).toBe("file_not_found");
    expect((await backend.write("/../escape", "x")).code).toBe("invalid_path");
    expect(summary(events)).toEqual([
      "write /a.txt done ok",
      "write /a.txt refused conflict",
      "delete /missing.txt refused file_not_found",
    ]);
  });

  it("reports one delete per file when a directory is removed", async () => {
    const { backend, events } = audited();
    await backend.write("/d/a.txt", "a");
    await backend.write("/d/e/b.txt", "b");
    events.length = 0;
    await backend.delete("/d");
    expect(summary(events).sort()).toEqual(["delete /d/a.txt done ok", "delete /d/e/b.txt done ok"]);
    expect(events.every((e) => typeof e.etagBefore === "string")).toBe(true);
  });

  it("takes the actor of the call's context (runAsActor), across concurrent calls", async () => {
    const { backend, events } = audited(undefined, "fallback");
    await Promise.all(
      ["alice", "bob", "carol"].map((name) =>
        runAsActor(name, async () => {
          await new Promise((r) => setTimeout(r, Math.random() * 10));
          await backend.write(`/${name}.txt`, name);
        }),
      ),
    );
    await backend.write("/nobody.txt", "x");
    expect(events.map((e) => `${e.actor} ${e.path}`).sort()).toEqual([
      "alice /alice.txt",
      "bob /bob.txt",
      "carol /carol.txt",
      "fallback /nobody.txt",
    ]);
  });

  it("answers backend_unavailable when the change was made but the sink failed", async () => {
    const state = new StateBackend();
    const backend = withAudit(state, {
      onAudit: () => {
        throw new Error("sink down at /secret");
      },
    });
    const written = await backend.write("/a.txt", "x");
    expect(written.code).toBe("backend_unavailable");
    expect(written.error).toMatch(/the change was made but its audit event was not recorded/);
    expect(written.error).not.toMatch(/secret/);
    expect((await state.read("/a.txt")).content).toContain("x");
  });

  it("audits each route of a router, and a trail kept in another backend", async () => {
    const trail = new StateBackend();
    const sink = auditToBackend(trail, { dir: "/audit" });
    const router = new CompositeBackend(new StateBackend(), { "/mem/": new StateBackend() });
    const backend = withAudit(router, { onAudit: sink, actor: "a1" });
    await Promise.all(Array.from({ length: 40 }, (_, i) => backend.write(`/mem/f${i % 10}.txt`, `v${i}`)));
    await backend.write("/scratch.txt", "s");
    const listed = (await trail.glob("**/*.json", "/audit")).files ?? [];
    expect(listed).toHaveLength(41);
    const events = await Promise.all(
      listed.map(async (f) => JSON.parse(String((await trail.readRaw(f.path)).data?.content)) as AuditEvent),
    );
    expect(events.filter((e) => e.outcome === "done")).toHaveLength(41);
    // Each acknowledged etag of one file appears exactly once as an etag after.
    const byFile = new Map<string, string[]>();
    for (const e of events) byFile.set(e.path, [...(byFile.get(e.path) ?? []), e.etagAfter as string]);
    for (const etags of byFile.values()) expect(new Set(etags).size).toBe(etags.length);
  });

  it("refuses to wrap what is not a backend, or without a sink", () => {
    expect(() => withAudit({} as never, { onAudit: () => {} })).toThrow(/needs a backend/);
    expect(() => withAudit(new StateBackend(), {} as never)).toThrow(/onAudit/);
  });
});
