// Scans of a namespace while other writers change the store between two pages (issue: a directory
// delete answered success and left files): on InMemoryStore and on LangGraph's PostgresStore, through
// a proxy whose searches (by `search()` or in a `batch`) run a change right after returning a page.
import { randomUUID } from "node:crypto";
import { encodeUtf8 } from "@deepfs/core";
import { DriverBackend } from "@deepfs/core/kit";
import { requireOrSkipReason } from "@deepfs/harness";
import {
  AsyncBatchedStore,
  BaseStore,
  InMemoryStore,
  type Item,
  type Operation,
  type OperationResults,
} from "@langchain/langgraph";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { StoreBackend } from "../src/index.js";
import { HISTORY_LABEL, sameNamespace } from "../src/namespace.js";
import { StoreDriver } from "../src/store-driver.js";
import { scanOrderOf } from "../src/store-scan.js";

const skip = requireOrSkipReason("postgres");
const schema = `deepfs_langgraph_scan_${randomUUID().replaceAll("-", "")}`;
const pgStore = skip
  ? undefined
  : new PostgresStore({ connectionOptions: process.env.DEEPFS_PG_URL as string, schema });

afterAll(async () => {
  if (!pgStore) return;
  await pgStore.stop();
  const sql = postgres(process.env.DEEPFS_PG_URL as string, { max: 1, onnotice: () => {} });
  await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  await sql.end();
});

const TIMEOUT = 120_000;

type Hook = (page: Item[]) => Promise<void>;

/**
 * `store` behind a proxy that runs the armed hook once, right after the first search of exactly
 * `namespace` returns (with the rows it returned): another writer acting between two pages.
 */
function betweenPages(store: BaseStore, namespace: readonly string[]) {
  let hook: Hook | undefined;
  const after = async (prefix: readonly string[], rows: Item[]) => {
    if (!hook || !sameNamespace(prefix, namespace)) return;
    const run = hook;
    hook = undefined;
    await run(rows);
  };
  const proxy = new Proxy(store, {
    get(target, property) {
      if (property === "search") {
        return async (prefix: string[], options?: Parameters<BaseStore["search"]>[1]) => {
          const rows = await target.search(prefix, options);
          await after(prefix, rows);
          return rows;
        };
      }
      if (property === "batch") {
        return async (operations: Operation[]) => {
          const results = await target.batch(operations);
          for (const [i, op] of operations.entries()) {
            if ("namespacePrefix" in op) await after(op.namespacePrefix, results[i] as unknown as Item[]);
          }
          return results;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store: proxy as BaseStore,
    arm: (next: Hook) => {
      hook = next;
    },
    /** True once the armed hook has run (the scan did reach a second page's moment). */
    ran: () => hook === undefined,
  };
}

const fileValue = (content: string) => ({
  content,
  mimeType: "text/plain",
  created_at: "2024-01-01T00:00:00.000Z",
  modified_at: "2024-01-01T00:00:00.000Z",
});

/** Puts `count` files `/n<i>.txt` into `namespace`, in order. */
async function fill(store: BaseStore, namespace: string[], from: number, count: number) {
  for (let i = from; i < from + count; i += 250) {
    const puts = Array.from({ length: Math.min(250, from + count - i) }, (_, j) => ({
      namespace,
      key: `/n${i + j}.txt`,
      value: fileValue("neighbour\n"),
    }));
    await store.batch(puts);
  }
}

/** Deletes up to `count` of the items of `namespace` (whose key starts with `keyPrefix`) in `page`. */
async function deleteFrom(store: BaseStore, page: Item[], namespace: string[], keyPrefix: string, count: number) {
  const doomed = page.filter((item) => sameNamespace(item.namespace, namespace) && item.key.startsWith(keyPrefix));
  expect(doomed.length).toBeGreaterThanOrEqual(count);
  await store.batch(doomed.slice(0, count).map((item) => ({ namespace, key: item.key, value: null })));
}

const stores: Array<{
  name: string;
  make: () => BaseStore;
  skip: string | undefined;
  /** A namespace whose items the store's prefix search of `[root, "acme"]` also returns. */
  neighbour: (root: string) => string[];
}> = [
  { name: "InMemoryStore", make: () => new InMemoryStore(), skip: undefined, neighbour: (r) => [r, "acme", "sub"] },
  { name: "PostgresStore", make: () => pgStore as BaseStore, skip, neighbour: (r) => [r, "acme-corp"] },
];

for (const kind of stores) {
  describe.skipIf(kind.skip !== undefined)(`scans while other writers change the store (${kind.name})`, () => {
    it(
      "a directory delete leaves nothing when the same tenant deletes other files between pages",
      async () => {
        const store = kind.make();
        const namespace = [`scan-${randomUUID()}`, "acme"];
        const plain = new StoreBackend({ store, namespace });
        expect((await plain.write("/d/first.txt", "first\n")).error).toBeUndefined();
        const bulk = Array.from({ length: 1500 }, (_, i): [string, Uint8Array] => [`/bulk/${i}.txt`, encodeUtf8("b")]);
        expect((await plain.uploadFiles(bulk)).every((r) => r.error === null)).toBe(true);
        expect((await plain.write("/d/last-secret.txt", "TOP SECRET\n")).error).toBeUndefined();

        const spy = betweenPages(store, namespace);
        const acme = new StoreBackend({ store: spy.store, namespace });
        spy.arm((page) => deleteFrom(store, page, namespace, "/bulk/", 600));
        expect(await acme.delete("/d")).toEqual({ path: "/d" });
        expect(spy.ran()).toBe(true);
        expect((await acme.read("/d/first.txt")).code).toBe("file_not_found");
        expect((await acme.read("/d/last-secret.txt")).code).toBe("file_not_found");
        const left = (await acme.glob("**")).files?.map((f) => f.path) ?? [];
        expect(left.filter((p) => p.startsWith("/d/"))).toEqual([]);
        expect(left).toHaveLength(900);
        await plain.delete("/");
      },
      TIMEOUT,
    );

    it("a directory delete repeats until a pass finds nothing, and says so when files keep arriving", async () => {
      const store = kind.make();
      const namespace = [`scan-${randomUUID()}`, "acme"];
      const plain = new StoreBackend({ store, namespace });
      expect((await plain.write("/d/a.txt", "a\n")).error).toBeUndefined();
      const spy = betweenPages(store, namespace);
      const acme = new StoreBackend({ store: spy.store, namespace });
      // A file written below /d right after the delete's scan answered: the next pass removes it.
      spy.arm(async () => void (await plain.write("/d/late.txt", "late\n")));
      expect(await acme.delete("/d")).toEqual({ path: "/d" });
      expect(spy.ran()).toBe(true);
      expect((await acme.glob("**")).files).toEqual([]);

      // A writer that adds a file after every scan: bounded passes, then conflict; nothing that
      // existed when the delete was called is left.
      expect((await plain.write("/d/b.txt", "b\n")).error).toBeUndefined();
      let n = 0;
      const again = async () => {
        await plain.write(`/d/new-${n++}.txt`, "new\n");
        spy.arm(again);
      };
      spy.arm(again);
      const answer = await acme.delete("/d");
      expect(answer.code).toBe("conflict");
      expect(n).toBeGreaterThan(1);
      expect((await plain.read("/d/b.txt")).code).toBe("file_not_found");
      await plain.delete("/");
    });

    const ops: Array<[string, (acme: StoreBackend) => Promise<unknown>, unknown]> = [
      ["ls", async (acme) => (await acme.ls("/d")).files?.map((f) => f.path), ["/d/new.txt", "/d/old.txt"]],
      ["glob", async (acme) => (await acme.glob("**")).files?.map((f) => f.path), ["/d/new.txt", "/d/old.txt"]],
      ["grep", async (acme) => (await acme.grep("needle")).matches?.map((m) => m.path), ["/d/new.txt", "/d/old.txt"]],
      ["delete", async (acme) => [await acme.delete("/d"), (await acme.glob("**")).files], [{ path: "/d" }, []]],
      // A write below a file must see the file, wherever its row is.
      ["write", async (acme) => (await acme.write("/d/old.txt/inner", "x")).code, "not_a_directory"],
    ];
    for (const [op, run, expected] of ops) {
      it(
        `${op} sees every file while a neighbour namespace deletes its own items between pages`,
        async () => {
          const store = kind.make();
          const root = `scan-${randomUUID()}`;
          const namespace = [root, "acme"];
          const neighbour = kind.neighbour(root);
          const plain = new StoreBackend({ store, namespace });
          // Rows of both tenants interleaved: in creation order, and in InMemoryStore's order
          // (the neighbour's namespace first) acme's files come after a full page of the neighbour's.
          await fill(store, neighbour, 0, 1);
          expect((await plain.write("/d/old.txt", "old needle\n")).error).toBeUndefined();
          await fill(store, neighbour, 1, 1499);
          expect((await plain.write("/d/new.txt", "new needle\n")).error).toBeUndefined();

          const spy = betweenPages(store, namespace);
          const acme = new StoreBackend({ store: spy.store, namespace });
          spy.arm((page) => deleteFrom(store, page, neighbour, "/n", 600));
          expect(await run(acme)).toEqual(expected);
          expect(spy.ran()).toBe(true);
          await plain.delete("/");
          await new StoreBackend({ store, namespace: neighbour }).delete("/");
        },
        TIMEOUT,
      );
    }
  });
}

describe.skipIf(skip !== undefined)("scans of a PostgresStore", () => {
  it("page in creation order, which a rewrite does not change", () => {
    expect(scanOrderOf(pgStore as BaseStore)).toBe("created-desc");
    expect(scanOrderOf(betweenPages(pgStore as BaseStore, ["x"]).store)).toBe("created-desc");
    expect(scanOrderOf(new InMemoryStore())).toBe("snapshot");
  });

  for (const op of ["glob", "delete"] as const) {
    it(
      `${op} sees a file that is rewritten between two pages`,
      async () => {
        const store = pgStore as BaseStore;
        const namespace = [`scan-${randomUUID()}`, "acme"];
        const plain = new StoreBackend({ store, namespace });
        expect((await plain.write("/d/a.txt", "a\n")).error).toBeUndefined();
        const bulk = Array.from({ length: 1500 }, (_, i): [string, Uint8Array] => [`/bulk/${i}.txt`, encodeUtf8("b")]);
        expect((await plain.uploadFiles(bulk)).every((r) => r.error === null)).toBe(true);
        expect((await plain.write("/d/b.txt", "b\n")).error).toBeUndefined();

        const spy = betweenPages(store, namespace);
        const acme = new StoreBackend({ store: spy.store, namespace });
        spy.arm(async () => void (await store.put(namespace, "/d/a.txt", fileValue("a, rewritten\n"))));
        if (op === "glob") {
          const found = (await acme.glob("d/*")).files?.map((f) => f.path);
          expect(found).toEqual(["/d/a.txt", "/d/b.txt"]);
        } else {
          expect(await acme.delete("/d")).toEqual({ path: "/d" });
          expect((await acme.read("/d/a.txt")).code).toBe("file_not_found");
        }
        expect(spy.ran()).toBe(true);
        await plain.delete("/");
      },
      TIMEOUT,
    );
  }

  it(
    "a directory of the history layout is decided by whole namespace components (/dx is not below /d)",
    async () => {
      const store = pgStore as BaseStore;
      const namespace = [`scan-${randomUUID()}`, "acme"];
      const versions = new DriverBackend(new StoreDriver(store, namespace, "base64", HISTORY_LABEL, true));
      expect((await versions.write("/dx/a.txt", "v1")).error).toBeUndefined();
      expect((await versions.read("/dx")).code).toBe("is_directory");
      expect((await versions.read("/d")).code).toBe("file_not_found");
      expect(await versions.delete("/dx/a.txt")).toEqual({ path: "/dx/a.txt" });
    },
    TIMEOUT,
  );
});

/**
 * A store that matches a namespace prefix as text with LIKE's wildcards, as a SQL store that does
 * not refuse `_` in a label would (PostgresStore refuses it, so no real server shows this).
 */
class LikeStore extends BaseStore {
  readonly inner = new InMemoryStore();

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const results: unknown[] = [];
    for (const op of operations) {
      if (!("namespacePrefix" in op)) {
        results.push((await this.inner.batch([op]))[0]);
        continue;
      }
      const escaped = op.namespacePrefix.join(":").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const like = new RegExp(`^${escaped.replaceAll("_", ".").replaceAll("%", ".*")}`);
      const [all] = await this.inner.batch([{ namespacePrefix: [], limit: 2 ** 31 - 1, offset: 0 }]);
      const offset = op.offset ?? 0;
      const matched = (all ?? []).filter((item) => like.test(item.namespace.join(":")));
      results.push(matched.slice(offset, offset + (op.limit ?? 10)));
    }
    return results as OperationResults<Op>;
  }
}

describe("exact namespaces on a store that matches prefixes as text", () => {
  it("another tenant's version never makes a directory of the history layout exist", async () => {
    const store = new LikeStore();
    const mine = new DriverBackend(new StoreDriver(store, ["t", "a_c"], "base64", HISTORY_LABEL, true));
    const other = new DriverBackend(new StoreDriver(store, ["t", "abc"], "base64", HISTORY_LABEL, true));
    expect((await other.write("/d/secret.txt", "v1")).error).toBeUndefined();
    expect((await other.read("/d")).code).toBe("is_directory");
    expect((await mine.read("/d")).code).toBe("file_not_found");
    expect((await mine.ls("/d")).files).toEqual([]);
  });
});

describe("an AsyncBatchedStore (what a running graph hands a backend factory)", () => {
  it("is driven through the store it wraps, whose batch the backend needs", async () => {
    const inner = new InMemoryStore();
    const batched = new AsyncBatchedStore(inner);
    batched.start();
    try {
      const backend = new StoreBackend({ store: batched, namespace: ["batched", randomUUID()] });
      expect(backend.store).toBe(batched);
      const uploaded = await backend.uploadFiles([
        ["/d/a.txt", encodeUtf8("a")],
        ["/d/b.txt", encodeUtf8("b")],
      ]);
      expect(uploaded.map((r) => r.error)).toEqual([null, null]);
      expect((await backend.glob("**")).files?.map((f) => f.path)).toEqual(["/d/a.txt", "/d/b.txt"]);
      expect(await backend.delete("/d")).toEqual({ path: "/d" });
      expect((await backend.ls("/")).files).toEqual([]);
    } finally {
      await batched.stop();
    }
  });
});
