// The paged scan of store-scan.ts against a model of PostgresStore's `batch` search (namespace
// prefix matched as text, `ORDER BY created_at DESC`, rows created at one instant in any order,
// a different one on every call), with writers acting between pages: what a real server cannot be
// made to do on demand (its order among equal creation times, a change between exactly two pages).
import { BaseStore, type Item, type Operation, type OperationResults } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, scanItems, scanOrderOf } from "../src/store-scan.js";

/** FNV-1a: a tie order that differs from call to call, the same on every run. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A seeded PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const idOf = (namespace: readonly string[], key: string) => JSON.stringify([namespace, key]);

class ModelStore extends BaseStore {
  readonly rows = new Map<string, Item>();
  readonly searches: Array<{ offset: number; limit: number }> = [];
  /** The creation time of the next put (a tick of the clock is the test's choice). */
  now = 1;
  /** Runs after each search answers, with what it answered: another writer between two pages. */
  afterSearch: ((page: Item[]) => void) | undefined;
  private calls = 0;

  constructor(private readonly options: { ascending?: boolean; cap?: number } = {}) {
    super();
  }

  add(namespace: string[], key: string, createdAt = this.now): void {
    const at = new Date(createdAt);
    this.rows.set(idOf(namespace, key), { namespace, key, value: { n: key }, createdAt: at, updatedAt: at });
  }

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const results: unknown[] = [];
    for (const op of operations) {
      if (!("namespacePrefix" in op)) throw new Error("the model answers searches only");
      const call = this.calls++;
      const prefix = op.namespacePrefix.join(":");
      const sign = this.options.ascending ? -1 : 1;
      const rank = (item: Item) => hash(`${call}|${idOf(item.namespace, item.key)}`);
      const all = [...this.rows.values()]
        .filter((item) => item.namespace.join(":").startsWith(prefix))
        .sort((a, b) => sign * (b.createdAt.getTime() - a.createdAt.getTime()) || rank(a) - rank(b));
      const offset = op.offset ?? 0;
      const limit = Math.min(op.limit ?? 10, this.options.cap ?? Number.POSITIVE_INFINITY);
      this.searches.push({ offset, limit: op.limit ?? 10 });
      const page = all.slice(offset, offset + limit);
      results.push(page);
      this.afterSearch?.(page);
    }
    return results as OperationResults<Op>;
  }
}

const acme = ["t", "acme"];
const corp = ["t", "acme-corp"];
const isAcme = (item: Item) => item.namespace.length === 2 && item.namespace[1] === "acme";

async function scanIds(store: BaseStore, order = scanOrderOf(store)): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of scanItems(store, acme, isAcme, order)) {
    for (const item of page) ids.push(idOf(item.namespace, item.key));
  }
  return ids;
}

describe("the paged scan (PostgresStore's order)", () => {
  it("finds every row when rows created at one instant straddle pages and come in another order each call", async () => {
    const store = new ModelStore();
    for (let i = 0; i < 2600; i++) store.add(acme, `/f${i}`, 1000 + Math.floor(i / 7));
    // Plain offset pages over this order lose rows even with no writer at all.
    const byOffset = new Set<string>();
    for (let offset = 0; offset < 2600; offset += PAGE_SIZE) {
      const [page] = await store.batch([{ namespacePrefix: acme, offset, limit: PAGE_SIZE }]);
      for (const item of page ?? []) byOffset.add(idOf(item.namespace, item.key));
    }
    expect(byOffset.size).toBeLessThan(2600);

    store.searches.length = 0;
    const ids = await scanIds(store, "created-desc");
    expect(new Set(ids).size).toBe(2600);
    expect(ids).toHaveLength(2600);
    // Paged: every call asked for one page.
    // Paged, each page further on than the one before (no writer: no step back).
    expect(store.searches.length).toBeGreaterThanOrEqual(3);
    expect(store.searches.every((s) => s.limit === PAGE_SIZE)).toBe(true);
    const offsets = store.searches.map((s) => s.offset);
    expect(offsets.every((offset, i) => i === 0 || offset > (offsets[i - 1] as number))).toBe(true);
  });

  it("misses no row that exists for the whole scan, whatever is deleted, inserted or rewritten between pages", async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = random(seed);
      const store = new ModelStore();
      const tick = () => {
        if (rand() < 0.5) store.now++;
      };
      let next = 0;
      for (let i = 0; i < 3000; i++) {
        tick();
        store.add(rand() < 0.4 ? acme : corp, `/f${next++}`);
      }
      const removed = new Set<string>();
      store.afterSearch = (page) => {
        const action = rand();
        const rows = [...store.rows.values()];
        if (action < 0.5) {
          // Deletes, mostly of rows already read (they move unread rows before the offset).
          const pool = rand() < 0.7 && page.length > 0 ? page : rows;
          for (let n = Math.floor(rand() * 500); n > 0; n--) {
            const victim = pool[Math.floor(rand() * pool.length)];
            if (!victim) break;
            const id = idOf(victim.namespace, victim.key);
            store.rows.delete(id);
            removed.add(id);
          }
        } else if (action < 0.8) {
          for (let n = Math.floor(rand() * 300); n > 0; n--) {
            tick();
            store.add(rand() < 0.5 ? acme : corp, `/f${next++}`, store.now + 1_000_000);
          }
        } else {
          // Rewrites keep the creation time (PostgresStore's upsert leaves created_at alone).
          for (const row of rows.slice(0, 200)) row.updatedAt = new Date(store.now + 2_000_000);
        }
      };
      const before = [...store.rows.values()].filter(isAcme).map((item) => idOf(item.namespace, item.key));
      const ids = await scanIds(store, "created-desc");
      expect(ids.length).toBe(new Set(ids).size);
      const found = new Set(ids);
      const missed = before.filter((id) => !removed.has(id) && !found.has(id));
      expect({ seed, missed }).toEqual({ seed, missed: [] });
    }
  });

  it("steps back a bounded number of times, then reads everything in one call", async () => {
    const store = new ModelStore();
    for (let i = 0; i < 12_000; i++) store.add(i % 6 === 0 ? acme : corp, `/f${i}`, i);
    // After every page, 400 of the newest neighbour rows go: unread rows keep moving before the offset.
    store.afterSearch = () => {
      const newest = [...store.rows.values()]
        .filter((item) => !isAcme(item))
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
        .slice(0, 400);
      for (const item of newest) store.rows.delete(idOf(item.namespace, item.key));
    };
    const ids = await scanIds(store, "created-desc");
    expect(new Set(ids).size).toBe(2000);
    // 16 steps back in all (each page here needs some), then the rest in one call.
    const steps = store.searches.filter((s, i) => i > 0 && s.offset < (store.searches[i - 1]?.offset ?? 0));
    expect(steps.length).toBeLessThanOrEqual(17);
    expect(store.searches.at(-1)).toEqual({ offset: 0, limit: 2 ** 31 - 1 });
    expect(store.searches.length).toBeLessThanOrEqual(Math.ceil(12_000 / (PAGE_SIZE - 1)) + 16 + 1);
  });

  it("reads everything in one call when one creation time fills a page", async () => {
    const store = new ModelStore();
    for (let i = 0; i < 1500; i++) store.add(acme, `/f${i}`, 7);
    const ids = await scanIds(store, "created-desc");
    expect(new Set(ids).size).toBe(1500);
    expect(store.searches.at(-1)?.limit).toBeGreaterThan(1500);
  });

  it("reads everything in one call when the store does not order by creation time", async () => {
    const store = new ModelStore({ ascending: true });
    for (let i = 0; i < 2500; i++) store.add(acme, `/f${i}`, i);
    store.afterSearch = (page) => {
      for (const item of page.slice(0, 300)) if (item.key !== "/f0") store.rows.delete(idOf(item.namespace, item.key));
      store.afterSearch = undefined;
    };
    const ids = new Set(await scanIds(store, "created-desc"));
    for (let i = 300; i < 2500; i++) expect(ids.has(idOf(acme, `/f${i}`))).toBe(true);
    expect(store.searches.map((s) => s.limit)).toEqual([PAGE_SIZE, 2 ** 31 - 1]);
  });
});

describe("the scan of a store of unknown order", () => {
  it("is one call, read on by offset when the store answers less than asked", async () => {
    const store = new ModelStore({ cap: 1000 });
    for (let i = 0; i < 2500; i++) store.add(acme, `/f${i}`, i);
    expect(scanOrderOf(store)).toBe("unknown");
    const ids = await scanIds(store);
    expect(new Set(ids).size).toBe(2500);
    expect(store.searches.map((s) => [s.offset, s.limit])).toEqual([
      [0, 2 ** 31 - 1],
      [1000, PAGE_SIZE],
      [2000, PAGE_SIZE],
    ]);
  });
});
