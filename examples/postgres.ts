/**
 * `PostgresBackend`: an agent's files as rows of one PostgreSQL table, searched inside the database,
 * with exact tenants (`namespace`) and etags from a row version (`ifMatch` for optimistic updates).
 *
 * Run: `DEEPFS_PG_URL=postgres://... pnpm exec tsx postgres.ts` (from `examples/`).
 * Without a server, `PostgresBackend.embedded({ dataDir })` runs the same code on PGlite (see demo.ts).
 */
import { randomUUID } from "node:crypto";
import { PostgresBackend } from "@deepfs/postgres";
import postgres from "postgres";
import { requireEnv, runIfMain } from "./lib/run-main.js";

export async function main() {
  // One pool shared by two tenants: a client passed in is never closed by the backends.
  const sql = postgres(requireEnv("DEEPFS_PG_URL"), { max: 4, onnotice: () => {} });
  const run = randomUUID().slice(0, 8);
  const acme = new PostgresBackend({ sql, namespace: `acme-${run}` });
  const acmeCorp = new PostgresBackend({ sql, namespace: `acme-${run}-corp` });
  try {
    await acme.initialize(); // creates public.deepfs_files when missing (idempotent)
    const first = await acme.write("/memories/preferences.md", "# Preferences\n- answer briefly\n");
    await acmeCorp.write("/memories/preferences.md", "# Preferences\n- answer at length\n");

    // Optimistic concurrency: an update based on a stale etag is refused, not lost.
    const update = await acme.edit("/memories/preferences.md", "briefly", "briefly, in English", false, {
      ifMatch: first.etag,
    });
    const stale = await acme.write("/memories/preferences.md", "overwritten?", { ifMatch: first.etag });

    const grep = await acme.grep("answer", "/memories");
    const rows = await sql`
      SELECT namespace, path, parent, size, mime_type FROM ${sql(acme.location.schema)}.${sql(acme.location.table)}
      WHERE namespace IN (${acme.namespace}, ${acmeCorp.namespace}) ORDER BY namespace, path`;

    return {
      table: `${acme.location.schema}.${acme.location.table}`,
      update: { occurrences: update.occurrences, etagChanged: update.etag !== first.etag },
      staleWrite: stale.code,
      // Each tenant sees only its own file, although the namespaces share a prefix.
      grep: grep.matches,
      rows: rows.map((r) => ({ namespace: r.namespace, path: r.path, parent: r.parent, size: r.size })),
    };
  } finally {
    await acme.delete("/");
    await acmeCorp.delete("/");
    await sql.end({ timeout: 5 });
  }
}

runIfMain(import.meta.url, main);
