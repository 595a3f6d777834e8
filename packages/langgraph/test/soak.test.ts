import { randomUUID } from "node:crypto";
import { defineSoak, soakSeconds } from "@deepfs/conformance/soak";
import { requireOrSkipReason } from "@deepfs/harness";
import { InMemoryStore } from "@langchain/langgraph";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import postgres from "postgres";
import { afterAll } from "vitest";
import { StoreBackend } from "../src/index.js";

defineSoak({
  name: "StoreBackend (InMemoryStore)",
  id: "langgraph-memory",
  create: () => {
    const backend = new StoreBackend({ store: new InMemoryStore(), namespace: ["deepfs", `soak-${randomUUID()}`] });
    return { backend, close: () => backend.close() };
  },
});

// History on (no retention), kept in the store's ["deepfs-history", ...namespace]: each file's
// versions after the run are exactly its acknowledged mutations (the version-chain audit).
defineSoak({
  name: "StoreBackend (InMemoryStore, history on)",
  id: "langgraph-memory-history",
  seconds: Math.min(soakSeconds(), 10),
  versions: true,
  create: () => {
    const backend = new StoreBackend({
      store: new InMemoryStore(),
      namespace: ["deepfs", `soak-${randomUUID()}`],
      history: true,
    });
    return { backend, close: () => backend.close() };
  },
});

// LangGraph's PostgreSQL store (its own node-postgres pool) in a schema of its own, tagged with an
// application_name so that the server can count the pool's connections after stop().
const skip = requireOrSkipReason("postgres");
const suffix = randomUUID().replaceAll("-", "");
const schema = `deepfs_langgraph_soak_${suffix}`;
const applicationName = `deepfs_lg_soak_${suffix.slice(0, 12)}`;
const monitor = skip ? undefined : postgres(process.env.DEEPFS_PG_URL as string, { max: 1, onnotice: () => {} });

afterAll(async () => {
  if (!monitor) return;
  await monitor`DROP SCHEMA IF EXISTS ${monitor(schema)} CASCADE`;
  await monitor.end();
});

function withApplicationName(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("application_name", applicationName);
  return parsed.toString();
}

defineSoak({
  name: "StoreBackend (PostgresStore)",
  id: "langgraph-postgres",
  skip,
  create: async () => {
    const store = new PostgresStore({
      connectionOptions: withApplicationName(process.env.DEEPFS_PG_URL as string),
      schema,
    });
    await store.setup();
    const backend = new StoreBackend({ store, namespace: ["deepfs", `soak-${randomUUID()}`] });
    return {
      backend,
      close: async () => {
        await backend.delete("/");
        await backend.close();
        await store.stop();
      },
    };
  },
  probes: [
    {
      name: "server connections of the store's pool",
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
