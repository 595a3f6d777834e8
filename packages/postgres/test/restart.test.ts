import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";

// A server restart cannot be had on the harness's shared server without disturbing the other test
// files, so this file runs its own throwaway PostgreSQL and restarts that one.

const run = promisify(execFile);
const PG_ROOT = "/usr/lib/postgresql";

/** The bin dir of the newest PostgreSQL server installed, or undefined. */
function newestServerBin(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join(PG_ROOT, name, "bin", "postgres")))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] === undefined ? undefined : join(PG_ROOT, versions[0], "bin");
}

const bin = newestServerBin();
const skipReason =
  bin === undefined && process.env.DEEPFS_REQUIRE_SERVICES !== "1"
    ? `no PostgreSQL server under ${PG_ROOT}/*/bin to restart`
    : undefined;
if (skipReason) console.warn(`SKIP restart.test.ts: ${skipReason}`);

const isRoot = process.getuid?.() === 0;
const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** PostgreSQL refuses to run as root, so as root the server commands run as the `postgres` OS user. */
async function asServerUser(command: string): Promise<void> {
  if (isRoot) await run("su", ["postgres", "-s", "/bin/sh", "-c", command]);
  else await run("/bin/sh", ["-c", command]);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(address)));
    });
  });
}

/** A throwaway cluster in a temp dir: initdb, start, restart, stop. */
class ThrowawayServer {
  readonly base = mkdtempSync(join(tmpdir(), "deepfs-pg-restart-"));
  readonly dataDir = join(this.base, "data");
  readonly logFile = join(this.base, "server.log");
  port = 0;

  constructor(readonly binDir: string) {}

  private pgCtl(args: string): Promise<void> {
    return asServerUser(`${quote(join(this.binDir, "pg_ctl"))} -D ${quote(this.dataDir)} ${args}`);
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** The postmaster's process id, which changes on every restart. */
  get pid(): number {
    return Number.parseInt(readFileSync(join(this.dataDir, "postmaster.pid"), "utf8"), 10);
  }

  async start(): Promise<void> {
    if (isRoot) {
      const { stdout: uid } = await run("id", ["-u", "postgres"]);
      const { stdout: gid } = await run("id", ["-g", "postgres"]);
      chownSync(this.base, Number(uid), Number(gid));
    }
    await asServerUser(
      `${quote(join(this.binDir, "initdb"))} -D ${quote(this.dataDir)} -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null`,
    );
    // Another process may take the free port before the server binds it: try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = await freePort();
      const options = `-p ${this.port} -k ${this.base} -c listen_addresses=127.0.0.1 -c fsync=off`;
      try {
        await this.pgCtl(`-l ${quote(this.logFile)} -w -t 30 -o ${quote(options)} start`);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /** A fast restart on the same port: sessions are terminated, then the server comes back. */
  restart(): Promise<void> {
    return this.pgCtl(`-l ${quote(this.logFile)} -m fast -w -t 30 restart`);
  }

  async remove(): Promise<void> {
    if (existsSync(join(this.dataDir, "postmaster.pid"))) {
      await this.pgCtl("-m immediate -w -t 30 stop").catch(() => {});
    }
    rmSync(this.base, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` every 20 ms until it holds or `ms` pass (the test's assertions then say what is missing). */
async function waitFor(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(20);
}

/** A text of many lines, so that a half-written value could not pass for a whole one. */
function document(tag: string): string {
  return Array.from({ length: 120 }, (_, line) => `${tag} line ${line} ${"x".repeat(200)}`).join("\n");
}

describe.skipIf(skipReason)("server restart in the middle of calls", () => {
  let server: ThrowawayServer | undefined;
  let backend: PostgresBackend | undefined;

  beforeAll(async () => {
    if (bin === undefined) throw new Error(`DEEPFS_REQUIRE_SERVICES=1 but no PostgreSQL server under ${PG_ROOT}`);
    server = new ThrowawayServer(bin);
    await server.start();
    backend = new PostgresBackend({
      url: server.url,
      maxPoolSize: 6,
      connectTimeout: 2_000,
      retry: { attempts: 5, baseDelayMs: 50 },
    });
    await backend.initialize();
  });

  afterAll(async () => {
    await backend?.close();
    await server?.remove();
  });

  it("reads are correct or backend_unavailable, writes whole or backend_unavailable, and the pool recovers", {
    timeout: 90_000,
  }, async () => {
    if (!server || !backend) throw new Error("setup failed");
    const fs = backend;
    const readers = 4;
    const writers = 6;
    const fixtures = Array.from({ length: readers }, (_, i) => ({ path: `/r/${i}.txt`, text: document(`r${i}`) }));
    for (const { path, text } of fixtures) expect((await fs.write(path, text)).error).toBeUndefined();

    let stop = false;
    let unavailable = 0;
    let acknowledged = 0;
    const problems: string[] = [];

    const reader = async (index: number) => {
      const fixture = fixtures[index] as { path: string; text: string };
      while (!stop) {
        const result = await fs.read(fixture.path);
        if (result.code === "backend_unavailable") unavailable++;
        else if (result.error !== undefined || result.content !== fixture.text)
          problems.push(`read ${fixture.path}: ${result.code ?? "wrong content"}`);
      }
    };

    /**
     * Alternates whole writes and edits of its own file. `known` is what the file must hold; after a
     * backend_unavailable the change may have committed (COMMIT outcome unknown) or not, but whole.
     */
    const writer = async (index: number) => {
      const path = `/w/${index}.txt`;
      let known = document(`w${index}-0`);
      while ((await fs.write(path, known)).error !== undefined) await sleep(50);
      for (let step = 1; !stop; step++) {
        // An edit needs a fresh text to change: after a failed write the file may still hold the edited one.
        const editing = known.includes(`w${index}-`);
        const next = editing ? known.replaceAll(`w${index}-`, `w${index}+`) : document(`w${index}-${step}`);
        const result = editing ? await fs.edit(path, `w${index}-`, `w${index}+`, true) : await fs.write(path, next);
        if (result.error === undefined) {
          if ("occurrences" in result && result.occurrences !== 120) problems.push(`edit of ${path}: occurrences`);
          acknowledged++;
          known = next;
          continue;
        }
        if (result.code !== "backend_unavailable") {
          problems.push(`change of ${path}: ${result.code}`);
          return;
        }
        unavailable++;
        // Learn what was kept once the server answers again: the old or the new text, nothing else.
        for (;;) {
          const read = await fs.read(path);
          if (read.code === "backend_unavailable") {
            await sleep(50);
            continue;
          }
          if (read.content !== known && read.content !== next) problems.push(`${path} holds a text never written`);
          else known = read.content === next ? next : known;
          break;
        }
        if (problems.length > 0) return;
      }
      const final = await fs.read(path);
      if (final.content !== known) problems.push(`${path} lost an acknowledged change (${final.code ?? "content"})`);
    };

    const work = [
      ...Array.from({ length: readers }, (_, i) => reader(i)),
      ...Array.from({ length: writers }, (_, i) => writer(i)),
    ];
    // Fixed sleeps are not enough on a loaded machine: wait for acknowledged changes on each side of
    // the restart (bounded), so the calls really run across it.
    await waitFor(() => acknowledged >= 5, 30_000);
    const before = { pid: server.pid, acknowledged };
    await server.restart();
    const restartedPid = server.pid;
    await waitFor(() => acknowledged >= before.acknowledged + 5, 30_000);
    stop = true;
    await Promise.all(work);

    expect(problems).toEqual([]);
    expect(restartedPid).not.toBe(before.pid);
    // The calls really ran across the restart.
    expect(before.acknowledged).toBeGreaterThan(0);
    expect(acknowledged).toBeGreaterThan(before.acknowledged);
    console.info(`restart: ${acknowledged} changes acknowledged, ${unavailable} calls returned backend_unavailable`);

    // The same instance works without being recreated, also after a restart while it was idle.
    await server.restart();
    for (const { path, text } of fixtures) expect((await fs.read(path)).content).toBe(text);
    expect((await fs.write("/after.txt", "after")).error).toBeUndefined();
    expect((await fs.edit("/after.txt", "after", "after edit")).occurrences).toBe(1);
    expect((await fs.read("/after.txt")).content).toBe("after edit");
    expect((await fs.ls("/r")).files?.map((entry) => entry.path)).toEqual(fixtures.map(({ path }) => path));
  });
});
