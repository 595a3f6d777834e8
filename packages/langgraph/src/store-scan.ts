import { checkPath } from "@deepfs/core";
import { type BaseStore, InMemoryStore, type Item } from "@langchain/langgraph";
import { storeCall } from "./errors.js";
import { isWithinNamespace, sameNamespace } from "./namespace.js";

/** Items per `store.search` call, and per `store.batch` of puts. */
export const PAGE_SIZE = 1000;

/** The `limit` of a call meant to answer everything (a 32-bit integer, which every store's SQL accepts). */
const EVERYTHING = 2 ** 31 - 1;
/** Steps back (one query each) a paged scan may take in all before it reads everything in one call. */
const MAX_STEPS_BACK = 16;
/** The first step back, in rows; it doubles while the page found still starts too late. */
const FIRST_STEP_BACK = 64;

/**
 * How a store's searches are read in full. `BaseStore.search` matches a namespace *prefix* and
 * pages by `limit`/`offset` only (its `filter` is on values, never on keys), so a scan cannot page
 * by key, and offset pages taken at different moments need not fit together: a delete before the
 * offset (by this tenant, or by any other whose namespace shares the prefix: PostgresStore matches
 * `acme%`, so `acme-corp` shares the pages of `acme`) moves rows not yet read before it, and an
 * order by update time moves a rewritten item into pages already read.
 * - `snapshot`: one call answers everything. InMemoryStore builds the full candidate list on every
 *   call and answers synchronously, so one call is exact and cheaper than pages.
 * - `created-desc`: PostgresStore. Its `batch` search orders by `created_at DESC`, a column an item
 *   keeps for its whole life (its `search()` orders by `updated_at`, which a rewrite changes), and
 *   each page is one statement, a snapshot. Pages are read with a check that they join up (see
 *   {@link scanItems}); when they cannot be made to, everything is read in one call.
 * - `unknown`: any other store: one call, and when the store caps it, the rest by offset. A store
 *   whose order is unknown cannot be paged safely, and one call is as exact as the store makes it.
 */
export type ScanOrder = "snapshot" | "created-desc" | "unknown";

/** The {@link ScanOrder} of `store`. */
export function scanOrderOf(store: BaseStore): ScanOrder {
  if (store instanceof InMemoryStore) return "snapshot";
  // By class name: the package that defines PostgresStore is not a dependency of this one. A page
  // out of creation order is read again in one call, whatever the class.
  for (let proto = Object.getPrototypeOf(store) as object | null; proto && proto !== Object.prototype; ) {
    const maker = Object.hasOwn(proto, "constructor") ? (proto as { constructor: unknown }).constructor : null;
    if (typeof maker === "function" && maker.name === "PostgresStore") return "created-desc";
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return "unknown";
}

/** One item of the backend's own namespace whose key is a normalised virtual path. */
export interface ScannedItem {
  path: string;
  value: unknown;
}

/**
 * The items of exactly `namespace`, in pages (see {@link scanItems}). `store.search` also returns
 * deeper namespaces and, in stores that match the joined path as text, siblings such as
 * `acme-corp` for `acme`, so an item is kept only when its namespace is equal. Keys that are not
 * normalised virtual paths are not files of this backend and are skipped.
 */
export async function* scanNamespace(store: BaseStore, namespace: readonly string[]): AsyncGenerator<ScannedItem[]> {
  for await (const page of scanItems(store, namespace, (item) => sameNamespace(item.namespace, namespace))) {
    const items: ScannedItem[] = [];
    for (const item of page) {
      const checked = checkPath(item.key);
      if (checked.ok && checked.path === item.key) items.push({ path: item.key, value: item.value });
    }
    if (items.length > 0) yield items;
  }
}

/** True when an item is in `namespace` or in a namespace below it (by whole components). */
export async function hasItemWithin(store: BaseStore, namespace: readonly string[]): Promise<boolean> {
  const within = (item: Item) => isWithinNamespace(item.namespace, namespace);
  // Usually the first item answers; only a sibling that matches the prefix as text needs a scan.
  const [first] = await searchPage(store, namespace, 0, 1);
  if (!first) return false;
  if (within(first)) return true;
  for await (const _ of scanItems(store, namespace, within)) return true;
  return false;
}

/**
 * Every item under `prefix` that `accept` keeps, each (namespace and key) yielded once, in pages.
 * No item that exists for the whole scan is missed, whatever other writers do meanwhile.
 *
 * Paged (`created-desc`): let `after` be the creation time of the last row of a page. Every row
 * created strictly later than `after` that existed then was in that page or an earlier one. The
 * next page is asked from the last row of this one created strictly later than `after` (so it
 * overlaps by a row or so), and it joins up when its first row was created strictly later than
 * `after`: one statement's page holds every row whose creation time lies strictly between those
 * of its first and last rows, so nothing falls between the two pages, whatever was inserted (at
 * the top: the page then only overlaps more) or deleted (anywhere) between them, and whatever
 * order the store gives rows created at the same instant. A page that starts too late (rows
 * before it were deleted) is asked again further back, up to {@link MAX_STEPS_BACK} times in all;
 * at offset 0 nothing can be missed. A page out of order, a page of one creation time, or too
 * many steps back: everything is read in one call.
 */
export async function* scanItems(
  store: BaseStore,
  prefix: readonly string[],
  accept: (item: Item) => boolean,
  order: ScanOrder = scanOrderOf(store),
): AsyncGenerator<Item[]> {
  const seen = new Set<string>();
  const fresh = (rows: readonly Item[]): Item[] =>
    rows.filter((item) => {
      if (!accept(item)) return false;
      const id = JSON.stringify([item.namespace, item.key]);
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  if (order !== "created-desc") {
    yield* readAll(store, prefix, fresh, order === "unknown");
    return;
  }
  let offset = 0;
  let after = Number.POSITIVE_INFINITY;
  let stepBack = FIRST_STEP_BACK;
  let stepsLeft = MAX_STEPS_BACK;
  for (;;) {
    const page = await searchPage(store, prefix, offset, PAGE_SIZE);
    const times = page.map(createdAtMs);
    if (!descending(times)) {
      yield* readAll(store, prefix, fresh, false);
      return;
    }
    if (offset > 0 && !((times[0] ?? Number.NEGATIVE_INFINITY) > after)) {
      if (stepsLeft-- === 0) {
        yield* readAll(store, prefix, fresh, false);
        return;
      }
      offset = Math.max(0, offset - stepBack);
      stepBack *= 2;
      continue;
    }
    stepBack = FIRST_STEP_BACK;
    const items = fresh(page);
    if (items.length > 0) yield items;
    if (page.length < PAGE_SIZE) return;
    after = times[times.length - 1] as number;
    let next = times.length - 1;
    while (next > 0 && times[next] === after) next--;
    // One creation time from the second row on: no row to start the next page at that moves on.
    if (next === 0) {
      yield* readAll(store, prefix, fresh, false);
      return;
    }
    offset += next;
  }
}

/** Everything under `prefix` in one call; `capped`: the store may answer less, read the rest by offset. */
async function* readAll(
  store: BaseStore,
  prefix: readonly string[],
  fresh: (rows: readonly Item[]) => Item[],
  capped: boolean,
): AsyncGenerator<Item[]> {
  const rows = await searchPage(store, prefix, 0, EVERYTHING);
  const items = fresh(rows);
  if (items.length > 0) yield items;
  if (!capped || rows.length === 0) return;
  for (let offset = rows.length; ; ) {
    const page = await searchPage(store, prefix, offset, PAGE_SIZE);
    const more = fresh(page);
    if (more.length > 0) yield more;
    if (page.length < PAGE_SIZE) return;
    offset += page.length;
  }
}

/** One search as a `batch` operation (PostgresStore's `search()` orders differently, see {@link ScanOrder}). */
async function searchPage(store: BaseStore, prefix: readonly string[], offset: number, limit: number): Promise<Item[]> {
  const [rows] = await storeCall(() => store.batch([{ namespacePrefix: [...prefix], limit, offset }]));
  return rows ?? [];
}

function createdAtMs(item: Item): number {
  return new Date(item.createdAt as Date | string).getTime();
}

/** True when `times` are valid and never increase. */
function descending(times: readonly number[]): boolean {
  for (let i = 0; i < times.length; i++) {
    const time = times[i] as number;
    if (Number.isNaN(time) || (i > 0 && time > (times[i - 1] as number))) return false;
  }
  return true;
}
