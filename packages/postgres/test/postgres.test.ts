import { defineBackendContract } from "@deepfs/conformance";
import { afterAll } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, ownedBackend, randomName, skipReason, testClient } from "./support.js";

// One pool and one table for the file (the injected-client form); every test has its own namespace.
const sql = skipReason ? undefined : testClient({ max: 6 });
const table = randomName("contract");

afterAll(async () => {
  if (!sql) return;
  await dropTable(sql, table);
  await sql.end();
});

defineBackendContract({
  name: "PostgresBackend",
  skip: skipReason,
  capabilities: { conditionalWrites: true, nativeGrep: true, execute: false },
  peers: true,
  create: () => {
    const namespace = randomName("ns");
    const backend = new PostgresBackend({ sql: sql as NonNullable<typeof sql>, table, namespace });
    // Another process: its own pool on the same table and namespace.
    let peer: PostgresBackend | undefined;
    return {
      backend,
      root: "/",
      peer: () => {
        peer ??= ownedBackend({ table, namespace });
        return peer;
      },
      cleanup: async () => {
        await backend.delete("/");
        await Promise.all([backend.close(), peer?.close()]);
      },
    };
  },
  // Tenants: namespaces of one table that a prefix or a LIKE would confuse (`<run>/acme`, `<run>/acm_`).
  tenant: (name, run) => {
    const backend = new PostgresBackend({ sql: sql as NonNullable<typeof sql>, table, namespace: `${run}/${name}` });
    return { backend, cleanup: async () => void (await backend.delete("/")) };
  },
});
