/**
 * Production controls: two tenants' agents on one PostgreSQL table (embedded, PGlite), each with
 * its own quota, every change written to an audit table in the same database, one OpenTelemetry
 * span per backend call, and a deny rule on `/secrets/**` that the agent runs into. The layers
 * stack innermost first: quota, permissions, audit, telemetry.
 *
 * Run (from `examples/`): `pnpm exec tsx production.ts` (no server needed; spans go to the
 * OpenTelemetry SDK's ConsoleSpanExporter).
 */
import {
  type BackendProtocol,
  type QuotaBackend,
  runAsActor,
  withAudit,
  withPermissions,
  withQuota,
} from "@deepfs/core";
import { PostgresAuditTable, PostgresBackend } from "@deepfs/postgres";
import { withTelemetry } from "@deepfs/telemetry";
import { HumanMessage } from "@langchain/core/messages";
import {
  BasicTracerProvider,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { createDeepAgent } from "deepagents";
import { runIfMain } from "./lib/run-main.js";
import { scriptedModel, toolCallsOf } from "./lib/scripted-model.js";

/** The same rules for every tenant: secrets are never read or changed, and no shell. */
const RULES = {
  rules: [
    {
      action: "deny" as const,
      operations: ["read" as const, "write" as const, "delete" as const],
      paths: ["/secrets/**"],
    },
    { action: "deny" as const, operations: ["execute" as const], paths: ["**"] },
  ],
};

export async function main(options: { log?: (line: string) => void; exporter?: SpanExporter } = {}) {
  const log = options.log ?? ((line: string) => console.log(line));
  const tracer = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(options.exporter ?? new ConsoleSpanExporter())],
  }).getTracer("production-example");

  // One embedded database: tenant A's backend owns it, tenant B shares its connection.
  const acmeFiles = await PostgresBackend.embedded({ namespace: "acme" });
  try {
    const globexFiles = new PostgresBackend({ sql: acmeFiles.sql, namespace: "globex" });
    const trail = new PostgresAuditTable({ sql: acmeFiles.sql, table: "deepfs_audit" });
    await trail.initialize();
    // Seeded by the operator, below the layers: the agent may not read it.
    await acmeFiles.write("/secrets/api-key.txt", "sk-live-not-for-agents\n");

    const quotas = new Map<string, QuotaBackend>();
    const forTenant = (tenant: string, files: BackendProtocol) => {
      const quota = withQuota(files, { maxFiles: 20, maxBytes: 4096, maxFileSize: 2048 });
      quotas.set(tenant, quota);
      return withTelemetry(withAudit(withPermissions(quota, RULES), { onAudit: trail.sink, actor: tenant }), {
        tracer,
        backendKind: "PostgresBackend",
      });
    };
    const acme = forTenant("acme", acmeFiles);
    const globex = forTenant("globex", globexFiles);

    // Tenant acme's agent: writes a note, tries the secret, then a report over its quota.
    const model = scriptedModel(
      [
        { name: "write_file", args: { file_path: "/notes/plan.md", content: "# Plan\n- ship the audit trail\n" } },
        { name: "read_file", args: { file_path: "/secrets/api-key.txt" } },
        { name: "write_file", args: { file_path: "/reports/q4.md", content: `# Q4\n${"data ".repeat(600)}\n` } },
        { name: "ls", args: { path: "/" } },
      ],
      "Plan written; the secret and the oversized report were refused.",
    );
    const agent = createDeepAgent({ model, backend: acme });
    const state = await runAsActor("acme/agent-1", () =>
      agent.invoke({ messages: [new HumanMessage("Write the plan and the Q4 report.")] }, { recursionLimit: 20 }),
    );
    const calls = toolCallsOf(state.messages);
    for (const call of calls) log(`agent ${call.name}: ${firstLine(call.result)}`);

    // Tenant globex: its own files and quota, on the same table.
    await globex.write("/notes/globex.md", "# Globex\n");
    log(`globex sees: ${((await globex.ls("/")).files ?? []).map((f) => f.path).join(", ")}`);
    for (const [tenant, quota] of quotas) {
      const usage = await quota.usage();
      log(`usage ${tenant}: ${usage.files} files, ${usage.bytes} bytes`);
    }

    const events = (await trail.events({ limit: 50 })).reverse();
    for (const e of events) {
      log(`audit: ${e.actor ?? "-"} ${e.operation} ${e.path} ${e.outcome} ${e.result} ${e.bytes} B`);
    }
    return {
      calls: calls.map((c) => ({ name: c.name, result: c.result })),
      events,
      usage: Object.fromEntries(await Promise.all([...quotas].map(async ([t, q]) => [t, await q.usage()] as const))),
      globexFiles: ((await globex.ls("/")).files ?? []).map((f) => f.path),
    };
  } finally {
    await acmeFiles.close();
  }
}

function firstLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 110 ? `${line.slice(0, 107)}...` : line;
}

runIfMain(import.meta.url, () => main());
