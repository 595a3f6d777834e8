import { afterAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, ownedBackend, randomName, skipReason, testClient } from "./support.js";

describe.skipIf(skipReason)("dropped connections", () => {
  const admin = testClient({ max: 3 });
  const table = randomName("faults");
  const namespace = randomName("ns");
  const backend = ownedBackend({ table, namespace, retry: { attempts: 4, baseDelayMs: 20 } });

  afterAll(async () => {
    await backend.close();
    await dropTable(admin, table);
    await admin.end();
  });

  /** Waits until a session other than the admin's waits for a lock, then terminates it. */
  async function terminateWaitingSession(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const killed = await admin`
        SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`;
      if (killed.length > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error("no session ever waited for the lock");
  }

  /** Holds the row lock of `path` while `during` runs, so the backend's transaction stops mid-way. */
  async function withRowLocked(path: string, during: () => Promise<void>): Promise<void> {
    await admin.begin(async (tx) => {
      await tx`SELECT 1 FROM ${tx(table)} WHERE namespace = ${namespace} AND path = ${path} FOR UPDATE`;
      await during();
    });
  }

  it("recovers when every pooled connection is terminated between calls", async () => {
    expect((await backend.write("/a.txt", "before")).error).toBeUndefined();
    await admin`
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        AND pid NOT IN (SELECT pid FROM pg_stat_activity WHERE application_name <> 'postgres.js')`;
    expect((await backend.read("/a.txt")).content).toBe("before");
    expect((await backend.write("/a.txt", "after")).error).toBeUndefined();
    expect((await backend.read("/a.txt")).content).toBe("after");
  });

  it("retries an edit whose transaction was terminated mid-way, and applies it exactly once", async () => {
    expect((await backend.write("/edit.txt", "count: 1\n")).error).toBeUndefined();
    let edit: Promise<{ code?: string; occurrences?: number }> = Promise.resolve({});
    await withRowLocked("/edit.txt", async () => {
      edit = backend.edit("/edit.txt", "count: 1", "count: 1 + 1");
      await terminateWaitingSession();
    });
    const result = await edit;
    expect(result.code).toBeUndefined();
    expect(result.occurrences).toBe(1);
    expect((await backend.read("/edit.txt")).content).toBe("count: 1 + 1");
  });

  it("retries a write whose transaction was terminated mid-way: nothing half-written", async () => {
    expect((await backend.write("/w.txt", "old")).error).toBeUndefined();
    let write: Promise<{ code?: string }> = Promise.resolve({});
    await withRowLocked("/w.txt", async () => {
      write = backend.write("/w.txt", "new");
      await terminateWaitingSession();
    });
    expect((await write).code).toBeUndefined();
    const rows = await admin`
      SELECT content IS NULL AS text_once, text_content, size FROM ${admin(table)}
      WHERE namespace = ${namespace} AND path = '/w.txt'`;
    expect(rows).toEqual([{ text_once: true, text_content: "new", size: "3" }]);
  });

  it("returns backend_unavailable when the server cannot be reached, without throwing", async () => {
    // A port where nothing listens.
    const broken = new PostgresBackend({
      url: "postgres://postgres@127.0.0.1:1/postgres",
      table,
      namespace,
      connectTimeout: 500,
      retry: { attempts: 2, baseDelayMs: 1 },
    });
    const result = await broken.read("/a.txt");
    expect(result.code).toBe("backend_unavailable");
    expect(result.error).not.toMatch(/postgres:\/\//);
    await expect(broken.initialize()).rejects.toMatchObject({ code: "backend_unavailable" });
    await broken.close();
  });
});
