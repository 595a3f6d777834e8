// grep's answer is bounded in the store's own scan: past `maxGrepMatches` lines or
// `maxGrepTextLength` characters StoreBackend answers too_large and reads no further page.
import { encodeUtf8, type GrepLimits, parseGrepArgs } from "@deepfs/core";
import { type Driver, DriverBackend, isFault } from "@deepfs/core/kit";
import { BaseStore, InMemoryStore, type Item, type Operation, type OperationResults } from "@langchain/langgraph";
import { beforeAll, describe, expect, it } from "vitest";
import { StoreBackend } from "../src/index.js";
import { PAGE_SIZE, scanOrderOf } from "../src/store-scan.js";

/**
 * A store of unknown order (not an InMemoryStore) that answers at most {@link PAGE_SIZE} items per
 * search, as a remote store with a cap on its answers: StoreBackend reads it page by page. It
 * counts the items its searches answer.
 */
class PagedStore extends BaseStore {
  itemsRead = 0;
  searches = 0;

  constructor(readonly inner: InMemoryStore) {
    super();
  }

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const capped = operations.map((op) =>
      "namespacePrefix" in op ? { ...op, limit: Math.min(op.limit ?? PAGE_SIZE, PAGE_SIZE) } : op,
    );
    const results = await this.inner.batch(capped as Op);
    for (const [i, op] of operations.entries()) {
      if (!("namespacePrefix" in op)) continue;
      this.searches++;
      this.itemsRead += (results[i] as unknown as Item[]).length;
    }
    return results;
  }
}

const FILES = 3 * PAGE_SIZE;
const namespace = ["bounds"];
const inner = new InMemoryStore();
const paged = new PagedStore(inner);

function driverOf(backend: StoreBackend): Driver {
  const driver = DriverBackend.driverOf(backend);
  if (!driver) throw new Error("StoreBackend has no driver");
  return driver;
}

/** Resets the store's counts, then runs `call`. */
async function counted<T>(call: () => Promise<T>): Promise<T> {
  paged.itemsRead = 0;
  paged.searches = 0;
  return call();
}

beforeAll(async () => {
  // One matching line of three characters per file, written straight into the inner store.
  const writer = new StoreBackend({ store: inner, namespace });
  const files = Array.from({ length: FILES }, (_, i): [string, Uint8Array] => [
    `/f${String(i).padStart(5, "0")}.txt`,
    encodeUtf8("hit\nmiss\n"),
  ]);
  const written = await writer.uploadFiles(files);
  expect(written.filter((w) => w.error !== null)).toEqual([]);
  expect(scanOrderOf(paged)).toBe("unknown");
});

describe("StoreBackend grep bounds", () => {
  it("the store's own grep stops at the first page past a bound and answers too_large", async () => {
    const driver = driverOf(new StoreBackend({ store: paged, namespace }));
    const parsed = parseGrepArgs("hit", "/");
    if (!parsed.ok) throw new Error(parsed.error);
    for (const [limits, passed] of [
      [{ maxMatches: 10, maxTextLength: 1_000_000 }, "more than 10 matching lines"],
      [{ maxMatches: 1_000_000, maxTextLength: 50 }, "more than 50 characters of matching lines"],
    ] as Array<[GrepLimits, string]>) {
      const found = await counted(async () => driver.grep?.({ ...parsed.query, limits }, {}));
      expect(found && isFault(found) ? [found.fault, found.reason, found.detail] : found).toEqual([
        "too_large",
        "answer",
        passed,
      ]);
      // One page of the three: the scan ended there.
      expect([paged.searches, paged.itemsRead]).toEqual([1, PAGE_SIZE]);
    }
  });

  it("maxGrepMatches and maxGrepTextLength bound grep through the backend", async () => {
    const lines = new StoreBackend({ store: paged, namespace, maxGrepMatches: 10 });
    const refused = await counted(() => lines.grep("hit", "/"));
    expect(refused.code).toBe("too_large");
    expect(refused.error).toContain("more than 10 matching lines");
    expect(paged.itemsRead).toBe(PAGE_SIZE);
    // A cap within the bound answers as always (the first lines in path order: every page).
    const capped = await counted(() => lines.grep("hit", "/", null, 10));
    expect(capped.matches?.map((m) => m.path)).toEqual(
      Array.from({ length: 10 }, (_, i) => `/f${String(i).padStart(5, "0")}.txt`),
    );
    expect(capped.truncated).toBe(true);
    expect(paged.itemsRead).toBe(FILES);

    const chars = new StoreBackend({ store: paged, namespace, maxGrepTextLength: 50 });
    const wide = await counted(() => chars.grep("hit", "/"));
    expect(wide.code).toBe("too_large");
    expect(wide.error).toContain("more than 50 characters of matching lines");
    expect(paged.itemsRead).toBe(PAGE_SIZE);
    expect((await chars.grep("hit", "/f00007.txt")).matches).toEqual([{ path: "/f00007.txt", line: 1, text: "hit" }]);
  });

  it("the options are store limits in the driver's capabilities, kept with history; checked", async () => {
    const plain = new StoreBackend({ store: paged, namespace });
    expect(driverOf(plain).capabilities.limits).toBeUndefined();
    expect((await plain.grep("hit", "/")).matches).toHaveLength(FILES);

    const options = { store: paged, namespace, maxGrepMatches: 5, maxGrepTextLength: 1000 };
    expect(driverOf(new StoreBackend(options)).capabilities.limits).toEqual({
      maxGrepMatches: 5,
      maxGrepTextLength: 1000,
    });
    const versioned = new StoreBackend({ ...options, history: true });
    expect(driverOf(versioned).capabilities.limits).toEqual({ maxGrepMatches: 5, maxGrepTextLength: 1000 });
    expect((await versioned.grep("hit", "/")).error).toContain("more than 5 matching lines");

    expect(() => new StoreBackend({ store: paged, namespace, maxGrepMatches: -1 })).toThrow(/maxGrepMatches/);
    expect(() => new StoreBackend({ store: paged, namespace, maxGrepTextLength: 1.5 })).toThrow(/maxGrepTextLength/);
  });
});
