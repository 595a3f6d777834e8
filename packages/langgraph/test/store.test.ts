import { randomUUID } from "node:crypto";
import { defineBackendContract } from "@deepfs/conformance";
import { requireOrSkipReason } from "@deepfs/harness";
import { InMemoryStore } from "@langchain/langgraph";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import postgres from "postgres";
import { afterAll } from "vitest";
import { StoreBackend } from "../src/index.js";

const memoryStore = new InMemoryStore();

/** A tenant name as a namespace label: StoreBackend refuses `%` and `\\` there (LangGraph's label rules). */
const allowed = (name: string) => name.replace(/[%\\]/g, "_");
/** PostgresStore also refuses `_` in a label (a LIKE wildcard in its search). */
const allowedInPostgres = (name: string) => name.replace(/[%\\_]/g, "-");

defineBackendContract({
  name: "StoreBackend (InMemoryStore)",
  capabilities: { execute: false },
  create: () => {
    const backend = new StoreBackend({ store: memoryStore, namespace: ["deepfs", `t-${randomUUID()}`] });
    return { backend, cleanup: async () => void (await backend.delete("/")) };
  },
  // Tenants: sibling namespaces (`[deepfs, <run>, acme]`, `[deepfs, <run>, acme-corp]`, `[…, acm_]`).
  tenant: (name, run) => {
    const backend = new StoreBackend({ store: memoryStore, namespace: ["deepfs", run, allowed(name)] });
    return { backend, cleanup: async () => void (await backend.delete("/")) };
  },
});

// LangGraph's own PostgreSQL store on the harness database, in a schema of its own for this run.
const skip = requireOrSkipReason("postgres");
const schema = `deepfs_langgraph_${randomUUID().replaceAll("-", "")}`;
const pgStore = skip
  ? undefined
  : new PostgresStore({ connectionOptions: process.env.DEEPFS_PG_URL as string, schema });

afterAll(async () => {
  if (!pgStore) return;
  await pgStore.stop();
  const sql = postgres(process.env.DEEPFS_PG_URL as string, { max: 1, onnotice: () => {} });
  await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  await sql.end();
});

defineBackendContract({
  name: "StoreBackend (PostgresStore)",
  capabilities: { execute: false },
  skip,
  create: () => {
    const backend = new StoreBackend({ store: pgStore as PostgresStore, namespace: ["deepfs", `t-${randomUUID()}`] });
    return { backend, cleanup: async () => void (await backend.delete("/")) };
  },
  tenant: (name, run) => {
    const backend = new StoreBackend({
      store: pgStore as PostgresStore,
      namespace: ["deepfs", run, allowedInPostgres(name)],
    });
    return { backend, cleanup: async () => void (await backend.delete("/")) };
  },
});
