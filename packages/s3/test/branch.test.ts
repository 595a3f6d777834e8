// Copy-on-write branches with an S3 prefix as the base: the branch rules (commit with ifMatch on
// the recorded ETags, conflicts, deletes, three-way merges, two branches of one base).
import { createContractContext, registerBranchRules } from "@deepfs/conformance";
import { afterAll, beforeAll, describe } from "vitest";
import { S3Backend } from "../src/index.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

const client = skipReason ? undefined : testClient();

beforeAll(async () => {
  if (client) await ensureBucket(client);
});
afterAll(() => client?.destroy());

describe.skipIf(Boolean(skipReason))("branches of an S3Backend", () => {
  registerBranchRules(
    createContractContext({
      name: "S3Backend",
      timeoutScale: 2,
      create: () => {
        const prefix = randomPrefix("branch");
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
    }),
  );
});
