// Production controls (issue #19): withPermissions and withQuota, configured to allow everything
// and with generous limits, satisfy the whole contract over a StateBackend, stacked, as a route of
// a router, and around a router.
import { randomUUID } from "node:crypto";
import { CompositeBackend, MemoryBackend, StateBackend, withPermissions, withQuota } from "@deepfs/core";
import { type Driver, DriverBackend, ForwardingDriver } from "@deepfs/core/kit";
import { defineBackendContract } from "../src/index.js";

/** Generous: the scale rules write thousands of files and a 200,000-line file. */
const GENEROUS = { maxBytes: 1024 ** 3, maxFiles: 1_000_000, maxFileSize: 256 * 1024 ** 2 };
/** Rules that allow everything, after rules that match nothing the suite writes. */
const ALLOWING = {
  rules: [
    {
      action: "deny" as const,
      operations: ["read" as const, "write" as const, "delete" as const],
      paths: ["/never-used-by-tests/**"],
    },
    { action: "allow" as const, operations: ["read" as const, "write" as const, "delete" as const], paths: ["**"] },
  ],
};

defineBackendContract({
  name: "withPermissions(withQuota(StateBackend))",
  create: () => withPermissions(withQuota(new StateBackend(), GENEROUS), ALLOWING),
  capabilities: { execute: false },
});

defineBackendContract({
  name: "CompositeBackend route to withPermissions(withQuota(MemoryBackend))",
  create: () => ({
    backend: new CompositeBackend(new StateBackend(), {
      "/mnt/": withPermissions(withQuota(new MemoryBackend(), GENEROUS), ALLOWING),
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
      withPermissions(new CompositeBackend(new MemoryBackend(), { "/a/": new MemoryBackend() }), ALLOWING),
      GENEROUS,
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
    return withPermissions(walking, ALLOWING);
  },
  capabilities: { execute: false },
  omit: ["scale"],
});
