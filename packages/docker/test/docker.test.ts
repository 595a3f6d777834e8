import { randomBytes } from "node:crypto";
import { defineBackendContract } from "@deepfs/conformance";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { DockerSandbox } from "../src/index.js";
import { containersLabelled, fileTag, skipReason, testSandbox } from "./helpers.js";

// One container for the whole file (starting one per test would dominate the run); each test gets
// its own directory in it. Every exec costs about 100 ms of runc time, so the file takes minutes.
const tag = fileTag("contract");
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

defineBackendContract({
  name: "DockerSandbox",
  skip: skipReason,
  create: async () => {
    const backend = sandbox as DockerSandbox;
    const root = `/workspace/t-${randomBytes(6).toString("hex")}`;
    const made = await backend.execute(`mkdir -p '${root}'`);
    if (made.exitCode !== 0) throw new Error(`could not create ${root}: ${made.output}`);
    // No per-test cleanup: every test has its own directory, and the container goes at the end.
    return { backend, root };
  },
});

it.skipIf(Boolean(skipReason))("leaves one container for the whole file", async () => {
  expect(await containersLabelled("deepfs.test-file", tag)).toHaveLength(1);
});
