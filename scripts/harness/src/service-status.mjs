import { appendFileSync } from "node:fs";
import { join } from "node:path";

export const UNAVAILABLE_VAR = Object.freeze({
  postgres: "DEEPFS_POSTGRES_UNAVAILABLE",
  s3: "DEEPFS_S3_UNAVAILABLE",
  docker: "DEEPFS_DOCKER_UNAVAILABLE",
});

/** The variables a test of each service reads; the first ones listed must be set for it to run. */
const SERVICE_VARS = Object.freeze({
  postgres: { required: ["DEEPFS_PG_URL"], optional: [] },
  s3: {
    required: ["DEEPFS_S3_ENDPOINT"],
    optional: ["DEEPFS_S3_BUCKET", "DEEPFS_S3_ACCESS_KEY_ID", "DEEPFS_S3_SECRET_ACCESS_KEY", "DEEPFS_S3_REGION"],
  },
  docker: { required: ["DOCKER_HOST", "DEEPFS_DOCKER_IMAGE_BUSYBOX", "DEEPFS_DOCKER_IMAGE_PYTHON"], optional: [] },
});

const S3_DEFAULTS = { DEEPFS_S3_BUCKET: "deepfs-test", DEEPFS_S3_REGION: "us-east-1" };

/** True when the environment already says where `name` is, or why it is unavailable. */
export function isServiceResolved(name, env = process.env) {
  return Boolean(env[UNAVAILABLE_VAR[name]]) || SERVICE_VARS[name].required.every((key) => env[key]);
}

/** Whether a test can use `name`, read from the environment that the harness set up. */
export function serviceStatus(name, env = process.env) {
  const vars = SERVICE_VARS[name];
  if (!vars) throw new Error(`unknown service ${JSON.stringify(name)}`);
  const reason = env[UNAVAILABLE_VAR[name]];
  if (reason) return { available: false, reason };
  const absent = vars.required.filter((key) => !env[key]);
  if (absent.length > 0) {
    return {
      available: false,
      reason: `${absent.join(", ")} not set: run through \`pnpm test\` or add the @deepfs/harness globalSetup`,
    };
  }
  const found = name === "s3" ? { ...S3_DEFAULTS } : {};
  for (const key of [...vars.required, ...vars.optional]) {
    if (env[key]) found[key] = env[key];
  }
  return { available: true, env: found };
}

const warned = new Set();

/**
 * For `describe.skipIf(requireOrSkipReason('postgres'))`: undefined when the service is there,
 * otherwise the reason, printed once per process and recorded for the run's summary. Throws when
 * DEEPFS_REQUIRE_SERVICES=1, so CI fails instead of passing with skipped suites.
 */
export function requireOrSkipReason(name) {
  const status = serviceStatus(name);
  if (status.available) return undefined;
  if (process.env.DEEPFS_REQUIRE_SERVICES === "1") {
    throw new Error(`DEEPFS_REQUIRE_SERVICES=1 but ${name} is unavailable: ${status.reason}`);
  }
  if (!warned.has(name)) {
    warned.add(name);
    console.warn(`[deepfs-harness] SKIP ${name} tests: ${status.reason}`);
    const reportDir = process.env.DEEPFS_TEST_REPORT_DIR;
    if (reportDir) appendFileSync(join(reportDir, "service-skips.log"), `${name}: ${status.reason}\n`);
  }
  return status.reason;
}
