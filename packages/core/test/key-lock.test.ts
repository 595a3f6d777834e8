import { describe, expect, it } from "vitest";
import { KeyedLock } from "../src/key-lock.js";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A task that records when it starts and ends, and ends only when released. */
function gate(log: string[], name: string) {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const task = async () => {
    log.push(`start ${name}`);
    await opened;
    log.push(`end ${name}`);
    return name;
  };
  return { task, open };
}

describe("KeyedLock", () => {
  it("runs tasks on one key one at a time, in call order", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const a = gate(log, "a");
    const b = gate(log, "b");
    const pa = lock.run("/f", a.task);
    const pb = lock.run("/f", b.task);
    await tick();
    expect(log).toEqual(["start a"]);
    a.open();
    b.open();
    expect(await Promise.all([pa, pb])).toEqual(["a", "b"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b"]);
  });

  it("runs tasks on different keys concurrently", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const a = gate(log, "a");
    const b = gate(log, "b");
    const pa = lock.run("/f", a.task);
    const pb = lock.run("/g", b.task);
    await tick();
    expect(log).toEqual(["start a", "start b"]);
    a.open();
    b.open();
    await Promise.all([pa, pb]);
  });

  it("a prefix scope waits for, and holds off, every key below it", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const edit = gate(log, "edit");
    const del = gate(log, "delete");
    const later = gate(log, "later");
    const outside = gate(log, "outside");
    const p1 = lock.run("/d/f.txt", edit.task);
    const p2 = lock.runScoped({ keys: ["/d"], prefixes: ["/d/"] }, del.task);
    const p3 = lock.run("/d/sub/g.txt", later.task);
    const p4 = lock.run("/dx", outside.task);
    await tick();
    expect(log).toEqual(["start edit", "start outside"]);
    edit.open();
    await tick();
    expect(log.slice(2)).toEqual(["end edit", "start delete"]);
    del.open();
    later.open();
    outside.open();
    await Promise.all([p1, p2, p3, p4]);
    expect(log.indexOf("start later")).toBeGreaterThan(log.indexOf("end delete"));
  });

  it("takes many keys at once without deadlock, and releases a key after a failure", async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const jobs = [
      lock.runScoped({ keys: ["/a", "/b"] }, async () => order.push("ab")),
      lock.runScoped({ keys: ["/b", "/a"] }, async () => order.push("ba")),
      lock.run("/a", async () => {
        throw new Error("boom");
      }),
      lock.run("/a", async () => order.push("a")),
    ];
    const settled = await Promise.allSettled(jobs);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect(order).toEqual(["ab", "ba", "a"]);
  });
});

describe("KeyedLock.acquire", () => {
  it("is idle with no holder, waits for an overlapping holder, and unlinks on release", async () => {
    const lock = new KeyedLock();
    expect(lock.idle).toBe(true);
    const a = lock.acquire(["/f"]);
    const other = lock.acquire(["/g"]);
    expect(a.ready).toBeNull();
    expect(other.ready).toBeNull();
    const b = lock.acquire(["/f"]);
    const below = lock.acquire([], ["/"]);
    expect(b.ready).not.toBeNull();
    expect(below.ready).not.toBeNull();
    let bReady = false;
    void b.ready?.then(() => {
      bReady = true;
    });
    other.release();
    await tick();
    expect(bReady).toBe(false);
    a.release();
    await tick();
    expect(bReady).toBe(true);
    b.release();
    expect(lock.idle).toBe(false);
    below.release();
    expect(lock.idle).toBe(true);
  });

  it("compares many-key holders through a set", () => {
    const lock = new KeyedLock();
    const many = Array.from({ length: 50 }, (_, i) => `/f${i}`);
    const a = lock.acquire(many);
    expect(lock.acquire(["/f49"]).ready).not.toBeNull();
    expect(lock.acquire(["/g"]).ready).toBeNull();
    a.release();
  });
});
