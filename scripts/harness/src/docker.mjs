import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { dockerPing, dockerVersion, removeLabelledContainers } from "./docker-api.mjs";
import { ensureImages } from "./images.mjs";
import {
  acquireLock,
  cacheDir,
  isAlive,
  isRoot,
  lastLine,
  makeTempDir,
  manageLifecycle,
  removeDir,
  signal,
  sleep,
  sleepSync,
} from "./process-util.mjs";

const SYSTEM_SOCKET = "unix:///var/run/docker.sock";

/**
 * Uses DOCKER_HOST or the system socket when it answers, otherwise starts a private dockerd whose
 * data root is cached so the images built here survive between runs. Then makes sure the sandbox
 * images exist.
 */
export async function startDocker({ log }) {
  const engine = await connectOrStartEngine(log);
  try {
    const images = await ensureImages({ dockerHost: engine.host, log });
    const env = {
      DOCKER_HOST: engine.host,
      DEEPFS_DOCKER_IMAGE_BUSYBOX: images.busybox,
      DEEPFS_DOCKER_IMAGE_PYTHON: images.python,
    };
    return {
      env,
      info: `${engine.version} at ${engine.host}`,
      images: `${images.busybox}, ${images.python}`,
      stop: engine.stop,
    };
  } catch (error) {
    await engine.stop();
    throw error;
  }
}

async function connectOrStartEngine(log) {
  const candidates = [process.env.DOCKER_HOST, SYSTEM_SOCKET].filter(Boolean);
  for (const host of candidates) {
    if (await dockerPing(host)) {
      return { host, version: await dockerVersion(host), stop: () => removeLeakedContainers(host, log) };
    }
  }
  if (process.env.DOCKER_HOST) log(`DOCKER_HOST=${process.env.DOCKER_HOST} does not answer; starting dockerd instead`);
  if (!onPath("dockerd")) throw new Error("no Docker engine answers and dockerd is not on PATH");
  if (!isRoot()) throw new Error("no Docker engine answers and starting dockerd needs root");
  return startEngine(log);
}

async function startEngine(log) {
  const started = Date.now();
  const dataRoot = join(cacheDir(), "docker-data");
  mkdirSync(dataRoot, { recursive: true });
  // Two dockerds must never share a data root; a second standalone run waits for the first.
  const releaseLock = await acquireLock(`${dataRoot}.lock`, {
    onWait: (pid) => log(`docker: waiting for pid ${pid}, whose dockerd uses ${dataRoot}`),
  });
  const base = makeTempDir("dfs");
  const host = `unix://${join(base, "docker.sock")}`;
  try {
    let engine;
    for (const driver of ["overlay2", "vfs"]) {
      engine = await launch(base, dataRoot, driver, host);
      if (engine.ok) break;
      log(`docker: dockerd with ${driver} failed (${engine.reason})`);
    }
    if (!engine.ok) throw new Error(`dockerd did not start: ${engine.reason}`);
    const { pid, driver } = engine;
    const stop = manageLifecycle(
      () => {
        signal(pid, "SIGTERM");
        for (let i = 0; i < 100 && isAlive(pid); i++) sleepSync(100);
        signal(pid, "SIGKILL");
        removeDir(base);
        releaseLock();
      },
      async () => {
        await removeLeakedContainers(host, log);
        signal(pid, "SIGTERM");
        for (let i = 0; i < 150 && isAlive(pid); i++) await sleep(100);
        if (isAlive(pid)) log(`docker: dockerd ${pid} ignored SIGTERM for 15 s; killing it`);
        signal(pid, "SIGKILL");
        removeDir(base);
        releaseLock();
      },
    );
    const version = await dockerVersion(host).catch(async (error) => {
      await stop();
      throw error;
    });
    log(`docker: dockerd ${version} (${driver}) on ${host} ready in ${Date.now() - started} ms`);
    return { host, version, stop };
  } catch (error) {
    removeDir(base);
    releaseLock();
    throw error;
  }
}

/** Starts dockerd with one storage driver; a driver the kernel lacks makes dockerd exit at once. */
async function launch(base, dataRoot, driver, host) {
  const logFile = join(base, `dockerd-${driver}.log`);
  const out = openSync(logFile, "a");
  const child = spawn(
    "dockerd",
    [
      "--iptables=false",
      "--bridge=none",
      `--storage-driver=${driver}`,
      `--data-root=${dataRoot}`,
      `--exec-root=${join(base, "x")}`,
      `--pidfile=${join(base, "dockerd.pid")}`,
      "-H",
      host,
    ],
    { stdio: ["ignore", out, out] },
  );
  closeSync(out);
  child.once("error", () => {});
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.pid === undefined) {
      return { ok: false, reason: lastLine(readFileSync(logFile, "utf8")) || `exited ${child.exitCode}` };
    }
    if (await dockerPing(host)) return { ok: true, pid: child.pid, driver };
    await sleep(100);
  }
  signal(child.pid, "SIGKILL");
  return { ok: false, reason: "no answer on _ping within 60 s" };
}

/** Tests remove their own containers; what is left is a leak worth a warning. */
async function removeLeakedContainers(host, log) {
  const leaked = await removeLabelledContainers(host).catch(() => 0);
  if (leaked > 0) log(`docker: WARNING removed ${leaked} leaked container(s) labelled deepfs.test=1`);
}

function onPath(command) {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}
