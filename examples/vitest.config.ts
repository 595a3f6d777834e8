import { vitestReporters } from "@deepfs/harness";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // The demo starts embedded PostgreSQL (PGlite) twice per run; examples start containers.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    ...vitestReporters("@deepfs/examples"),
  },
});
