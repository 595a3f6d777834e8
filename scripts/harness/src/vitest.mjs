import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isServiceResolved } from "./service-status.mjs";
import { startServices } from "./start-services.mjs";

/**
 * A vitest `globalSetup` default export. It starts only the services the environment does not
 * already describe (`pnpm test` starts them all once, so then nothing is started) and puts their
 * variables in process.env, which the test workers inherit.
 */
export function createGlobalSetup(names) {
  return async function setup() {
    const missing = names.filter((name) => !isServiceResolved(name));
    if (missing.length === 0) return undefined;
    const services = await startServices(missing);
    Object.assign(process.env, services.env);
    return async function teardown() {
      await services.stop();
    };
  };
}

/**
 * Spread into a vitest `test` config: with DEEPFS_TEST_REPORT_DIR set (by scripts/test.mjs) it adds a
 * JSON report there named after the package, which the root run adds up into one pass/fail line.
 */
export function vitestReporters(packageName = currentPackageName()) {
  const reportDir = process.env.DEEPFS_TEST_REPORT_DIR;
  if (!reportDir) return { reporters: ["default"] };
  const file = `${packageName.replace(/^@/, "").replace(/[^a-z0-9._-]+/gi, "-")}.json`;
  return { reporters: ["default", "json"], outputFile: { json: join(reportDir, file) } };
}

function currentPackageName() {
  if (process.env.npm_package_name) return process.env.npm_package_name;
  try {
    return JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")).name ?? "unnamed";
  } catch {
    return "unnamed";
  }
}
