// Copy-on-write branches over a directory on disk: the whole backend contract on a branch of a
// LocalBackend, and the branch rules with a LocalBackend base.

import { createContractContext, defineBackendContract, registerBranchRules } from "@deepfs/conformance";
import { branch } from "@deepfs/core";
import { describe } from "vitest";
import { LocalBackend } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

/** A LocalBackend in a fresh temp directory, and its cleanup. */
function localBase(): { backend: LocalBackend; cleanup: () => Promise<void> } {
  const root = tempRoot("deepfs-branch-");
  const backend = new LocalBackend({ rootDir: root.dir });
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      root.remove();
    },
  };
}

defineBackendContract({
  name: "BranchBackend (LocalBackend base, MemoryBackend upper)",
  capabilities: { execute: false },
  create: () => {
    const base = localBase();
    return { backend: branch(base.backend), cleanup: base.cleanup };
  },
});

describe("branches of a LocalBackend", () => {
  registerBranchRules(createContractContext({ name: "LocalBackend", create: localBase }));
});
