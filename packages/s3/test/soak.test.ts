import { defineSoak, soakSeconds, socketsToPort } from "@deepfs/conformance/soak";
import { S3Backend } from "../src/index.js";
import {
  configuredBackend,
  emptyBucket,
  endpoint,
  ensureBucket,
  freshBucket,
  randomPrefix,
  skipReason,
  testClient,
  versioningSkipReason,
  withoutDeletedPrefixes,
} from "./support.js";

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

// History on a versioned bucket (no retention): each file's object versions after the run are
// exactly its acknowledged mutations, one each with the same operation and etag (the version-chain
// audit). The client corrects moto's listing of delete-marked prefixes (see support.ts).
const historySkip = await versioningSkipReason();
defineSoak({
  name: "S3Backend (history on, versioned bucket)",
  id: "s3-history",
  skip: historySkip,
  seconds: Math.min(soakSeconds(), 10),
  versions: true,
  create: async () => {
    const client = withoutDeletedPrefixes(testClient());
    const bucket = await freshBucket(client, true, "soak");
    const backend = new S3Backend({ client, bucket, prefix: randomPrefix("soak"), history: true });
    return {
      backend,
      close: async () => {
        await backend.close();
        await emptyBucket(client, bucket);
        client.destroy();
      },
    };
  },
});
