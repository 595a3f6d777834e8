import { vitestReporters } from "@deepfs/harness";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    ...vitestReporters("@deepfs/mastra"),
  },
});
