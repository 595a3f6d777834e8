// Version history on the embedded database (PGlite, one connection), with no server: the history
// rules with history on, with and without a retention limit, tenants included. One embedded
// database serves the file; every test gets its own root (or tenant namespaces) in it.
import { randomUUID } from "node:crypto";
import { createContractContext, registerHistoryRules } from "@deepfs/conformance";
import type { HistoryOption } from "@deepfs/core";
import { afterAll, beforeAll, describe } from "vitest";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../src/embedded.js";
import { PostgresBackend } from "../src/index.js";

let embedded: EmbeddedPostgres | undefined;

beforeAll(async () => {
  embedded = await startEmbeddedPostgres({});
}, 180_000);

afterAll(async () => {
  await embedded?.stop();
});

function backendOf(namespace: string, history: HistoryOption): PostgresBackend {
  if (!embedded) throw new Error("the embedded database did not start (see beforeAll)");
  return new PostgresBackend({ sql: embedded.sql, namespace, history });
}

function contextFor(name: string, history: HistoryOption) {
  const namespace = randomUUID();
  return createContractContext({
    name,
    capabilities: { conditionalWrites: true, nativeGrep: true, execute: false },
    create: () => {
      const backend = backendOf(namespace, history);
      const root = `/t-${randomUUID()}`;
      return { backend, root, cleanup: async () => void (await backend.delete(root)) };
    },
    tenant: (tenant, run) => {
      const backend = backendOf(`${run}/${tenant}`, history);
      return { backend, cleanup: async () => void (await backend.delete("/")) };
    },
  });
}

describe("history of an embedded PostgresBackend", () => {
  registerHistoryRules(contextFor("PostgresBackend (embedded) history", true));
});

describe("history of an embedded PostgresBackend keeping 20 versions", () => {
  registerHistoryRules(contextFor("PostgresBackend (embedded) maxVersions 20", { maxVersions: 20 }), {
    maxVersions: 20,
  });
});
