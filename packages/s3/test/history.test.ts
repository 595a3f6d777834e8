// Version history from S3 bucket versioning (issue #22): the history rules on S3Backend with
// history on, with and without a retention limit, with tenants (sibling prefixes of one bucket)
// and peers (a second backend with its own client). Each test has a versioned bucket of its own.
import { type BackendContractOptions, createContractContext, registerHistoryRules } from "@deepfs/conformance";
import type { HistoryOption } from "@deepfs/core";
import { afterAll, beforeAll, describe } from "vitest";
import { S3Backend } from "../src/index.js";
import {
  configuredBackend,
  emptyBucket,
  freshBucket,
  randomPrefix,
  testClient,
  versioningSkipReason,
} from "./support.js";

/** The history suites need buckets with versioning (moto has them; single-drive MinIO has not). */
const skipReason = await versioningSkipReason();
const client = skipReason ? undefined : testClient();
/** The bucket the tenants of every tenant rule share, each under its own prefix. */
let tenantsBucket = "";

beforeAll(async () => {
  if (client) tenantsBucket = await freshBucket(client, true, "ht");
});
afterAll(async () => {
  if (!client) return;
  if (tenantsBucket) await emptyBucket(client, tenantsBucket);
  client.destroy();
});

function optionsFor(name: string, history: HistoryOption): BackendContractOptions<S3Backend> {
  const s3 = () => client as NonNullable<typeof client>;
  return {
    name,
    skip: skipReason,
    timeoutScale: 2,
    capabilities: { conditionalWrites: true, execute: false },
    create: async () => {
      const bucket = await freshBucket(s3(), true);
      const prefix = randomPrefix("history");
      const backend = new S3Backend({ client: s3(), bucket, prefix, history });
      let peer: S3Backend | undefined;
      return {
        backend,
        root: "/",
        // Another process: a backend with a client of its own on the same bucket and prefix.
        peer: () => {
          peer ??= configuredBackend(prefix, { bucket, history });
          return peer;
        },
        cleanup: async () => {
          await backend.close();
          await peer?.close();
          await emptyBucket(s3(), bucket);
        },
      };
    },
    tenant: (name, run) => {
      // S3Backend refuses `\\` in a prefix (it is a path): that name becomes `ac_me`.
      const prefix = `tenants/${run}/${name.replaceAll("\\", "_")}`;
      const backend = new S3Backend({ client: s3(), bucket: tenantsBucket, prefix, history });
      return {
        backend,
        cleanup: async () => {
          await backend.close();
          await emptyBucket(s3(), tenantsBucket, `${prefix}/`, false);
        },
      };
    },
  };
}

describe("history of an S3Backend (versioned bucket)", () => {
  registerHistoryRules(createContractContext(optionsFor("S3Backend history", true)), { peers: true });
});

describe("history of an S3Backend keeping 20 versions", () => {
  registerHistoryRules(createContractContext(optionsFor("S3Backend maxVersions 20", { maxVersions: 20 })), {
    maxVersions: 20,
    peers: true,
  });
});
