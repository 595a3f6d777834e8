import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import {
  cacheDir,
  freePort,
  isAlive,
  isRoot,
  makeTempDir,
  manageLifecycle,
  removeDir,
  run,
  shellQuote,
  signal,
  sleep,
  sleepSync,
} from "./process-util.mjs";

const PG_ROOT = "/usr/lib/postgresql";

/** Uses DEEPFS_PG_URL when it answers, otherwise a throwaway server on a free loopback port. */
export async function startPostgres({ log }) {
  const external = process.env.DEEPFS_PG_URL;
  if (external) {
    try {
      const version = await serverVersion(external, "psql");
      return { env: { DEEPFS_PG_URL: external }, info: `${version} at ${hostPort(external)}`, stop: async () => {} };
    } catch (error) {
      log(`DEEPFS_PG_URL does not answer (${error.message}); starting a throwaway server instead`);
    }
  }
  const bin = newestServerBin();
  if (!bin) throw new Error(`DEEPFS_PG_URL is not set and no PostgreSQL server under ${PG_ROOT}/*/bin`);
  return startThrowawayServer(bin, log);
}

function newestServerBin() {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join(PG_ROOT, name, "bin", "postgres")))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] && join(PG_ROOT, versions[0], "bin");
}

async function startThrowawayServer(bin, log) {
  const started = Date.now();
  const owner = await serverOwner();
  const template = await ensureTemplate(bin, owner, log);
  const base = makeTempDir("deepfs-pg", { inMemory: true });
  const dataDir = join(base, "data");
  const socketDir = join(base, "sock");
  try {
    await run("cp", ["-a", template, dataDir]);
    mkdirSync(socketDir);
    if (owner) {
      chownSync(base, owner.uid, owner.gid);
      chownSync(socketDir, owner.uid, owner.gid);
    }
    const port = await startCluster(bin, owner, dataDir, socketDir, join(base, "server.log"));
    const pid = Number.parseInt(readFileSync(join(dataDir, "postmaster.pid"), "utf8"), 10);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const stop = manageLifecycle(
      () => {
        // SIGQUIT is PostgreSQL's immediate shutdown.
        signal(pid, "SIGQUIT");
        for (let i = 0; i < 30 && isAlive(pid); i++) sleepSync(100);
        signal(pid, "SIGKILL");
        removeDir(base);
      },
      async () => {
        const pgCtl = `${shellQuote(join(bin, "pg_ctl"))} -D ${shellQuote(dataDir)} -m immediate -w stop`;
        await asOwner(owner, pgCtl).catch((error) => log(`postgres: pg_ctl stop failed (${error.message})`));
        for (let i = 0; i < 30 && isAlive(pid); i++) await sleep(100);
        signal(pid, "SIGKILL");
        removeDir(base);
      },
    );
    const version = await serverVersion(url, join(bin, "psql")).catch(async (error) => {
      await stop();
      throw error;
    });
    log(`postgres: ${version} on 127.0.0.1:${port} ready in ${Date.now() - started} ms`);
    return { env: { DEEPFS_PG_URL: url }, info: `${version} at 127.0.0.1:${port}`, stop };
  } catch (error) {
    removeDir(base);
    throw error;
  }
}

/** Retries on a fresh port because another process may take the free port before the server binds it. */
async function startCluster(bin, owner, dataDir, socketDir, logFile) {
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const options = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    try {
      await asOwner(
        owner,
        `${shellQuote(join(bin, "pg_ctl"))} -D ${shellQuote(dataDir)} -l ${shellQuote(logFile)} -w -t 30 -o ${shellQuote(options)} start`,
      );
      return port;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`pg_ctl start failed: ${lastError.message}; server log: ${readTail(logFile)}`);
}

/**
 * initdb takes about 1 s; copying an initialized cluster takes 0.2 s, so one cluster per server
 * version is kept in the cache and copied for every run.
 */
async function ensureTemplate(bin, owner, log) {
  const major = bin.split("/").at(-2);
  const template = join(cacheDir(), `pg-template-${major}`);
  if (existsSync(template)) return template;
  const started = Date.now();
  // initdb runs as the postgres user, who cannot enter root's cache dir: build in /tmp, then copy.
  const scratch = makeTempDir("deepfs-pginit", { inMemory: true });
  try {
    if (owner) chownSync(scratch, owner.uid, owner.gid);
    const dataDir = join(scratch, "data");
    await asOwner(
      owner,
      `${shellQuote(join(bin, "initdb"))} -D ${shellQuote(dataDir)} -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8`,
    );
    const staging = `${template}.tmp-${process.pid}`;
    await run("cp", ["-a", dataDir, staging]);
    try {
      renameSync(staging, template);
    } catch (error) {
      // A concurrent run finished its own template first; either copy is fine.
      removeDir(staging);
      if (!existsSync(template)) throw error;
    }
  } finally {
    removeDir(scratch);
  }
  log(`postgres: initialized template cluster ${template} in ${Date.now() - started} ms`);
  return template;
}

/** PostgreSQL refuses to run as root, so as root the server runs as the `postgres` OS user. */
async function serverOwner() {
  if (!isRoot()) return undefined;
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run("id", ["-u", "postgres"]),
    run("id", ["-g", "postgres"]),
  ]).catch(() => {
    throw new Error("running as root but there is no `postgres` OS user to run the server as");
  });
  return { uid: Number(uid), gid: Number(gid) };
}

function asOwner(owner, command) {
  return owner ? run("su", ["postgres", "-s", "/bin/sh", "-c", command]) : run("/bin/sh", ["-c", command]);
}

async function serverVersion(url, psql) {
  const { stdout } = await run(psql, ["-X", "-w", "-tA", "-c", "SELECT version()", url], {
    env: { ...process.env, PGCONNECT_TIMEOUT: "5" },
  });
  return stdout
    .trim()
    .split(" on ")[0]
    .replace(/^PostgreSQL /, "");
}

function hostPort(url) {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || 5432}`;
}

function readTail(file) {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-3).join(" / ");
  } catch {
    return "(none)";
  }
}
