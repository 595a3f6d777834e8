/**
 * Child process of the memory measure: runs ONE grep over the memory corpus and prints a JSON line
 * `{ matches, maxRssMb, ms }`. It runs alone so that its peak RSS is the search's, not the bench's.
 *
 * usage: node memory-probe.js <local|fs-peer|postgres|postgres-glob|pg-fetch-all|idle> <root dir | postgres url> [namespace|table] [needle]
 * (the needle defaults to the synthetic corpus's {@link NEEDLE})
 */
import { NEEDLE } from "./corpus.js";
import { peakRssMb } from "./peak-rss.js";

async function grep(kind: string, target: string, extra: string, needle: string): Promise<number> {
  switch (kind) {
    case "local": {
      const { LocalBackend } = await import("@deepfs/local");
      return (await new LocalBackend({ rootDir: target }).grep(needle, "/")).matches?.length ?? -1;
    }
    case "fs-peer": {
      const { FilesystemBackend } = await import("deepagents");
      return (
        (await new FilesystemBackend({ rootDir: target, virtualMode: true }).grep(needle, "/")).matches?.length ?? -1
      );
    }
    case "postgres": {
      const { PostgresBackend } = await import("@deepfs/postgres");
      const backend = new PostgresBackend({ url: target, namespace: extra });
      try {
        return (await backend.grep(needle, "/")).matches?.length ?? -1;
      } finally {
        await backend.close();
      }
    }
    case "postgres-glob": {
      // Not a grep: the glob of the scale measure, `extra` = "<namespace>:<table>".
      const { PostgresBackend } = await import("@deepfs/postgres");
      const [namespace, table] = extra.split(":");
      const backend = new PostgresBackend({ url: target, namespace, table });
      try {
        return (await backend.glob("**/*.ts", "/")).files?.length ?? -1;
      } finally {
        await backend.close();
      }
    }
    case "pg-fetch-all": {
      const { default: postgres } = await import("postgres");
      const sql = postgres(target, { max: 1 });
      try {
        const rows = await sql`SELECT path, content FROM ${sql(extra)}`;
        let matches = 0;
        for (const row of rows)
          for (const line of (row.content as string).split("\n")) if (line.includes(needle)) matches++;
        return matches;
      } finally {
        await sql.end();
      }
    }
    case "idle":
      return 0;
    default:
      throw new Error(`unknown probe ${kind}`);
  }
}

const [kind = "", target = "", extra = "", needle = NEEDLE] = process.argv.slice(2);
const start = performance.now();
const matches = await grep(kind, target, extra, needle);
const ms = performance.now() - start;
process.stdout.write(`${JSON.stringify({ matches, maxRssMb: peakRssMb(), ms })}\n`);
