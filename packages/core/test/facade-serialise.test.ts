import { describe, expect, it } from "vitest";
import { type Driver, DriverBackend, type Fault, fault, type WriteCall } from "../src/kit/index.js";
import { MemoryDriver } from "../src/memory-backend.js";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A memory store whose writes finish only when the test lets them (and whose answers can be made to fail). */
class GatedDriver implements Driver {
  readonly capabilities = { conditionalWrites: true, realDirectories: false, readOnly: false };
  private readonly memory = new MemoryDriver();
  readonly log: string[] = [];
  private gates: Array<() => void> = [];
  throwNext = false;
  conflictsLeft = 0;

  stat(path: string) {
    return this.memory.stat(path);
  }

  read(path: string) {
    return this.memory.read(path);
  }

  list(dir: string) {
    return this.memory.list(dir);
  }

  walk(dir: string) {
    return this.memory.walk(dir);
  }

  remove(path: string) {
    return this.memory.remove(path);
  }

  write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    if (this.throwNext) {
      this.throwNext = false;
      throw new Error("driver bug");
    }
    this.log.push(`start ${path}`);
    return new Promise((resolve) => {
      this.gates.push(() => {
        this.log.push(`end ${path}`);
        if (this.conflictsLeft > 0) {
          this.conflictsLeft--;
          resolve(fault("conflict", { reason: "changed" }));
        } else resolve(this.memory.write(path, content, call));
      });
    });
  }

  /** Lets the oldest pending write finish. */
  finishOne(): void {
    this.gates.shift()?.();
  }

  get pending(): number {
    return this.gates.length;
  }
}

describe("DriverBackend serialises mutations of one path", () => {
  it("starts a second write of a path only after the first finished; other paths go at once", async () => {
    const driver = new GatedDriver();
    const backend = new DriverBackend(driver);
    const first = backend.write("/a.txt", "one");
    const second = backend.write("/a.txt", "two");
    const other = backend.write("/b.txt", "three");
    await tick();
    expect(driver.log).toEqual(["start /a.txt", "start /b.txt"]);
    driver.finishOne();
    await tick();
    expect(driver.log).toEqual(["start /a.txt", "start /b.txt", "end /a.txt", "start /a.txt"]);
    driver.finishOne();
    driver.finishOne();
    expect((await first).error).toBeUndefined();
    expect((await second).error).toBeUndefined();
    expect((await other).error).toBeUndefined();
    expect((await backend.read("/a.txt")).content).toBe("two");
  });

  it("answers a driver's throw as an error and lets the next mutation of the path go", async () => {
    const driver = new GatedDriver();
    const backend = new DriverBackend(driver);
    driver.throwNext = true;
    const failed = await backend.write("/a.txt", "one");
    expect(failed.code).toBe("backend_unavailable");
    const next = backend.write("/a.txt", "two");
    await tick();
    driver.finishOne();
    expect((await next).error).toBeUndefined();
  });

  it("holds a recursive delete's whole directory against a write below it", async () => {
    const driver = new GatedDriver();
    const backend = new DriverBackend(driver);
    const seeded = backend.write("/d/x.txt", "x");
    await tick();
    driver.finishOne();
    await seeded;
    const write = backend.write("/d/y.txt", "y");
    const removal = backend.delete("/d");
    const after = backend.write("/d/z.txt", "z");
    await tick();
    expect(driver.pending).toBe(1);
    driver.finishOne();
    await write;
    expect((await removal).error).toBeUndefined();
    await tick();
    driver.finishOne();
    expect((await after).error).toBeUndefined();
    expect((await backend.ls("/d")).files?.map((f) => f.path)).toEqual(["/d/z.txt"]);
  });

  it("plans an edit again when its conditional write lost a race", async () => {
    const driver = new GatedDriver();
    const backend = new DriverBackend(driver);
    const seeded = backend.write("/a.txt", "hello world");
    await tick();
    driver.finishOne();
    await seeded;
    driver.conflictsLeft = 1;
    const edit = backend.edit("/a.txt", "world", "there");
    for (let i = 0; i < 50 && driver.pending === 0; i++) await tick();
    driver.finishOne();
    for (let i = 0; i < 200 && driver.pending === 0; i++) await new Promise((r) => setTimeout(r, 2));
    driver.finishOne();
    expect(await edit).toMatchObject({ occurrences: 1 });
    expect((await backend.read("/a.txt")).content).toBe("hello there");
  });
});

describe("DriverBackend over a driver that answers at once", () => {
  it("writes and edits in memory without waiting for the event loop", async () => {
    const backend = new DriverBackend(new MemoryDriver());
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    for (let i = 0; i < 100; i++) {
      expect((await backend.write(`/f${i}.txt`, "a b")).error).toBeUndefined();
      expect((await backend.edit(`/f${i}.txt`, "a", "c")).error).toBeUndefined();
    }
    expect(turned).toBe(false);
  });
});
