import { randomUUID } from "node:crypto";
import { StateBackend } from "@deepfs/core";
import { defineBackendContract } from "../src/index.js";

defineBackendContract({
  name: "StateBackend",
  create: () => new StateBackend(),
  capabilities: { execute: false },
});

// One backend shared by every test, each test in its own directory: the way sandboxes run the
// suite (a writable area such as /workspace/t-123). Proves the suite keeps every path under `root`.
const shared = new StateBackend({ files: { "/outside/keep.txt": "not part of any test" } });
defineBackendContract({
  name: "StateBackend (shared, rooted per test)",
  capabilities: { execute: false },
  create: () => {
    const root = `/workspace/t-${randomUUID()}`;
    return { backend: shared, root, cleanup: async () => void (await shared.delete(root)) };
  },
});
