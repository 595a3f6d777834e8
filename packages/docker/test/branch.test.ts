// Copy-on-write branches with a sandbox's workspace as the base (files changed by exec): the branch rules.
import { randomBytes } from "node:crypto";
import { createContractContext, registerBranchRules } from "@deepfs/conformance";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { DockerSandbox } from "../src/index.js";
import { containersLabelled, fileTag, skipReason, testSandbox } from "./helpers.js";

const tag = fileTag("branch");
let sandbox: DockerSandbox | undefined;

beforeAll(async () => {
  if (skipReason) return;
  sandbox = testSandbox(tag);
  await sandbox.start();
});

afterAll(async () => {
  await sandbox?.stop();
  if (!skipReason) expect(await containersLabelled("deepfs.test-file", tag)).toEqual([]);
});

describe.skipIf(Boolean(skipReason))("branches of a DockerSandbox", () => {
  registerBranchRules(
    createContractContext({
      name: "DockerSandbox",
      // Every call of the base is an exec (about 60 ms, serialised by the engine).
      timeoutScale: 3,
      create: () => ({ backend: sandbox as DockerSandbox, root: `/workspace/b-${randomBytes(6).toString("hex")}` }),
    }),
  );
});
