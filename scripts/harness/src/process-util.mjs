import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

/** Persistent per-machine cache: the PostgreSQL template cluster and the Docker data root live here. */
export function cacheDir() {
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "deepfs");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A fresh temp dir. Under /tmp rather than $TMPDIR on Linux because unix socket paths live in it and
 * must stay under the 108-byte limit. `inMemory` picks /dev/shm when there is one: a throwaway
 * database needs no disk, and copying its 40 MB template there takes 0.1 s instead of 1.2 s.
 */
export function makeTempDir(prefix, { inMemory = false } = {}) {
  const base = inMemory && existsSync("/dev/shm") ? "/dev/shm" : process.platform === "linux" ? "/tmp" : tmpdir();
  return mkdtempSync(join(base, `${prefix}-`));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

export function isRoot() {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** A loopback port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Blocking sleep, for the synchronous cleanup that runs on process 'exit'. */
export function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A zombie counts as gone: a daemonized server (postgres) is reparented to PID 1, which in a
 * container may never reap it.
 */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === "EPERM";
  }
  try {
    // The state follows the parenthesized command name, which may itself contain spaces.
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

export function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone: that is the state we want.
  }
}

/** Runs a command to completion; rejects with its stderr tail when it exits non-zero. */
export function run(command, args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${lastLine(stderr || stdout)}`));
    });
  });
}

export function lastLine(text) {
  const lines = String(text).trim().split("\n");
  return lines.slice(-3).join(" / ");
}

export function shellQuote(value) {
  return `'${String(value).replaceAll("'", "'\\''")}'`;
}

/** Holds `path` exclusively; waits while a live process holds it and takes over a dead holder's lock. */
export async function acquireLock(path, { timeoutMs = 15 * 60_000, onWait } = {}) {
  const deadline = Date.now() + timeoutMs;
  let warned = false;
  for (;;) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      // Only ever removes our own lock, however often it is called.
      return () => {
        if (readFileSafe(path) === String(process.pid)) rmSync(path, { force: true });
      };
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
    }
    const holder = Number.parseInt(readFileSafe(path), 10);
    if (!Number.isInteger(holder) || !isAlive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`lock ${path} still held by pid ${holder}`);
    if (!warned) onWait?.(holder);
    warned = true;
    await sleep(500);
  }
}

function readFileSafe(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Synchronous cleanups of everything still running, so an interrupted or crashing run leaves no
 * server behind. A normal run replaces them with the async stop.
 */
const pendingCleanups = new Set();
let handlersInstalled = false;

/**
 * Ties a started process to both ways of ending it: `cleanupSync` on process exit or SIGINT/SIGTERM,
 * and the returned idempotent `stop()` in a normal run. Whichever runs first wins.
 */
export function manageLifecycle(cleanupSync, stopAsync) {
  installHandlers();
  let done = false;
  let stopping;
  const onExit = () => {
    if (done) return;
    done = true;
    cleanupSync();
  };
  pendingCleanups.add(onExit);
  return function stop() {
    if (done) return Promise.resolve();
    stopping ??= stopAsync().finally(() => {
      done = true;
      pendingCleanups.delete(onExit);
    });
    return stopping;
  };
}

function runCleanupsSync() {
  for (const cleanup of [...pendingCleanups].reverse()) {
    pendingCleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Best effort on the way out: one failing cleanup must not keep the others from running.
    }
  }
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", runCleanupsSync);
  for (const name of ["SIGINT", "SIGTERM"]) {
    const onSignal = () => {
      runCleanupsSync();
      process.off(name, onSignal);
      // Re-raise only when nobody else (vitest, scripts/test.mjs) handles the signal, to keep the default exit.
      if (process.listenerCount(name) === 0) process.kill(process.pid, name);
    };
    process.on(name, onSignal);
  }
}
