// CI's Node.js matrix: `scripts/test.mjs --subset` on Node 20 and 22, then the whole `scripts/test.mjs` on
// Node 24, each under its own Node (its bin directory first on PATH; pnpm and every tool it starts use it).
// The binaries come from the npm registry through scripts/node-versions.mjs. Every leg runs even when an
// earlier one failed; the exit code is non-zero when any did, and the last line is the sum of every leg:
//
//   tests: N passed, N failed, N skipped
//
//   node scripts/test-matrix.mjs [<version>:<subset|full> ...]   (default: 20:subset 22:subset 24:full)
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureNode, nodeVersion } from "./node-versions.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_LEGS = ["20:subset", "22:subset", "24:full"];

const legs = (process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_LEGS).map((arg) => {
  const [version, mode] = arg.split(":");
  if (!/^\d+(\.\d+){0,2}$/.test(version ?? "") || !["subset", "full"].includes(mode ?? "")) {
    console.error(`[matrix] not a leg: ${arg} (e.g. 22:subset or 24:full)`);
    process.exit(2);
  }
  return { version, mode };
});

let child;
let interruptedBy;
for (const name of ["SIGINT", "SIGTERM"]) {
  process.on(name, () => {
    interruptedBy = name;
    child?.kill(name);
  });
}

const totalsDir = mkdtempSync(join(tmpdir(), "deepfs-matrix-"));
const results = [];
try {
  for (const leg of legs) {
    if (interruptedBy) break;
    results.push(await runLeg(leg));
  }
} finally {
  rmSync(totalsDir, { recursive: true, force: true });
}

console.log(`\n[matrix] ${"=".repeat(90)}`);
const sum = { passed: 0, failed: 0, skipped: 0 };
for (const result of results) {
  const counts = result.totals
    ? `${result.totals.passed} passed, ${result.totals.failed} failed, ${result.totals.skipped} skipped`
    : "no test totals";
  const status = result.code === 0 ? "ok" : `FAILED (exit ${result.code})`;
  console.log(`[matrix] Node ${result.node} ${result.mode}: ${status} in ${minutes(result.ms)}; ${counts}`);
  for (const line of result.totals?.failures ?? []) console.log(`[matrix]   failed: ${line}`);
  for (const key of Object.keys(sum)) sum[key] += result.totals?.[key] ?? 0;
  // A leg that failed without counting a failed test (a build, the demo, the pack check) still counts one.
  if (result.code !== 0 && !(result.totals?.failed > 0)) sum.failed += 1;
}
const failed = interruptedBy !== undefined || results.some((result) => result.code !== 0);
console.log(`[matrix] ${failed ? "FAILED" : "ok"}: every leg's tests added up below`);
console.log(`tests: ${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped`);
process.exit(interruptedBy ? (interruptedBy === "SIGINT" ? 130 : 143) : failed ? 1 : 0);

async function runLeg({ version, mode }) {
  const started = Date.now();
  let bin;
  try {
    bin = ensureNode(version, { log: (line) => console.log(line) });
  } catch (error) {
    console.error(`[matrix] Node ${version}: ${error.message}`);
    return { node: version, mode, code: 1, ms: Date.now() - started };
  }
  const node = nodeVersion(join(bin, "node")) ?? version;
  const title = `Node ${node}: ${mode === "full" ? "the whole suite (pnpm test)" : "subset (node scripts/test.mjs --subset)"}`;
  console.log(`\n${"#".repeat(100)}\n# ${title}\n# ${join(bin, "node")}\n${"#".repeat(100)}`);
  const totalsFile = join(totalsDir, `${version}-${mode}.json`);
  const env = {
    ...process.env,
    PATH: [bin, process.env.PATH].join(delimiter),
    DEEPFS_TEST_TOTALS: totalsFile,
    // turbo's cache does not key on the Node version: without this the leg would reuse another's build
    // (the subset passes --force to its build step only, so that the demo's own build is not redone).
    ...(mode === "full" ? { TURBO_FORCE: "true" } : {}),
  };
  const args = ["scripts/test.mjs", ...(mode === "subset" ? ["--subset"] : [])];
  const code = await new Promise((resolvePromise) => {
    child = spawn("node", args, { cwd: repoRoot, env, stdio: "inherit" });
    child.once("error", (error) => {
      console.error(`[matrix] node ${args.join(" ")}: ${error.message}`);
      resolvePromise(1);
    });
    child.once("exit", (exitCode, signal) => resolvePromise(exitCode ?? (signal ? 1 : 0)));
  });
  let totals;
  try {
    totals = JSON.parse(readFileSync(totalsFile, "utf8"));
  } catch {
    totals = undefined;
  }
  const ms = Date.now() - started;
  console.log(`[matrix] Node ${node} ${mode}: exit ${code} after ${minutes(ms)}`);
  return { node, mode, code, ms, totals };
}

function minutes(ms) {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}
