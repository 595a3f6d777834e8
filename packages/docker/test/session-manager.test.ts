import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { DeepfsError } from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import {
  cleanupOrphans,
  MANAGED_LABEL,
  OWNER_HOST_LABEL,
  OWNER_PID_LABEL,
  SANDBOX_LABEL,
  SESSION_LABEL,
  SessionManager,
  type SessionManagerOptions,
} from "../src/index.js";
import { BUSYBOX_IMAGE, containersLabelled, fileTag, skipReason, testDocker, testLabels } from "./helpers.js";

const tag = fileTag("sessions");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(probe: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) {
    if (await probe()) return true;
  }
  return probe();
}

function manager(options: SessionManagerOptions = {}): SessionManager {
  return new SessionManager({
    docker: testDocker(),
    sandbox: { image: BUSYBOX_IMAGE, labels: testLabels(tag) },
    ...options,
  });
}

/** Session ids of this file's running containers. */
async function liveSessions(): Promise<string[]> {
  const containers = await containersLabelled("deepfs.test-file", tag);
  return containers.map((c) => c.Labels[SESSION_LABEL] ?? "").sort();
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe.skipIf(Boolean(skipReason))("SessionManager", () => {
  afterAll(async () => {
    // Whatever a failed test left behind.
    await Promise.all(
      (await containersLabelled("deepfs.test-file", tag)).map((c) =>
        testDocker().getContainer(c.Id).remove({ force: true }),
      ),
    );
  });

  it("gives one sandbox per session id, reused while active, each in its own container", async () => {
    await using sessions = manager();
    const [a1, a2, b] = await Promise.all([sessions.get("alice"), sessions.get("alice"), sessions.get("bob")]);
    expect(a1).toBe(a2);
    expect(b).not.toBe(a1);
    expect(await sessions.get("alice")).toBe(a1);
    await a1.write("/workspace/who.txt", "alice");
    expect((await b.execute("cat /workspace/who.txt 2>&1; echo $?")).output).toContain("1\n");
    expect(await liveSessions()).toEqual(["alice", "bob"]);
    const [info] = await containersLabelled(SANDBOX_LABEL, a1.id);
    expect(info?.Labels).toMatchObject({
      [MANAGED_LABEL]: "1",
      [SESSION_LABEL]: "alice",
      [OWNER_PID_LABEL]: String(process.pid),
      [OWNER_HOST_LABEL]: hostname(),
    });
    expect(sessions.sessionIds().sort()).toEqual(["alice", "bob"]);
  });

  it("removes a session after idleTimeoutMs without calls, but not while a call runs", async () => {
    await using sessions = manager({ idleTimeoutMs: 300 });
    const busy = await sessions.get("busy");
    // Busy from the start: its call outlasts the idle timeout several times over.
    const running = busy.execute("sleep 1.5; echo finished");
    const idle = await sessions.get("idle");
    expect(await eventually(async () => !sessions.has("idle"))).toBe(true);
    expect(sessions.has("busy")).toBe(true);
    expect(await running).toMatchObject({ output: "finished\n", exitCode: 0 });
    expect(await eventually(async () => !sessions.has("busy"))).toBe(true);
    expect(await eventually(async () => (await liveSessions()).length === 0)).toBe(true);
    // A sandbox kept after its session ended refuses work instead of starting an unmanaged container.
    const late = await idle.execute("true");
    expect(late).toMatchObject({ exitCode: null, code: "backend_unavailable" });
    expect(late.output).toContain("SessionManager.get()");
    expect(await liveSessions()).toEqual([]);
    const fresh = await sessions.get("idle");
    expect(fresh).not.toBe(idle);
    expect((await fresh.execute("echo again")).output).toBe("again\n");
  });

  it("at maxSessions evicts the least recently used idle session, and rejects when all are busy", async () => {
    await using sessions = manager({ maxSessions: 2 });
    const one = await sessions.get("one");
    await sessions.get("two");
    await one.execute("true"); // "two" is now the least recently used
    await sessions.get("three");
    expect(sessions.sessionIds().sort()).toEqual(["one", "three"]);
    expect(await liveSessions()).toEqual(["one", "three"]);

    const three = await sessions.get("three");
    const calls = [one.execute("sleep 1"), three.execute("sleep 1")];
    await sleep(200);
    const error = await sessions.get("four").catch((e: unknown) => e);
    expect(DeepfsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "backend_unavailable" });
    expect((error as Error).message).toMatch(/All 2 sessions are busy/);
    await Promise.all(calls);
    expect(sessions.has("four")).toBe(false);
    expect(await liveSessions()).toEqual(["one", "three"]);
  });

  it("shutdown() removes every container and refuses new sessions", async () => {
    const sessions = manager();
    await Promise.all(["s1", "s2", "s3"].map((id) => sessions.get(id)));
    expect(await liveSessions()).toEqual(["s1", "s2", "s3"]);
    await sessions.shutdown();
    expect(await liveSessions()).toEqual([]);
    expect(sessions.size).toBe(0);
    await expect(sessions.get("s4")).rejects.toMatchObject({ code: "backend_unavailable" });
    await sessions.shutdown();
  });

  it("removes its containers synchronously in process.on('exit'), where nothing can be awaited", async () => {
    const before = new Set(process.listeners("exit"));
    const sessions = manager();
    await Promise.all([sessions.get("exit-1"), sessions.get("exit-2")]);
    const added = process.listeners("exit").filter((listener) => !before.has(listener));
    expect(added).toHaveLength(1);
    // What Node runs at exit: synchronous, so the containers are gone when it returns.
    (added[0] as () => void)();
    expect(await liveSessions()).toEqual([]);
    await sessions.shutdown();
    expect(process.listeners("exit").filter((listener) => !before.has(listener))).toEqual([]);
  });

  it("cleanupOrphans() removes managed containers whose owner process is gone, and only those", async () => {
    const docker = testDocker();
    const dead = deadPid();
    const make = (name: string, owner: Record<string, string>) =>
      docker.createContainer({
        name: `${tag}-${name}`,
        Image: BUSYBOX_IMAGE,
        Cmd: ["sleep", "600"],
        Labels: { ...testLabels(tag), [MANAGED_LABEL]: "1", [SESSION_LABEL]: name, ...owner },
        HostConfig: { NetworkMode: "none" },
      });
    const orphan = await make("orphan", { [OWNER_PID_LABEL]: String(dead), [OWNER_HOST_LABEL]: hostname() });
    await orphan.start();
    await make("stopped-orphan", { [OWNER_PID_LABEL]: String(dead), [OWNER_HOST_LABEL]: hostname() });
    await make("alive-owner", { [OWNER_PID_LABEL]: String(process.pid), [OWNER_HOST_LABEL]: hostname() });
    await make("other-host", { [OWNER_PID_LABEL]: String(dead), [OWNER_HOST_LABEL]: `not-${hostname()}` });
    await make("no-owner", {});

    await using sessions = manager();
    await sessions.get("managed-live");
    const removed = await sessions.cleanupOrphans();
    expect(removed.filter((r) => r.name.startsWith(tag))).toEqual([
      { id: expect.any(String), name: `${tag}-orphan`, ownerPid: dead },
      { id: expect.any(String), name: `${tag}-stopped-orphan`, ownerPid: dead },
    ]);
    expect(await liveSessions()).toEqual(["alive-owner", "managed-live", "no-owner", "other-host"]);
    expect((await cleanupOrphans(docker)).filter((r) => r.name.startsWith(tag))).toEqual([]);
  });

  it("rejects bad options and session ids", async () => {
    expect(() => new SessionManager({ maxSessions: 0 })).toThrow(/maxSessions/);
    expect(() => new SessionManager({ idleTimeoutMs: -5 })).toThrow(/idleTimeoutMs/);
    await expect(manager().get("")).rejects.toMatchObject({ code: "invalid_argument" });
  });
});
