import { defineSoak, socketsToPort } from "@deepfs/conformance/soak";
import { configuredBackend, endpoint, ensureBucket, randomPrefix, skipReason, testClient } from "./support.js";

const endpointPort = endpoint ? Number(new URL(endpoint).port || 80) : 0;

defineSoak({
  name: "S3Backend",
  id: "s3",
  skip: skipReason,
  create: async () => {
    const setup = testClient();
    await ensureBucket(setup);
    setup.destroy();
    // The backend builds and owns its client, so close() must leave no socket to the endpoint.
    const backend = configuredBackend(randomPrefix("soak"));
    return {
      backend,
      close: async () => {
        const removed = await backend.delete("/");
        await backend.close();
        if (removed.error !== undefined) throw new Error(`removing the soak's objects failed: ${removed.error}`);
      },
    };
  },
  probes: [{ name: "sockets to the S3 endpoint", count: () => socketsToPort(endpointPort), max: 0 }],
});
