// The permission rules of withPermissions (issue #19) on stores with and without native search,
// around a router (rules name the route's prefix) and inside one (a guarded route).
import { randomUUID } from "node:crypto";
import {
  type BackendProtocol,
  CompositeBackend,
  MemoryBackend,
  type PermissionOptions,
  StateBackend,
  withPermissions,
  withQuota,
} from "@deepfs/core";
import { type Driver, DriverBackend, ForwardingDriver } from "@deepfs/core/kit";
import { definePermissionContract } from "../src/index.js";

definePermissionContract({ name: "MemoryBackend", create: () => new MemoryBackend() });
definePermissionContract({ name: "StateBackend", create: () => new StateBackend() });
definePermissionContract({
  name: "a driver without native search or batches (the facade walks)",
  create: () => {
    const driver = DriverBackend.driverOf(new MemoryBackend()) as Driver;
    return new DriverBackend(new ForwardingDriver(driver, { omit: ["grep", "glob", "readBatch", "writeBatch"] }));
  },
});
definePermissionContract({
  name: "a driver without conditional writes (preconditions checked by a stat)",
  create: () => {
    const driver = new ForwardingDriver(DriverBackend.driverOf(new MemoryBackend()) as Driver);
    driver.capabilities.conditionalWrites = false;
    return new DriverBackend(driver);
  },
});
definePermissionContract({
  name: "withQuota(MemoryBackend) with history",
  create: () => withQuota(new MemoryBackend({ history: true }), { maxBytes: 1_000_000 }),
});

definePermissionContract({
  name: "CompositeBackend, rules on a route's paths",
  create: () => ({
    backend: new CompositeBackend(new StateBackend(), { "/mnt/": new MemoryBackend() }),
    root: `/mnt/t-${randomUUID().slice(0, 8)}`,
  }),
});

/** A router whose `/mnt/` route is guarded: the rules, written for the router's paths, lose the prefix. */
function guardedRoute(backend: BackendProtocol, options: PermissionOptions): BackendProtocol {
  const route = (backend as CompositeBackend & { route: BackendProtocol }).route;
  const rules = options.rules.map((rule) => ({ ...rule, paths: rule.paths.map((p) => p.replace(/^\/mnt(?=\/)/, "")) }));
  return new CompositeBackend(new MemoryBackend(), { "/mnt/": withPermissions(route, { ...options, rules }) });
}

definePermissionContract({
  name: "a guarded route of a CompositeBackend",
  create: () => {
    const route = new MemoryBackend();
    const backend = Object.assign(new CompositeBackend(new MemoryBackend(), { "/mnt/": route }), { route });
    return { backend, root: `/mnt/t-${randomUUID().slice(0, 8)}` };
  },
  guard: guardedRoute,
});
