/**
 * `@deepfs/langgraph`: any LangGraph `BaseStore` as a deepfs agent filesystem.
 *
 * ```ts
 * import { StoreBackend } from "@deepfs/langgraph";
 * const memories = new StoreBackend({ store, namespace: ["memories", "user-42"] });
 * ```
 */

export { type TranslatedError, translateError } from "./errors.js";
export type { BinaryEncoding, StoredFileValue } from "./file-value.js";
export { type NamespaceContext, type NamespaceOption, sameNamespace, validateNamespace } from "./namespace.js";
export { StoreBackend, type StoreBackendOptions } from "./store-backend.js";
