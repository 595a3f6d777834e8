/**
 * `pnpm bench [--quick] [--only <group>[,<group>]] [--runs N] [--seed N]`: runs every benchmark
 * group against its peer on the same generated data and writes results/latest.md and latest.json.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type RunningServices, type ServiceName, startServices } from "@deepfs/harness";
import type { BenchContext, BenchGroup, Sizes } from "./context.js";
import { type Row, unavailable } from "./measure.js";
import { type RunInfo, writeReport } from "./report.js";

interface GroupEntry {
  name: string;
  /** Services the group uses (started once for the whole run). */
  services: ServiceName[];
  load: () => Promise<BenchGroup>;
}

const GROUPS: GroupEntry[] = [
  { name: "state", services: [], load: async () => (await import("./groups/state.js")).stateGroup },
  { name: "patterns", services: [], load: async () => (await import("./groups/patterns.js")).patternsGroup },
  { name: "local", services: [], load: async () => (await import("./groups/local.js")).localGroup },
  { name: "postgres", services: ["postgres"], load: async () => (await import("./groups/postgres.js")).postgresGroup },
  { name: "pg-scale", services: ["postgres"], load: async () => (await import("./groups/pg-scale.js")).pgScaleGroup },
  { name: "s3", services: ["s3"], load: async () => (await import("./groups/s3.js")).s3Group },
  {
    name: "s3-latency",
    services: ["s3"],
    load: async () => (await import("./groups/s3-latency.js")).s3LatencyGroup,
  },
  {
    name: "composite",
    services: ["postgres", "s3"],
    load: async () => (await import("./groups/composite.js")).compositeGroup,
  },
  { name: "docker", services: ["docker"], load: async () => (await import("./groups/docker.js")).dockerGroup },
  { name: "memory", services: ["postgres"], load: async () => (await import("./groups/memory.js")).memoryGroup },
  { name: "cp", services: ["postgres", "s3"], load: async () => (await import("./groups/cp.js")).cpGroup },
  {
    name: "history",
    services: ["postgres", "s3"],
    load: async () => (await import("./groups/history.js")).historyGroup,
  },
  {
    name: "controls",
    services: ["postgres"],
    load: async () => (await import("./groups/controls.js")).controlsGroup,
  },
];

const FULL_SIZES: Sizes = {
  standard: 5_000,
  large: 20_000,
  s3: 2_000,
  s3Latency: [1_000, 10_000],
  s3Keys: [10_000, 100_000],
  docker: 200,
  memoryMb: 200,
  cp: 5_000,
};
const QUICK_SIZES: Sizes = {
  standard: 1_000,
  large: 2_000,
  s3: 100,
  s3Latency: [100],
  s3Keys: [10_000, 100_000],
  docker: 20,
  memoryMb: 20,
  cp: 100,
};

interface Flags {
  quick: boolean;
  runs: number;
  seed: number;
  only: string[] | null;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: pnpm bench [--quick] [--only <group>[,<group>...]] [--runs N] [--seed N]\n` +
      `groups: ${GROUPS.map((g) => g.name).join(", ")}\n`,
  );
  process.exit(2);
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = { quick: false, runs: 0, seed: 20_251_122, only: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === "--") continue;
    else if (arg === "--quick") flags.quick = true;
    else if (arg === "--runs") flags.runs = Number(value());
    else if (arg === "--seed") flags.seed = Number(value());
    else if (arg === "--only") flags.only = [...(flags.only ?? []), ...value().split(",")];
    else usage(`unknown argument ${arg}`);
  }
  // The full run takes 5 timed runs (the minimum); the smoke test takes 3 unless told.
  if (flags.runs === 0) flags.runs = flags.quick ? 3 : 5;
  if (!Number.isInteger(flags.runs) || flags.runs < 1) usage("--runs must be a positive integer");
  if (!Number.isInteger(flags.seed)) usage("--seed must be an integer");
  for (const name of flags.only ?? []) if (!GROUPS.some((g) => g.name === name)) usage(`unknown group ${name}`);
  return flags;
}

function commandVersion(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n")[0] ?? "";
  } catch {
    return "not installed";
  }
}

function machine(services: Record<string, string>): Record<string, string> {
  const cpus = os.cpus();
  const info: Record<string, string> = {
    cpu: `${cpus.length} x ${cpus[0]?.model ?? "unknown"}`,
    memory: `${Math.round(os.totalmem() / 1024 ** 3)} GiB`,
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    node: process.version,
    ripgrep: commandVersion("rg", ["--version"]),
  };
  for (const [name, line] of Object.entries(services)) info[name] = line;
  return info;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const started = performance.now();
  const selected = GROUPS.filter((g) => flags.only === null || flags.only.includes(g.name));
  const needed = [...new Set(selected.flatMap((g) => g.services))];
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

  const harnessLog = (line: string) => process.stderr.write(`[harness] ${line}\n`);
  const services: RunningServices[] = [];
  const env: Record<string, string> = {};
  const serviceInfo: Record<string, string> = {};
  const start = async (names: ServiceName[]) => {
    if (names.length === 0) return;
    log(`starting services: ${names.join(", ")}`);
    const running = await startServices(names, { log: harnessLog });
    services.push(running);
    Object.assign(env, running.env);
    // A service that came up after the bench stopped waiting is used after all.
    for (const name of names)
      if (running.env[`DEEPFS_${name.toUpperCase()}_UNAVAILABLE`] === undefined)
        delete env[`DEEPFS_${name.toUpperCase()}_UNAVAILABLE`];
    Object.assign(serviceInfo, running.info);
  };
  await start(needed.filter((name) => name !== "docker"));
  if (needed.includes("docker")) {
    // The harness waits for any other process using its Docker data root; a bench does not wait
    // forever: after the limit, the Docker group reports the engine as not available.
    const limitMs = flags.quick ? 45_000 : 120_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), limitMs);
    });
    const outcome = await Promise.race([start(["docker"]), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      env.DEEPFS_DOCKER_UNAVAILABLE = `the Docker engine was not ready within ${limitMs / 1000} s (the harness waits for another process using its data root)`;
    }
  }
  // Clients that read the environment themselves (dockerode's DOCKER_HOST) see the same services.
  Object.assign(process.env, env);
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), "deepfs-bench-"));
  const ctx: BenchContext = {
    quick: flags.quick,
    timing: { runs: flags.runs, warmup: 1 },
    seed: flags.seed,
    sizes: flags.quick ? QUICK_SIZES : FULL_SIZES,
    env,
    tmpDir,
    log,
  };

  const rows: Row[] = [];
  try {
    for (const entry of selected) {
      const groupStart = performance.now();
      log(`group ${entry.name}`);
      try {
        const group = await entry.load();
        for (const row of await group.run(ctx)) rows.push(row);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        log(`group ${entry.name} failed: ${reason}`);
        rows.push(unavailable(entry.name, "(whole group)", "—", "", `failed: ${reason.split("\n")[0]}`));
      }
      log(`group ${entry.name} took ${((performance.now() - groupStart) / 1000).toFixed(1)} s`);
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
    for (const running of services) await running.stop();
  }

  const info: RunInfo = {
    date: new Date().toISOString(),
    mode: flags.quick ? "quick" : "full",
    runs: flags.runs,
    warmup: ctx.timing.warmup,
    seed: flags.seed,
    only: flags.only,
    machine: machine(serviceInfo),
    durationSeconds: (performance.now() - started) / 1000,
  };
  // Only a full run of every group replaces the committed table.
  const published = !flags.quick && flags.only === null ? new URL("../RESULTS.md", import.meta.url) : undefined;
  const markdown = await writeReport(new URL("../results/", import.meta.url), info, rows, published);
  process.stdout.write(markdown);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
