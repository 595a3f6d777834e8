import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeepfsError } from "@deepfs/core";
import postgres from "postgres";
import type { PostgresClient, PostgresStorageOptions } from "./config.js";

/** Options of `PostgresBackend.embedded()`. */
export interface EmbeddedPostgresOptions extends PostgresStorageOptions {
  /** Directory where PGlite keeps the database; files persist across runs. In memory when omitted. */
  dataDir?: string;
}

/** A PGlite database served on a private unix socket, and a client for it. */
export interface EmbeddedPostgres {
  sql: PostgresClient;
  /** Ends the client, the socket server and the database. */
  stop(): Promise<void>;
}

async function importOptional<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    throw new DeepfsError(
      "unsupported",
      `PostgresBackend.embedded() needs the optional package ${name}: npm install ${name}`,
      { cause: error },
    );
  }
}

/**
 * Starts PGlite (PostgreSQL compiled to WebAssembly, in this process, with `pg_trgm`) behind
 * `@electric-sql/pglite-socket`, so that the same postgres.js code runs against it. PGlite serves
 * one connection, so the client has `max: 1` and calls run one at a time.
 */
export async function startEmbeddedPostgres(options: { dataDir?: string }): Promise<EmbeddedPostgres> {
  type PgliteModule = typeof import("@electric-sql/pglite");
  type SocketModule = typeof import("@electric-sql/pglite-socket");
  type TrgmModule = typeof import("@electric-sql/pglite/contrib/pg_trgm");
  const { PGlite } = await importOptional<PgliteModule>("@electric-sql/pglite");
  const { PGLiteSocketServer } = await importOptional<SocketModule>("@electric-sql/pglite-socket");
  const { pg_trgm } = await importOptional<TrgmModule>("@electric-sql/pglite/contrib/pg_trgm");
  const db = await PGlite.create({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), extensions: { pg_trgm } });
  const socketDir = mkdtempSync(join(tmpdir(), "deepfs-pglite-"));
  // postgres.js connects to a unix socket at `<path>/.s.PGSQL.<port>`.
  const server = new PGLiteSocketServer({ db, path: join(socketDir, ".s.PGSQL.5432") });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    rmSync(socketDir, { recursive: true, force: true });
    throw error;
  }
  const sql = postgres({
    path: join(socketDir, ".s.PGSQL.5432"),
    max: 1,
    user: "postgres",
    database: "postgres",
    onnotice: () => {},
  });
  return {
    sql,
    stop: async () => {
      await sql.end({ timeout: 5 });
      await server.stop();
      await db.close();
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
