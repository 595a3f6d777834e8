// Production controls (issue #19): withPermissions and withQuota, configured to allow everything
// and with generous limits, satisfy the whole contract over a StateBackend, stacked, as a route of
// a router, and around a router.
import { randomUUID } from "node:crypto";
import { CompositeBackend, MemoryBackend, StateBackend, withPermissions, withQuota } from "@deepfs/core";
import { type Driver, DriverBackend, ForwardingDriver } from "@deepfs/core/kit";
import { ALLOWING_RULES, GENEROUS_LIMITS } from "../src/controls-fixtures.js";
import { defineBackendContract } from "../src/index.js";

defineBackendContract({
  name: "withPermissions(withQuota(StateBackend))",
  create: () => withPermissions(withQuota(new StateBackend(), GENEROUS_LIMITS), ALLOWING_RULES),
  capabilities: { execute: false },
});

defineBackendContract({
  name: "CompositeBackend route to withPermissions(withQuota(MemoryBackend))",
  create: () => ({
    backend: new CompositeBackend(new StateBackend(), {
      "/mnt/": withPermissions(withQuota(new MemoryBackend(), GENEROUS_LIMITS), ALLOWING_RULES),
    }),
    root: `/mnt/t-${randomUUID().slice(0, 8)}`,
  }),
  capabilities: { execute: false },
  omit: ["scale"],
});

defineBackendContract({
  name: "withQuota(withPermissions(CompositeBackend))",
  create: () =>
    withQuota(
      withPermissions(new CompositeBackend(new MemoryBackend(), { "/a/": new MemoryBackend() }), ALLOWING_RULES),
      GENEROUS_LIMITS,
    ),
  capabilities: { execute: false },
  omit: ["scale"],
});

defineBackendContract({
  name: "withPermissions over a driver without native search or batches",
  create: () => {
    const driver = DriverBackend.driverOf(new MemoryBackend()) as Driver;
    const walking = new DriverBackend(
      new ForwardingDriver(driver, { omit: ["grep", "glob", "readBatch", "writeBatch"] }),
    );
    return withPermissions(walking, ALLOWING_RULES);
  },
  capabilities: { execute: false },
  omit: ["scale"],
});
