import { CompositeBackend, StateBackend } from "@deepfs/core";
import { defineBackendContract } from "../src/index.js";

// Mounts at `/a/` and `/a/b/` put many of the suite's paths (`/a/...`) on nested routes, so every
// rule also checks prefix stripping, re-prefixing and the merging of listings across routes.
defineBackendContract({
  name: "CompositeBackend (StateBackends at /, /a/, /a/b/)",
  capabilities: { execute: false },
  create: () =>
    new CompositeBackend(new StateBackend(), {
      "/a/": new StateBackend(),
      "/a/b/": new StateBackend(),
    }),
});
