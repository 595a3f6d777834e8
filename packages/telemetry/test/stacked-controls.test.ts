// Issue #19's bar: the whole contract with all four production layers stacked (telemetry over
// audit over permissions over quotas), over StateBackend, LocalBackend and PostgreSQL (a real
// server), and through the router (stacked members, stacked router). It lives here because this is
// the package that sees every layer (telemetry is the outermost).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineBackendContract } from "@deepfs/conformance";
import { ALLOWING_RULES, GENEROUS_LIMITS } from "@deepfs/conformance/controls";
import {
  type AuditEvent,
  type BackendProtocol,
  CompositeBackend,
  StateBackend,
  withAudit,
  withPermissions,
  withQuota,
} from "@deepfs/core";
import { requireOrSkipReason } from "@deepfs/harness";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import postgres from "postgres";
import { afterAll, afterEach, expect } from "vitest";
import { withTelemetry } from "../src/index.js";

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("stacked");
let spans = 0;
afterEach(() => {
  spans += exporter.getFinishedSpans().length;
  exporter.reset();
});
let events = 0;
const onAudit = (_event: AuditEvent) => {
  events++;
};

/** The four layers over `backend`, innermost first: quota, permissions, audit, telemetry. */
function stacked(backend: BackendProtocol): BackendProtocol {
  return withTelemetry(withAudit(withPermissions(withQuota(backend, GENEROUS_LIMITS), ALLOWING_RULES), { onAudit }), {
    tracer,
  });
}

defineBackendContract({
  name: "all four layers over StateBackend (history on)",
  capabilities: { execute: false },
  create: () => stacked(new StateBackend({ history: true })),
});

defineBackendContract({
  name: "all four layers over LocalBackend",
  capabilities: { execute: false },
  create: () => {
    const dir = mkdtempSync(join(tmpdir(), "deepfs-stacked-"));
    const local = new LocalBackend({ rootDir: dir });
    return {
      backend: stacked(local),
      cleanup: async () => {
        await local.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

const pgSkip = requireOrSkipReason("postgres");
const pgUrl = process.env.DEEPFS_PG_URL as string;
const table = `stacked_${Math.random().toString(36).slice(2, 10)}`;
afterAll(async () => {
  if (pgSkip) return;
  const sql = postgres(pgUrl, { max: 1, onnotice: () => {} });
  await sql`DROP TABLE IF EXISTS ${sql(table)}`;
  await sql.end();
});

defineBackendContract({
  name: "all four layers over PostgresBackend",
  skip: pgSkip,
  capabilities: { execute: false },
  omit: ["scale"],
  create: () => {
    const pg = new PostgresBackend({ url: pgUrl, table, namespace: `ns-${Math.random().toString(36).slice(2, 10)}` });
    return {
      backend: stacked(pg),
      cleanup: async () => {
        await pg.delete("/");
        await pg.close();
      },
    };
  },
});

defineBackendContract({
  name: "all four layers around a router of stacked members at /, /a/, /a/b/",
  capabilities: { execute: false },
  omit: ["scale"],
  create: () =>
    stacked(
      new CompositeBackend(stacked(new StateBackend()), {
        "/a/": stacked(new StateBackend({ history: true })),
        "/a/b/": stacked(new StateBackend()),
      }),
    ),
});

afterAll(() => {
  // Every layer took part (a filtered run, -t, may make few).
  expect(spans).toBeGreaterThan(0);
  expect(events).toBeGreaterThan(0);
});
