import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import postgres from "postgres";
import { PostgresBackend, type PostgresStorageOptions } from "../src/index.js";

/** Why the PostgreSQL tests cannot run (printed loudly by the harness), or undefined. */
export const skipReason = requireOrSkipReason("postgres");

const status = serviceStatus("postgres");

/** The test server's URL. */
export const pgUrl = status.available ? (status.env.DEEPFS_PG_URL ?? "") : "";

/** A random lowercase name (`label_<hex>`): namespaces, tables, schemas. */
export function randomName(label: string): string {
  return `${label}_${randomBytes(5).toString("hex")}`;
}

/** A postgres.js client for the test server; `debug` sees every statement it sends. */
export function testClient(options: { max?: number; debug?: (connection: number, query: string) => void } = {}) {
  return postgres(pgUrl, {
    max: options.max ?? 4,
    onnotice: () => {},
    ...(options.debug ? { debug: options.debug } : {}),
  });
}

/** A backend that owns its pool, on the test server. */
export function ownedBackend(options: PostgresStorageOptions): PostgresBackend {
  return new PostgresBackend({ url: pgUrl, maxPoolSize: 4, ...options });
}

/** Drops a test table (and its indexes). */
export async function dropTable(sql: postgres.Sql, table: string, schema = "public"): Promise<void> {
  await sql`DROP TABLE IF EXISTS ${sql(schema)}.${sql(table)}`;
}

/**
 * postgres.js's `socket` option (its typings do not declare it): a TCP socket to the server that
 * reports the size of every chunk it receives to `count`.
 */
export function countingSocket(count: (bytes: number) => void): object {
  return {
    socket: ({ host, port }: { host: string[]; port: number[] }) =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect(Number(port[0]), host[0] as string, () => resolve(socket));
        socket.once("error", reject);
        socket.on("data", (chunk: Buffer) => count(chunk.length));
      }),
  };
}

/**
 * A postgres.js client for the test server that counts the bytes the server sends (`received()`),
 * its sessions named `applicationName` (to find them in `pg_stat_activity`).
 */
export function countingClient(applicationName: string, max = 2) {
  let bytes = 0;
  const socketOption = countingSocket((n) => {
    bytes += n;
  });
  const sql = postgres(pgUrl, {
    max,
    onnotice: () => {},
    connection: { application_name: applicationName },
    ...socketOption,
  });
  return { sql, received: () => bytes };
}
