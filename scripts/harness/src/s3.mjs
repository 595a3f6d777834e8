import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  isAlive,
  lastLine,
  makeTempDir,
  manageLifecycle,
  removeDir,
  run,
  signal,
  sleep,
  sleepSync,
} from "./process-util.mjs";

const DEFAULT_BUCKET = "deepfs-test";
const DEFAULT_REGION = "us-east-1";

/** Uses DEEPFS_S3_ENDPOINT when it answers, otherwise a moto_server on a free loopback port. */
export async function startS3({ log }) {
  const external = process.env.DEEPFS_S3_ENDPOINT;
  if (external) {
    if (await answersHttp(external)) {
      const env = {
        DEEPFS_S3_ENDPOINT: external,
        DEEPFS_S3_BUCKET: process.env.DEEPFS_S3_BUCKET || DEFAULT_BUCKET,
        DEEPFS_S3_ACCESS_KEY_ID: process.env.DEEPFS_S3_ACCESS_KEY_ID ?? "",
        DEEPFS_S3_SECRET_ACCESS_KEY: process.env.DEEPFS_S3_SECRET_ACCESS_KEY ?? "",
        DEEPFS_S3_REGION: process.env.DEEPFS_S3_REGION || DEFAULT_REGION,
      };
      return { env, info: `S3 API at ${external}`, stop: async () => {} };
    }
    log(`DEEPFS_S3_ENDPOINT=${external} does not answer; starting moto_server instead`);
  }
  return startMoto(log);
}

const MOTO_SERVER = fileURLToPath(new URL("./moto-server.py", import.meta.url));

async function startMoto(log) {
  const started = Date.now();
  const base = makeTempDir("deepfs-s3");
  const logFile = join(base, "moto.log");
  const versionPromise = motoVersion();
  try {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    // moto logs every request; a file instead of a pipe so nobody has to drain it.
    const out = openSync(logFile, "a");
    // moto's own server, with requests serialised so that conditional writes are atomic as on S3.
    const child = spawn("python3", [MOTO_SERVER, "127.0.0.1", String(port)], { stdio: ["ignore", out, out] });
    closeSync(out);
    // A spawn failure shows as a missing pid, which waitForHttp reports.
    child.once("error", () => {});
    const stop = manageLifecycle(
      () => {
        signal(child.pid, "SIGTERM");
        for (let i = 0; i < 20 && isAlive(child.pid); i++) sleepSync(100);
        signal(child.pid, "SIGKILL");
        removeDir(base);
      },
      async () => {
        signal(child.pid, "SIGTERM");
        for (let i = 0; i < 20 && isAlive(child.pid); i++) await sleep(100);
        signal(child.pid, "SIGKILL");
        removeDir(base);
      },
    );
    try {
      await waitForHttp(endpoint, child, logFile);
      await createBucket(endpoint, DEFAULT_BUCKET);
    } catch (error) {
      await stop();
      throw error;
    }
    const version = await versionPromise;
    log(`s3: moto ${version} on ${endpoint} ready in ${Date.now() - started} ms`);
    const env = {
      DEEPFS_S3_ENDPOINT: endpoint,
      DEEPFS_S3_BUCKET: DEFAULT_BUCKET,
      DEEPFS_S3_ACCESS_KEY_ID: "test",
      DEEPFS_S3_SECRET_ACCESS_KEY: "test",
      DEEPFS_S3_REGION: DEFAULT_REGION,
    };
    return { env, info: `moto ${version} at ${endpoint}`, stop };
  } catch (error) {
    removeDir(base);
    throw error;
  }
}

async function waitForHttp(endpoint, child, logFile) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.pid === undefined) throw new Error("DEEPFS_S3_ENDPOINT is not set and python3 with moto is not on PATH");
    if (child.exitCode !== null) throw new Error(`moto_server exited ${child.exitCode}: ${lastLine(readLog(logFile))}`);
    if (await answersHttp(endpoint)) return;
    await sleep(100);
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 30 s`);
}

async function answersHttp(endpoint) {
  try {
    const res = await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** moto accepts unsigned requests, so a plain PUT creates the bucket; the HEAD proves it exists. */
async function createBucket(endpoint, bucket) {
  const put = await fetch(`${endpoint}/${bucket}`, { method: "PUT" });
  await put.body?.cancel();
  const head = await fetch(`${endpoint}/${bucket}`, { method: "HEAD" });
  if (head.status !== 200) throw new Error(`creating bucket ${bucket} answered ${put.status}, HEAD ${head.status}`);
}

/** moto_server has no --version flag; ask the Python package it belongs to. */
async function motoVersion() {
  try {
    const { stdout } = await run("python3", ["-c", "import moto; print(moto.__version__)"]);
    return stdout.trim();
  } catch {
    return "unknown version";
  }
}

function readLog(file) {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
