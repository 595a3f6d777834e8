/**
 * The contract for a driver alone (`@deepfs/core/kit`'s `Driver`): its primitives answer the
 * shapes and faults the facade relies on, and the whole backend contract holds for
 * `DriverBackend` over it. A third party tests a new store with one call:
 *
 * ```ts
 * defineDriverContract({ name: "RedisDriver", create: () => new RedisDriver(client) });
 * ```
 */
import type { BackendCapabilities } from "@deepfs/core";
import { type Driver, DriverBackend, type DriverEntry, type Fault, isFault } from "@deepfs/core/kit";
import { describe, expect, it } from "vitest";
import { defineBackendContract } from "./define-backend-contract.js";

/** What `create()` hands the suite: a fresh, empty driver, and how to release it. */
export interface DriverSubject<D extends Driver = Driver> {
  driver: D;
  /** Directory the driver's test files live under (default `/`). */
  root?: string;
  cleanup?: () => void | Promise<void>;
}

export interface DriverContractOptions<D extends Driver = Driver> {
  name: string;
  create: () => DriverSubject<D> | D | Promise<DriverSubject<D> | D>;
  /** As in `defineBackendContract`: overrides of what the suite may expect of the backend. */
  capabilities?: Partial<BackendCapabilities>;
  omit?: Array<"transfer" | "scale">;
  skip?: string | undefined;
  timeoutScale?: number;
  /**
   * `false` registers only the driver rules, for a driver whose backend class already runs the
   * whole backend contract elsewhere.
   */
  backendContract?: boolean;
}

const FAULT_FIELDS = new Set(["fault", "path", "reason", "detail", "cause"]);

function isDriver(value: unknown): value is Driver {
  return typeof value === "object" && value !== null && typeof (value as Driver).stat === "function";
}

async function open<D extends Driver>(options: DriverContractOptions<D>): Promise<Required<DriverSubject<D>>> {
  const created = await options.create();
  const subject = isDriver(created) ? { driver: created } : created;
  return { driver: subject.driver, root: subject.root ?? "/", cleanup: subject.cleanup ?? (() => {}) };
}

/** Asserts a fault: the code, and facts only (no sentence fields, no `error`). */
function expectFault(value: unknown, code: string): Fault {
  expect(isFault(value), `expected a fault '${code}', got ${JSON.stringify(value)}`).toBe(true);
  const f = value as Fault;
  expect(f.fault).toBe(code);
  for (const key of Object.keys(f)) expect(FAULT_FIELDS.has(key), `unexpected fault field '${key}'`).toBe(true);
  return f;
}

function ok<T>(value: T | Fault): T {
  expect(isFault(value), `expected success, got ${JSON.stringify(value)}`).toBe(false);
  return value as T;
}

async function collect(entries: AsyncIterable<DriverEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of entries) {
    expect(entry.kind, `walk yields files only: ${entry.path}`).toBe("file");
    out.push(entry.path);
  }
  return out.sort();
}

const text = new TextEncoder();

/**
 * Registers the driver rules and the whole backend contract (through `DriverBackend`) for one
 * driver. Call it at the top level of a test file.
 */
export function defineDriverContract<D extends Driver>(options: DriverContractOptions<D>): void {
  const suite = options.skip === undefined ? describe : describe.skip;
  if (options.skip !== undefined) console.warn(`\n[deepfs-conformance] SKIPPING ${options.name}: ${options.skip}\n`);
  suite(`${options.name} satisfies the deepfs driver contract`, () => {
    const rule = (title: string, body: (driver: D, at: (p: string) => string) => Promise<void>) =>
      it(title, async () => {
        const subject = await open(options);
        const at = (p: string) => (subject.root === "/" ? p : `${subject.root}${p}`);
        try {
          await body(subject.driver, at);
        } finally {
          await subject.cleanup();
        }
      });

    rule("write answers an etag; read gives the content back with that etag; stat sees a file", async (d, at) => {
      const { etag } = ok(await d.write(at("/a/b.txt"), "hello\n", {}));
      expect(typeof etag).toBe("string");
      const file = ok(await d.read(at("/a/b.txt"), {}));
      expect("window" in file).toBe(false);
      if ("content" in file) {
        const content = typeof file.content === "string" ? file.content : new TextDecoder().decode(file.content);
        expect(content).toBe("hello\n");
        expect(file.etag).toBe(etag);
      }
      expect(ok(await d.stat(at("/a/b.txt"), {}))).toMatchObject({ kind: "file", size: 6 });
      expect(ok(await d.stat(at("/a"), {}))).toMatchObject({ kind: "directory" });
      expect(ok(await d.stat(at("/nothing"), {}))).toEqual({ kind: "none" });
    });

    rule("bytes round-trip exactly", async (d, at) => {
      const bytes = new Uint8Array([0, 255, 1, 128, 10]);
      ok(await d.write(at("/bin/x.png"), bytes, {}));
      const file = ok(await d.read(at("/bin/x.png"), {}));
      if ("content" in file) expect([...(file.content as Uint8Array)]).toEqual([...bytes]);
    });

    rule("a missing file and a directory are faults, not sentences", async (d, at) => {
      ok(await d.write(at("/dir/f.txt"), "x", {}));
      expectFault(await d.read(at("/missing.txt"), {}), "file_not_found");
      expectFault(await d.read(at("/dir"), {}), "is_directory");
      expectFault(await d.write(at("/dir"), "x", {}), "is_directory");
      const below = expectFault(await d.write(at("/dir/f.txt/g.txt"), "x", {}), "not_a_directory");
      expect(below.path).toBe(at("/dir/f.txt"));
      expect(below.reason).toBe("file_in_way");
      expectFault(await d.remove(at("/missing.txt"), {}), "file_not_found");
    });

    rule("conditional writes, when declared, are checked by the store", async (d, at) => {
      if (!d.capabilities.conditionalWrites) return;
      const { etag } = ok(await d.write(at("/c.txt"), "one", {}));
      expectFault(await d.write(at("/c.txt"), "two", { ifNoneMatch: "*" }), "conflict");
      expectFault(await d.write(at("/c.txt"), "two", { ifMatch: `${etag}-stale` }), "conflict");
      expectFault(await d.write(at("/new.txt"), "two", { ifMatch: etag }), "conflict");
      const next = ok(await d.write(at("/c.txt"), "two", { ifMatch: etag }));
      expect(next.etag).not.toBe(etag);
      ok(await d.write(at("/fresh.txt"), "x", { ifNoneMatch: "*" }));
    });

    rule("list gives direct children only, directories without a trailing slash", async (d, at) => {
      ok(await d.write(at("/l/a.txt"), "a", {}));
      ok(await d.write(at("/l/sub/b.txt"), "b", {}));
      ok(await d.write(at("/l/sub/deeper/c.txt"), "c", {}));
      const listed = ok(await d.list(at("/l"), {}));
      const shown = listed.map((e) => `${e.kind}:${e.path}`).sort();
      expect(shown).toEqual([`directory:${at("/l/sub")}`, `file:${at("/l/a.txt")}`]);
      expect(listed.find((e) => e.kind === "file")?.size).toBe(1);
    });

    rule("walk yields every file below the directory and nothing else", async (d, at) => {
      for (const p of ["/w/a.txt", "/w/x/b.txt", "/w/x/y/c.txt", "/wx/d.txt", "/e.txt"])
        ok(await d.write(at(p), p, {}));
      expect(await collect(d.walk(at("/w"), {}))).toEqual([at("/w/a.txt"), at("/w/x/b.txt"), at("/w/x/y/c.txt")]);
    });

    rule("remove deletes a file, or a directory with everything below it", async (d, at) => {
      for (const p of ["/r/a.txt", "/r/s/b.txt", "/rest.txt"]) ok(await d.write(at(p), "x", {}));
      ok(await d.remove(at("/r/a.txt"), {}));
      expectFault(await d.read(at("/r/a.txt"), {}), "file_not_found");
      ok(await d.remove(at("/r"), {}));
      expect(ok(await d.stat(at("/r/s/b.txt"), {}))).toEqual({ kind: "none" });
      expect(ok(await d.stat(at("/rest.txt"), {}))).toMatchObject({ kind: "file" });
    });

    rule("writeBatch, when present, answers each file in order", async (d, at) => {
      if (!d.writeBatch) return;
      const files = [at("/batch/a.txt"), at("/batch/b.txt"), at("/batch/a.txt/c.txt")];
      const answers = await d.writeBatch(
        files.map((path) => ({ path, bytes: text.encode(path) })),
        {},
      );
      expect(answers).toHaveLength(3);
      ok(answers[0]);
      ok(answers[1]);
      expectFault(answers[2], "not_a_directory");
    });
  });

  if (options.backendContract === false) return;
  defineBackendContract({
    name: `DriverBackend over ${options.name}`,
    create: async () => {
      const subject = await open(options);
      return { backend: new DriverBackend(subject.driver), root: subject.root, cleanup: subject.cleanup };
    },
    capabilities: options.capabilities,
    omit: options.omit,
    skip: options.skip,
    timeoutScale: options.timeoutScale,
  });
}
