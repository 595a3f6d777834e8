// withAudit's trail in a PostgreSQL table (real server): rows round-trip, concurrent writers each
// get exactly one row, and a soak's trail matches its own journal.
import { defineSoak, soakSeconds } from "@deepfs/conformance/soak";
import { runAsActor, withAudit } from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresAuditTable, PostgresBackend } from "../src/index.js";
import { dropTable, pgUrl, randomName, skipReason, testClient } from "./support.js";

const admin = skipReason ? undefined : testClient({ max: 2 });
const dropped: string[] = [];
afterAll(async () => {
  if (!admin) return;
  for (const table of dropped) await dropTable(admin, table);
  await admin.end();
});

function fresh() {
  const table = randomName("files");
  const auditTable = randomName("audit");
  dropped.push(table, auditTable);
  const backend = new PostgresBackend({ url: pgUrl, table, namespace: "tenant-a" });
  const trail = new PostgresAuditTable({ sql: backend.sql, table: auditTable });
  return { backend, trail };
}

describe.skipIf(skipReason)("PostgresAuditTable", () => {
  it("stores each event of withAudit and reads them back, newest first, filtered", async () => {
    const { backend, trail } = fresh();
    try {
      const audited = withAudit(backend, { onAudit: trail.sink, actor: "agent-1" });
      const written = await audited.write("/plan.md", "step one");
      await runAsActor("reviewer", () => audited.edit("/plan.md", "one", "two"));
      expect((await audited.write("/plan.md", "x", { ifNoneMatch: "*" })).code).toBe("conflict");
      await audited.delete("/plan.md");
      const events = await trail.events();
      expect(events.map((e) => `${e.actor} ${e.operation} ${e.outcome} ${e.result}`)).toEqual([
        "agent-1 delete done ok",
        "agent-1 write refused conflict",
        "reviewer edit done ok",
        "agent-1 write done ok",
      ]);
      expect(events[3]).toMatchObject({ path: "/plan.md", etagBefore: null, etagAfter: written.etag, bytes: 8 });
      expect(await trail.events({ actor: "reviewer" })).toHaveLength(1);
      expect(await trail.events({ path: "/other.md" })).toEqual([]);
      expect(await trail.events({ limit: 1 })).toHaveLength(1);
    } finally {
      await backend.close();
    }
  });

  it("keeps one row per acknowledged write under concurrency", async () => {
    const { backend, trail } = fresh();
    try {
      const audited = withAudit(backend, { onAudit: trail.sink });
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => audited.write(`/f${i % 6}.txt`, `v${i}`)));
      expect(answers.every((a) => a.error === undefined)).toBe(true);
      const events = await trail.events({ limit: 1000 });
      expect(events.filter((e) => e.outcome === "done")).toHaveLength(60);
      expect(new Set(events.map((e) => `${e.path} ${e.etagAfter}`)).size).toBe(60);
    } finally {
      await backend.close();
    }
  });

  it("refuses a table name that is not a plain identifier", () => {
    expect(() => new PostgresAuditTable({ sql: (() => {}) as never, table: 'x"; DROP TABLE y; --' })).toThrow(
      /plain SQL identifier/,
    );
  });
});

// A soak whose every mutation is audited into the table: after the run the rows are exactly the
// acknowledged changes of the agents' journal.
const soakFiles = randomName("soak_files");
const soakAudit = randomName("soak_audit");
defineSoak({
  name: "withAudit(PostgresBackend) into a PostgreSQL table",
  id: "postgres-audit",
  skip: skipReason,
  seconds: Math.min(soakSeconds(), 10),
  // Read back from the table after the run, before close.
  auditEvents: async () => {
    const sql = admin as NonNullable<typeof admin>;
    const rows = await sql`SELECT path, operation, outcome, etag_after FROM ${sql(soakAudit)} ORDER BY id`;
    return rows.map((r) => ({
      path: r.path as string,
      operation: r.operation as string,
      outcome: r.outcome as string,
      etagAfter: r.etag_after as string | null,
    }));
  },
  create: async () => {
    const backend = new PostgresBackend({ url: pgUrl, table: soakFiles, namespace: randomName("ns") });
    const trail = new PostgresAuditTable({ sql: backend.sql, table: soakAudit });
    await trail.initialize();
    const audited = withAudit(backend, { onAudit: trail.sink, actor: "soak" });
    return {
      backend: audited,
      close: async () => {
        await backend.close();
        const sql = admin as NonNullable<typeof admin>;
        await dropTable(sql, soakFiles);
        await dropTable(sql, soakAudit);
      },
    };
  },
});
