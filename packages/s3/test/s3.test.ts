import { defineBackendContract } from "@deepfs/conformance";
import { afterAll, beforeAll } from "vitest";
import { S3Backend } from "../src/index.js";
import {
  bucket,
  configuredBackend,
  ensureBucket,
  randomPrefix,
  removePrefix,
  skipReason,
  testClient,
} from "./support.js";

const tenantsPrefix = randomPrefix("tenants");

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
  // The peer: a second S3Backend on the same bucket and prefix with a client of its own (another process).
  peers: true,
  create: () => {
    const prefix = randomPrefix("contract");
    const backend = new S3Backend({ client: client as NonNullable<typeof client>, bucket, prefix });
    let peer: S3Backend | undefined;
    return {
      backend,
      root: "/",
      peer: () => {
        peer ??= configuredBackend(prefix);
        return peer;
      },
      cleanup: async () => {
        await removePrefix(client as NonNullable<typeof client>, prefix);
        await backend.close();
        await peer?.close();
      },
    };
  },
  // Tenants: sibling key prefixes of one bucket (`<run>/acme/`, `<run>/acme-corp/`).
  tenant: (name, run) => {
    // S3Backend refuses `\\` in a prefix (it is a path): that name becomes `ac_me`.
    const prefix = `${tenantsPrefix}/${run}/${name.replaceAll("\\", "_")}`;
    const backend = new S3Backend({ client: client as NonNullable<typeof client>, bucket, prefix });
    return {
      backend,
      cleanup: async () => {
        await removePrefix(client as NonNullable<typeof client>, prefix);
        await backend.close();
      },
    };
  },
});
