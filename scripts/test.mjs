// The root `pnpm test`: starts every service once, lints, builds, typechecks and tests all packages
// against those services, checks the packed tarballs outside the workspace (scripts/pack-check.mjs),
// then prints one `N passed, N failed` line for CI.
//
//   node scripts/test.mjs [--subset]
//
// --subset  what CI runs on every Node version of its matrix (scripts/test-matrix.mjs): build, typecheck,
//           the contract on StateBackend, LocalBackend and embedded PostgreSQL, the URL parser, the MCP server and the
//           `deepfs` binary on local files, the demo and the pack check. It needs no service and starts none.
// With DEEPFS_TEST_TOTALS set, the totals are also written there as JSON (for the matrix's summary).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startServices } from "./harness/index.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const FULL_STEPS = [
  ["pnpm", ["exec", "biome", "ci", "."]],
  ["pnpm", ["exec", "turbo", "run", "build", "typecheck", "publint", "test", "--concurrency=2", "--continue"]],
  // Release dry run: the packed tarballs install, import and type-check in a project outside the workspace.
  ["node", ["scripts/pack-check.mjs", "--no-build"]],
];

const vitest = (pkg, files) => ["pnpm", ["--filter", pkg, "exec", "vitest", "run", ...files]];
const SUBSET_STEPS = [
  // --force: turbo's cache does not key on the Node version, so a cached build would prove nothing here.
  ["pnpm", ["exec", "turbo", "run", "build", "typecheck", "--force", "--concurrency=2", "--continue"]],
  vitest("@deepfs/conformance", ["test/state.test.ts"]),
  vitest("@deepfs/local", ["test/local.test.ts"]),
  vitest("@deepfs/postgres", ["test/embedded.test.ts", "test/embedded-contract.test.ts"]),
  vitest("@deepfs/url", ["test/parse.test.ts", "test/open.test.ts"]),
  vitest("@deepfs/mcp", ["test/server.test.ts"]),
  vitest("@deepfs/cli", ["test/cli.test.ts", "test/sync.test.ts", "test/mcp.test.ts"]),
  ["pnpm", ["demo"]],
  ["node", ["scripts/pack-check.mjs", "--no-build"]],
];

const cliArgs = process.argv.slice(2);
const subset = cliArgs.includes("--subset");
if (cliArgs.some((arg) => arg !== "--subset")) {
  console.error(`[deepfs] unknown arguments: ${cliArgs.join(" ")} (usage: node scripts/test.mjs [--subset])`);
  process.exit(2);
}
const STEPS = subset ? SUBSET_STEPS : FULL_STEPS;
/** The subset's suites use no server: the PostgreSQL and S3 globalSetups must not start one for them. */
const SUBSET_ENV = {
  DEEPFS_POSTGRES_UNAVAILABLE: "not used by `scripts/test.mjs --subset`",
  DEEPFS_S3_UNAVAILABLE: "not used by `scripts/test.mjs --subset`",
};

const requireServices = process.env.DEEPFS_REQUIRE_SERVICES === "1";
const reportDir = mkdtempSync(join(tmpdir(), "deepfs-reports-"));
let child;
let interruptedBy;

for (const name of ["SIGINT", "SIGTERM"]) {
  process.on(name, () => {
    interruptedBy = name;
    child?.kill(name);
  });
}

const exitCode = await main();
rmSync(reportDir, { recursive: true, force: true });
process.exit(exitCode);

async function main() {
  console.log(`[deepfs] Node ${process.version} (${process.execPath})${subset ? ", subset" : ""}`);
  let services;
  try {
    services = subset
      ? { env: SUBSET_ENV, stop: async () => {} }
      : await startServices(["postgres", "s3", "docker"], {
          log: (line) => console.log(`[deepfs-harness] ${line}`),
        });
  } catch (error) {
    console.error(`[deepfs] ${error.message}`);
    return 1;
  }
  let code = 0;
  try {
    if (!subset) console.log(servicesLine(services.info));
    const env = { ...process.env, ...services.env, DEEPFS_TEST_REPORT_DIR: reportDir };
    for (const [command, args] of STEPS) {
      if (interruptedBy) break;
      code = await runStep(command, args, env);
      if (code !== 0) break;
    }
  } finally {
    await services.stop();
  }
  if (interruptedBy) return interruptedBy === "SIGINT" ? 130 : 143;
  const skips = serviceSkips();
  if (skips.length > 0) {
    console.log(`[deepfs] suites skipped for a missing service: ${skips.join("; ")}`);
    if (requireServices && code === 0) code = 1;
  }
  const totals = sumReports();
  if (totals.failures.length > 0) {
    console.log(`[deepfs] failed tests (${totals.failures.length}):`);
    for (const line of totals.failures) console.log(`[deepfs]   ${line}`);
  }
  if (process.env.DEEPFS_TEST_TOTALS)
    writeFileSync(process.env.DEEPFS_TEST_TOTALS, JSON.stringify({ ...totals, code }));
  console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  return code;
}

function servicesLine(info) {
  const parts = [
    `PostgreSQL: ${info.postgres}`,
    `S3: ${info.s3}`,
    `Docker: ${info.docker}`,
    `images: ${info.images ?? "none"}`,
  ];
  return `[deepfs] ${parts.join(" | ")}`;
}

function runStep(command, args, env) {
  console.log(`[deepfs] $ ${command} ${args.join(" ")}`);
  return new Promise((resolve) => {
    child = spawn(command, args, { env, stdio: "inherit" });
    child.once("error", (error) => {
      console.error(`[deepfs] ${command}: ${error.message}`);
      resolve(1);
    });
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * Adds up the vitest JSON reports that `vitestReporters()` writes into the report dir, and names each
 * failed test (file, title, the first line of its failure) so that the end of a CI log says what failed.
 */
function sumReports() {
  const totals = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const file of readdirSync(reportDir).filter((name) => name.endsWith(".json"))) {
    const report = JSON.parse(readFileSync(join(reportDir, file), "utf8"));
    totals.passed += report.numPassedTests ?? 0;
    // A test file that fails to load has no failed test, only a failed file: it must still count,
    // but a file whose tests failed is already counted by them.
    const brokenFiles = (report.testResults ?? []).filter(
      (file) => file.status === "failed" && !(file.assertionResults ?? []).some((t) => t.status === "failed"),
    ).length;
    totals.failed += (report.numFailedTests ?? 0) + brokenFiles;
    totals.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    for (const result of report.testResults ?? []) {
      const where = relative(repoRoot, result.name ?? "?");
      const failedTests = (result.assertionResults ?? []).filter((t) => t.status === "failed");
      for (const test of failedTests)
        totals.failures.push(`${where} > ${test.fullName ?? test.title}: ${firstLine(test.failureMessages?.[0])}`);
      if (result.status === "failed" && failedTests.length === 0)
        totals.failures.push(`${where} (file failed to run): ${firstLine(result.message)}`);
    }
  }
  return totals;
}

function firstLine(text) {
  const line =
    String(text ?? "")
      .split("\n")
      .find((l) => l.trim() !== "") ?? "";
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function serviceSkips() {
  const file = join(reportDir, "service-skips.log");
  if (!existsSync(file)) return [];
  return [...new Set(readFileSync(file, "utf8").split("\n").filter(Boolean))];
}
