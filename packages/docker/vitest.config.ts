import { vitestReporters } from "@deepfs/harness";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The engine runs about 17 execs a second on 2 cores, whoever asks. The contract file runs 3
    // rules at a time (enough to keep the engine busy) and files run one after another, so that
    // the longest rule (about 120 execs in a row) keeps a third of the engine and its time limit.
    maxConcurrency: 3,
    maxWorkers: 1,
    ...vitestReporters("@deepfs/docker"),
  },
});
