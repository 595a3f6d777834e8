import { checkPath } from "@deepfs/core";
import type { BaseStore } from "@langchain/langgraph";
import { storeCall } from "./errors.js";
import { sameNamespace } from "./namespace.js";

/** Items per `store.search` call. */
export const PAGE_SIZE = 1000;

/** One item of the backend's own namespace whose key is a normalised virtual path. */
export interface ScannedItem {
  path: string;
  value: unknown;
}

/**
 * Pages through the items of exactly `namespace`. `store.search` takes a namespace *prefix* and
 * also returns deeper namespaces (and, in stores that match the joined path as text, siblings
 * such as `acme-corp` for `acme`), so every item is kept only when its namespace is equal.
 * Keys that are not normalised virtual paths are not files of this backend and are skipped. A key
 * seen twice (offset pagination over a store that is being written) is yielded once.
 */
export async function* scanNamespace(store: BaseStore, namespace: readonly string[]): AsyncGenerator<ScannedItem[]> {
  const seen = new Set<string>();
  for (let offset = 0; ; offset += PAGE_SIZE) {
    const page = await storeCall(() => store.search([...namespace], { limit: PAGE_SIZE, offset }));
    const items: ScannedItem[] = [];
    for (const item of page) {
      if (!sameNamespace(item.namespace, namespace) || seen.has(item.key)) continue;
      seen.add(item.key);
      const checked = checkPath(item.key);
      if (checked.ok && checked.path === item.key) items.push({ path: item.key, value: item.value });
    }
    if (items.length > 0) yield items;
    if (page.length < PAGE_SIZE) return;
  }
}
