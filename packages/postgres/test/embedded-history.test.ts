// Version history on `PostgresBackend.embedded()` (PGlite, one connection), with no server: the
// history rules with history on, with and without a retention limit. One embedded database per
// option serves the file; every test gets its own root in it.
import { randomUUID } from "node:crypto";
import { createContractContext, registerHistoryRules } from "@deepfs/conformance";
import type { HistoryOption } from "@deepfs/core";
import { afterAll, beforeAll, describe } from "vitest";
import { PostgresBackend } from "../src/index.js";

const options: Record<string, HistoryOption> = { all: true, twenty: { maxVersions: 20 } };
const backends = new Map<string, PostgresBackend>();

beforeAll(async () => {
  for (const [key, history] of Object.entries(options)) {
    backends.set(key, await PostgresBackend.embedded({ namespace: "history", history }));
  }
}, 180_000);

afterAll(async () => {
  await Promise.all([...backends.values()].map((b) => b.close()));
});

function contextFor(name: string, key: string) {
  return createContractContext({
    name,
    capabilities: { conditionalWrites: true, nativeGrep: true, execute: false },
    create: () => {
      const backend = backends.get(key);
      if (!backend) throw new Error("the embedded database did not start (see beforeAll)");
      const root = `/t-${randomUUID()}`;
      return { backend, root, cleanup: async () => void (await backend.delete(root)) };
    },
  });
}

describe("history of an embedded PostgresBackend", () => {
  registerHistoryRules(contextFor("PostgresBackend (embedded) history", "all"));
});

describe("history of an embedded PostgresBackend keeping 20 versions", () => {
  registerHistoryRules(contextFor("PostgresBackend (embedded) maxVersions 20", "twenty"), { maxVersions: 20 });
});
