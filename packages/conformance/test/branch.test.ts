// Copy-on-write branches (BranchBackend): the whole backend contract on a branch, and the branch
// rules (commit, conflicts, deletes, discard, two branches of one base) with in-memory bases.
// LocalBackend runs both in packages/local/test/branch.test.ts.
import { randomUUID } from "node:crypto";
import { type BackendProtocol, branch, CompositeBackend, MemoryBackend, StateBackend } from "@deepfs/core";
import { describe } from "vitest";
import { createContractContext, defineBackendContract, registerBranchRules } from "../src/index.js";

defineBackendContract({
  name: "BranchBackend (MemoryBackend base, StateBackend upper)",
  capabilities: { execute: false },
  create: () => branch(new MemoryBackend(), { upper: new StateBackend() }),
});

// The other way round: a base reached through the protocol adapter, an upper that is a plain driver.
defineBackendContract({
  name: "BranchBackend (StateBackend base, MemoryBackend upper)",
  capabilities: { execute: false },
  omit: ["scale"],
  create: () => branch(new StateBackend(), { upper: new MemoryBackend() }),
});

// A router as the base, holding files beside the test's own directory.
defineBackendContract({
  name: "BranchBackend (CompositeBackend base with files beside the tests)",
  capabilities: { execute: false },
  omit: ["scale", "transfer"],
  create: () => {
    const base = new CompositeBackend(new MemoryBackend({ files: { "/elsewhere/base.txt": "kept" } }), {
      "/mnt/": new MemoryBackend({ files: { "/x.txt": "mounted" } }),
    });
    return { backend: branch(base), root: `/work/t-${randomUUID()}` };
  },
});

const bases: Array<[string, () => BackendProtocol]> = [
  ["MemoryBackend", () => new MemoryBackend()],
  ["StateBackend", () => new StateBackend()],
  ["CompositeBackend", () => new CompositeBackend(new MemoryBackend(), { "/c/": new MemoryBackend() })],
];
for (const [name, create] of bases) {
  describe(`branches of a ${name}`, () => {
    registerBranchRules(createContractContext({ name, create }));
  });
}
