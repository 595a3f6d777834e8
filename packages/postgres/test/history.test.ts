// Version history on the server (issue #22): the history rules with history on, with and without a
// retention limit; each test has its own namespace of one shared table.
import {
  type BackendContractOptions,
  createContractContext,
  defineBackendContract,
  registerHistoryRules,
} from "@deepfs/conformance";
import type { HistoryOption } from "@deepfs/core";
import { afterAll, describe } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, ownedBackend, randomName, skipReason, testClient } from "./support.js";

const sql = skipReason ? undefined : testClient({ max: 6 });
const table = randomName("history");

afterAll(async () => {
  if (!sql) return;
  await dropTable(sql, `${table}_history`);
  await dropTable(sql, table);
  await sql.end();
});

function optionsFor(name: string, history: HistoryOption): BackendContractOptions<PostgresBackend> {
  return {
    name,
    skip: skipReason,
    capabilities: { conditionalWrites: true, nativeGrep: true, execute: false },
    create: () => {
      const namespace = randomName("ns");
      const backend = new PostgresBackend({ sql: sql as NonNullable<typeof sql>, table, namespace, history });
      let peer: PostgresBackend | undefined;
      return {
        backend,
        root: "/",
        // Another process: its own pool on the same table and namespace.
        peer: () => {
          peer ??= ownedBackend({ table, namespace, history });
          return peer;
        },
        cleanup: async () => {
          await backend.delete("/");
          await Promise.all([backend.close(), peer?.close()]);
        },
      };
    },
    tenant: (name, run) => {
      const namespace = `${run}/${name}`;
      const backend = new PostgresBackend({ sql: sql as NonNullable<typeof sql>, table, namespace, history });
      return { backend, cleanup: async () => void (await backend.delete("/")) };
    },
  };
}

function contextFor(name: string, history: HistoryOption) {
  return createContractContext(optionsFor(name, history));
}

describe("history of a PostgresBackend", () => {
  registerHistoryRules(contextFor("PostgresBackend history", true), { peers: true });
});

describe("history of a PostgresBackend keeping 20 versions", () => {
  registerHistoryRules(contextFor("PostgresBackend maxVersions 20", { maxVersions: 20 }), {
    maxVersions: 20,
    peers: true,
  });
});

// The whole contract with history on (every write path records versions), but for the scale group,
// which the history-off run in postgres.test.ts covers.
defineBackendContract({
  ...optionsFor("PostgresBackend (history on, 5 versions)", { maxVersions: 5 }),
  peers: true,
  omit: ["scale"],
});
