import { defineSoak, soakSeconds } from "@deepfs/conformance/soak";
import { afterAll } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, pgUrl, randomName, skipReason, testClient } from "./support.js";

// The backend owns its pool, tagged with an application_name so the server can tell its connections apart.
const applicationName = randomName("deepfs_soak");
const table = randomName("soak");
/** Counts the pool's connections from the server's side; opened before the first count, ended last. */
const monitor = skipReason ? undefined : testClient({ max: 1 });

afterAll(async () => {
  await monitor?.end();
});

function withApplicationName(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("application_name", applicationName);
  return parsed.toString();
}

defineSoak({
  name: "PostgresBackend",
  id: "postgres",
  skip: skipReason,
  create: async () => {
    const backend = new PostgresBackend({ url: withApplicationName(pgUrl), table, namespace: randomName("ns") });
    await backend.initialize();
    return {
      backend,
      close: async () => {
        await backend.close();
        await dropTable(monitor as NonNullable<typeof monitor>, table);
      },
    };
  },
  probes: [
    {
      name: "server connections of the pool",
      count: async () => {
        const sql = monitor as NonNullable<typeof monitor>;
        const [row] =
          await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${applicationName}`;
        return row?.n as number;
      },
      max: 0,
    },
  ],
});

// History on (no retention): each file's versions, read from `<table>_history` after the run, are
// exactly its acknowledged mutations, one each with the same operation and etag, written in the
// same transaction as the change (the version-chain audit).
const historyTable = randomName("soak_history");
defineSoak({
  name: "PostgresBackend (history on)",
  id: "postgres-history",
  skip: skipReason,
  seconds: Math.min(soakSeconds(), 10),
  versions: true,
  create: async () => {
    const backend = new PostgresBackend({
      url: pgUrl,
      table: historyTable,
      namespace: randomName("ns"),
      history: true,
    });
    await backend.initialize();
    return {
      backend,
      close: async () => {
        await backend.close();
        const sql = monitor as NonNullable<typeof monitor>;
        await dropTable(sql, `${historyTable}_history`);
        await dropTable(sql, historyTable);
      },
    };
  },
});
