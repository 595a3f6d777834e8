// The whole contract through the telemetry layer, with a recording tracer (so that every attribute
// is computed): over StateBackend with history on, LocalBackend, and a router whose members and
// whole are wrapped.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineBackendContract } from "@deepfs/conformance";
import { CompositeBackend, StateBackend } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, expect } from "vitest";
import { withTelemetry } from "../src/index.js";

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("contract");
let seen = 0;
afterEach(() => {
  seen += exporter.getFinishedSpans().length;
  exporter.reset();
});

defineBackendContract({
  name: "withTelemetry(StateBackend, history on)",
  capabilities: { execute: false },
  create: () => withTelemetry(new StateBackend({ history: true }), { tracer, recordPaths: true }),
});

defineBackendContract({
  name: "withTelemetry(LocalBackend)",
  capabilities: { execute: false },
  create: () => {
    const dir = mkdtempSync(join(tmpdir(), "deepfs-telemetry-"));
    const backend = withTelemetry(new LocalBackend({ rootDir: dir }), { tracer });
    return {
      backend,
      cleanup: async () => {
        await backend.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

defineBackendContract({
  name: "withTelemetry(CompositeBackend of wrapped members at /, /a/, /a/b/)",
  capabilities: { execute: false },
  create: () =>
    withTelemetry(
      new CompositeBackend(withTelemetry(new StateBackend(), { tracer }), {
        "/a/": withTelemetry(new StateBackend(), { tracer }),
        "/a/b/": withTelemetry(new StateBackend(), { tracer }),
      }),
      { tracer },
    ),
});

// The layer really traced the runs above (a suite that made no span would prove nothing); a
// filtered run (-t) may make few.
afterAll(() => {
  expect(seen).toBeGreaterThan(0);
});
