import { defineBackendContract } from "@deepfs/conformance";
import { afterAll, beforeAll } from "vitest";
import { S3Backend } from "../src/index.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

// One client shared by every test's backend (the injected-client form); each test has its own prefix.
const client = skipReason ? undefined : testClient();

beforeAll(async () => {
  if (client) await ensureBucket(client);
});
afterAll(() => client?.destroy());

defineBackendContract({
  name: "S3Backend",
  skip: skipReason,
  // moto answers one request at a time; under CI's parallel suites its latency grows several-fold.
  timeoutScale: 2,
  capabilities: { conditionalWrites: true, execute: false },
  create: () => {
    const prefix = randomPrefix("contract");
    const backend = new S3Backend({ client: client as NonNullable<typeof client>, bucket, prefix });
    return {
      backend,
      root: "/",
      cleanup: async () => {
        await removePrefix(client as NonNullable<typeof client>, prefix);
        await backend.close();
      },
    };
  },
});
