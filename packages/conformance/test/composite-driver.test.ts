import { CompositeBackend, MemoryBackend } from "@deepfs/core";
import { type Driver, DriverBackend } from "@deepfs/core/kit";
import { defineDriverContract } from "../src/index.js";

// The router is a driver too: its primitives, across nested mounts, answer what the facade relies on.
// (composite.test.ts runs the whole backend contract over the router.)
defineDriverContract({
  name: "RouterDriver (MemoryBackends at /, /a/, /a/b/)",
  create: () =>
    DriverBackend.driverOf(
      new CompositeBackend(new MemoryBackend(), { "/a/": new MemoryBackend(), "/a/b/": new MemoryBackend() }),
    ) as Driver,
  backendContract: false,
});
