import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";

describe("embedded mode (PGlite)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "deepfs-embedded-test-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("keeps files across restarts and searches them in SQL", { timeout: 180_000 }, async () => {
    const first = await PostgresBackend.embedded({ dataDir, namespace: "demo" });
    try {
      expect((await first.write("/notes/todo.md", "buy milk\nwrite tests\n")).error).toBeUndefined();
      expect((await first.uploadFiles([["/img/a.png", new Uint8Array([0, 255, 1])]]))[0]?.error).toBeNull();
      expect((await first.edit("/notes/todo.md", "buy milk", "buy oat milk")).occurrences).toBe(1);
      expect((await first.write("/notes/todo.md/x", "no")).code).toBe("not_a_directory");
    } finally {
      await first.close();
    }
    const second = await PostgresBackend.embedded({ dataDir, namespace: "demo" });
    try {
      expect((await second.ls("/")).files?.map((f) => f.path)).toEqual(["/img/", "/notes/"]);
      expect(await second.grep("milk")).toEqual({
        matches: [{ path: "/notes/todo.md", line: 1, text: "buy oat milk" }],
      });
      expect((await second.glob("**/*.md")).files?.map((f) => f.path)).toEqual(["/notes/todo.md"]);
      const [download] = await second.downloadFiles(["/img/a.png"]);
      expect(download?.content).toEqual(new Uint8Array([0, 255, 1]));
      expect(await second.initialize()).toEqual({ trigramIndex: true, textOnce: true });
    } finally {
      await second.close();
    }
    // History turned on later: the stored files are first versions, and versions persist.
    const third = await PostgresBackend.embedded({ dataDir, namespace: "demo", history: true });
    try {
      expect((await third.history("/notes/todo.md")).versions?.map((v) => v.op)).toEqual(["write"]);
      expect((await third.edit("/notes/todo.md", "oat", "soy")).error).toBeUndefined();
    } finally {
      await third.close();
    }
    const fourth = await PostgresBackend.embedded({ dataDir, namespace: "demo", history: { maxVersions: 5 } });
    try {
      const versions = (await fourth.history("/notes/todo.md")).versions ?? [];
      expect(versions.map((v) => v.op)).toEqual(["edit", "write"]);
      expect((await fourth.restore("/notes/todo.md", versions[1]?.version as string)).error).toBeUndefined();
      expect((await fourth.read("/notes/todo.md")).content).toContain("buy oat milk");
    } finally {
      await fourth.close();
    }
  });
});
