import { randomBytes } from "node:crypto";
import { defineBackendContract } from "@deepfs/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DockerSandbox } from "../src/index.js";
import { containersLabelled, fileTag, skipReason, testSandbox } from "./helpers.js";

// One container for the whole file (starting one per test would dominate the run); each test gets
// its own directory in it, so the rules can run concurrently (maxConcurrency in vitest.config.ts):
// a rule alone leaves the engine idle between its execs (about 60 ms each), a few keep it busy.
const tag = fileTag("contract");
const DIRS_PER_MKDIR = 64;
let sandbox: DockerSandbox | undefined;
/** Test directories made ahead, many per exec, handed out one per test. */
let spare: Promise<string[]> = Promise.resolve([]);

function makeDirs(backend: DockerSandbox): Promise<string[]> {
  const dirs = Array.from({ length: DIRS_PER_MKDIR }, () => `/workspace/t-${randomBytes(6).toString("hex")}`);
  return backend.execute(`mkdir ${dirs.join(" ")}`).then((made) => {
    if (made.exitCode !== 0) throw new Error(`could not create test directories: ${made.output}`);
    return dirs;
  });
}

async function testRoot(backend: DockerSandbox): Promise<string> {
  // Chained, so concurrent callers never share a batch or make two at once.
  const next = spare.then((dirs) => (dirs.length > 0 ? dirs : makeDirs(backend)));
  spare = next.then((dirs) => dirs.slice(1));
  return (await next)[0] as string;
}

beforeAll(async () => {
  if (skipReason) return;
  sandbox = testSandbox(tag);
  await sandbox.start();
});

afterAll(async () => {
  await sandbox?.stop();
  if (!skipReason) expect(await containersLabelled("deepfs.test-file", tag)).toEqual([]);
});

describe.concurrent("concurrently, in one container", () => {
  defineBackendContract({
    name: "DockerSandbox",
    skip: skipReason,
    // Every call is at least one exec (about 60 ms, serialised by the engine); the longest rules
    // make over a hundred in a row, three at a time, while other suites load the same two cores.
    timeoutScale: 3,
    create: async () => {
      const backend = sandbox as DockerSandbox;
      // No per-test cleanup: every test has its own directory, and the container goes at the end.
      return { backend, root: await testRoot(backend) };
    },
  });
});

it.skipIf(Boolean(skipReason))("leaves one container for the whole file", async () => {
  expect(await containersLabelled("deepfs.test-file", tag)).toHaveLength(1);
});
