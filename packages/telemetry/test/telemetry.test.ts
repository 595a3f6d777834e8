import { CompositeBackend, StateBackend } from "@deepfs/core";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { beforeEach, describe, expect, it } from "vitest";
import { withTelemetry } from "../src/index.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("test");

beforeEach(() => exporter.reset());

const spans = () => exporter.getFinishedSpans();
const only = (name: string) => {
  const found = spans().filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0] as (typeof found)[number];
};

describe("withTelemetry", () => {
  it("makes one span per operation with counts and codes, and no contents or paths", async () => {
    const backend = withTelemetry(new StateBackend(), { tracer });
    const secret = "customer-secret-4711 has a password";
    expect((await backend.write("/acme/notes.md", secret)).error).toBeUndefined();
    await backend.edit("/acme/notes.md", "password", "passphrase");
    const read = await backend.read("/acme/notes.md");
    expect(read.content).toContain("passphrase");
    await backend.grep("secret", "/acme");
    await backend.ls("/acme");
    await backend.uploadFiles([
      ["/acme/a.bin", new Uint8Array(10)],
      ["/../escape", new Uint8Array(3)],
    ]);
    await backend.downloadFiles(["/acme/a.bin"]);

    expect(spans().map((s) => s.name)).toEqual([
      "deepfs.write",
      "deepfs.edit",
      "deepfs.read",
      "deepfs.grep",
      "deepfs.ls",
      "deepfs.uploadFiles",
      "deepfs.downloadFiles",
    ]);
    expect(only("deepfs.write").attributes).toEqual({
      "deepfs.backend": "StateBackend",
      "deepfs.operation": "write",
      "deepfs.bytes_in": Buffer.byteLength(secret),
      "deepfs.result": "ok",
    });
    expect(only("deepfs.edit").attributes).toMatchObject({ "deepfs.bytes_in": 10, "deepfs.occurrences": 1 });
    expect(only("deepfs.read").attributes["deepfs.bytes_out"]).toBeGreaterThan(0);
    expect(only("deepfs.grep").attributes).toMatchObject({ "deepfs.match_count": 1, "deepfs.result": "ok" });
    expect(only("deepfs.ls").attributes["deepfs.file_count"]).toBe(1);
    expect(only("deepfs.uploadFiles").attributes).toMatchObject({
      "deepfs.file_count": 2,
      "deepfs.bytes_in": 13,
      "deepfs.failed_count": 1,
    });
    expect(only("deepfs.downloadFiles").attributes).toMatchObject({ "deepfs.file_count": 1, "deepfs.bytes_out": 10 });
    const dump = JSON.stringify(spans().map((s) => ({ a: s.attributes, st: s.status, e: s.events })));
    for (const leak of ["customer-secret", "password", "passphrase", "acme", "notes.md", "escape"]) {
      expect(dump).not.toContain(leak);
    }
  });

  it("records canonical paths and patterns only when asked", async () => {
    const backend = withTelemetry(new StateBackend(), { tracer, recordPaths: true, backendKind: "memory" });
    await backend.write("/a//c.txt", "x");
    await backend.glob("**/*.txt", "/a");
    expect(only("deepfs.write").attributes).toMatchObject({ "deepfs.path": "/a/c.txt", "deepfs.backend": "memory" });
    expect(only("deepfs.glob").attributes).toMatchObject({ "deepfs.pattern": "**/*.txt", "deepfs.file_count": 1 });
  });

  it("marks an error answer with its code, never its message", async () => {
    const backend = withTelemetry(new StateBackend(), { tracer });
    expect((await backend.read("/missing/secret-name.txt")).error).toBeDefined();
    await backend.write("/../../etc/passwd", "x");
    const [read, write] = spans();
    expect(read?.attributes["deepfs.result"]).toBe("file_not_found");
    expect(read?.status).toEqual({ code: SpanStatusCode.ERROR, message: "file_not_found" });
    expect(write?.attributes["deepfs.result"]).toBe("invalid_path");
    expect(JSON.stringify(spans().map((s) => [s.attributes, s.status]))).not.toMatch(/secret-name|passwd/);
  });

  it("names the route of a router call", async () => {
    const router = withTelemetry(new CompositeBackend(new StateBackend(), { "/memories/": new StateBackend() }), {
      tracer,
    });
    await router.write("/memories/m.md", "x");
    await router.write("/scratch.md", "y");
    await router.grep("x");
    expect(spans().map((s) => s.attributes["deepfs.route"])).toEqual(["/memories/", "default", "default"]);
    expect(spans()[0]?.attributes["deepfs.backend"]).toBe("CompositeBackend");
  });

  it("records an exception by its type", async () => {
    const base = new StateBackend();
    const throwing = Object.assign(Object.create(base) as StateBackend, {
      ls: () => {
        throw new TypeError("boom at /secret/path");
      },
    });
    const backend = withTelemetry(throwing, { tracer, backendKind: "thrower" });
    expect(() => backend.ls("/")).toThrow(TypeError);
    const span = only("deepfs.ls");
    expect(span.attributes).toMatchObject({ "deepfs.result": "exception", "exception.type": "TypeError" });
    expect(JSON.stringify([span.attributes, span.status])).not.toContain("secret");
  });

  it("passes everything else through: capabilities, history and non-operations", async () => {
    const state = new StateBackend({ history: true });
    const backend = withTelemetry(state, { tracer });
    expect(backend.capabilities).toBe(state.capabilities);
    await backend.write("/h.txt", "one");
    await backend.write("/h.txt", "two");
    const history = await backend.history("/h.txt");
    expect(history.versions).toHaveLength(2);
    expect(only("deepfs.history").attributes["deepfs.version_count"]).toBe(2);
  });

  it("is a no-op without a registered tracer provider", async () => {
    expect(trace.getTracerProvider().getTracer("x").startSpan("probe").isRecording()).toBe(false);
    const backend = withTelemetry(new StateBackend());
    expect((await backend.write("/a.txt", "x")).error).toBeUndefined();
    expect((await backend.read("/a.txt")).content).toContain("x");
    expect(spans()).toEqual([]);
  });
});
