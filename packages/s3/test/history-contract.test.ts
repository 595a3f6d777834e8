// The whole contract with history on (every write path sends the op metadata and prunes to 5
// versions) on a versioned bucket, but for the scale group, which the history-off run in s3.test.ts
// covers. The clients correct one moto quirk of versioned buckets (see `withoutDeletedPrefixes`):
// without that, the three rules that list a directory after deleting everything below it fail on
// moto, though AWS S3 answers them as the contract expects.

import type { S3Client } from "@aws-sdk/client-s3";
import { defineBackendContract } from "@deepfs/conformance";
import { afterAll } from "vitest";
import { S3Backend } from "../src/index.js";
import {
  emptyBucket,
  freshBucket,
  randomPrefix,
  testClient,
  versioningSkipReason,
  withoutDeletedPrefixes,
} from "./support.js";

/** The history suites need buckets with versioning (moto has them; single-drive MinIO has not). */
const skipReason = await versioningSkipReason();

const client = skipReason ? undefined : withoutDeletedPrefixes(testClient());
/** The peer's client: another connection pool, as another process would have. */
const peerClient = skipReason ? undefined : withoutDeletedPrefixes(testClient());
const s3 = () => client as NonNullable<typeof client>;

afterAll(() => {
  client?.destroy();
  peerClient?.destroy();
});

defineBackendContract({
  name: "S3Backend (history on, 5 versions)",
  skip: skipReason,
  timeoutScale: 2,
  capabilities: { conditionalWrites: true, execute: false },
  peers: true,
  omit: ["scale"],
  create: async () => {
    const bucket = await freshBucket(s3(), true, "hc");
    const prefix = randomPrefix("contract");
    const history = { maxVersions: 5 };
    const backend = new S3Backend({ client: s3(), bucket, prefix, history });
    let peer: S3Backend | undefined;
    return {
      backend,
      root: "/",
      peer: () => {
        peer ??= new S3Backend({ client: peerClient as S3Client, bucket, prefix, history });
        return peer;
      },
      cleanup: async () => {
        await backend.close();
        await peer?.close();
        await emptyBucket(s3(), bucket);
      },
    };
  },
});
