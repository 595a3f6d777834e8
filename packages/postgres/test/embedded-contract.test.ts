import { randomUUID } from "node:crypto";
import { defineBackendContract } from "@deepfs/conformance";
import { afterAll, beforeAll } from "vitest";
import { PostgresBackend } from "../src/index.js";

// The contract on `PostgresBackend.embedded()` (PGlite in this process, one connection), with no server:
// CI runs it on every Node version of its matrix. Starting PGlite takes seconds, so one embedded database
// serves the file and every test gets its own root in it. The whole contract runs on the real server
// (postgres.test.ts); left out here are the transfer and scale groups, which PGlite (PostgreSQL in
// WebAssembly) answers in minutes: a 20 MB upload took 96 s and a 200,000-line grep over 6 minutes.
let backend: PostgresBackend | undefined;

beforeAll(async () => {
  backend = await PostgresBackend.embedded({ namespace: "contract" });
}, 180_000);

afterAll(async () => {
  await backend?.close();
});

defineBackendContract({
  name: "PostgresBackend (embedded)",
  capabilities: { conditionalWrites: true, nativeGrep: true, execute: false },
  omit: ["transfer", "scale"],
  create: () => {
    if (!backend) throw new Error("the embedded database did not start (see beforeAll)");
    const shared = backend;
    const root = `/t-${randomUUID()}`;
    return { backend: shared, root, cleanup: async () => void (await shared.delete(root)) };
  },
});
