import { CompositeBackend, StateBackend } from "@deepfs/core";
import { defineSoak } from "../src/soak.js";

// The router alone, with members in memory: ledgers on the default backend, registers and private
// files on routes (the private ones nested), so that every tree-wide glob and grep fans out and merges.
// packages/local/test/soak.test.ts runs the router over LocalBackends on disk as well.
defineSoak({
  name: "CompositeBackend (StateBackends at /, /register/, /agents/, /agents/a001/)",
  id: "composite-state",
  create: () => ({
    backend: new CompositeBackend(new StateBackend(), {
      "/register/": new StateBackend(),
      "/agents/": new StateBackend(),
      "/agents/a001/": new StateBackend(),
    }),
    close: () => {},
  }),
});
