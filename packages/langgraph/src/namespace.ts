import { DeepfsError } from "@deepfs/core";
import { getConfig, getCurrentTaskInput } from "@langchain/langgraph";

/**
 * What a namespace function receives on every call: the state and config of the LangGraph run the
 * call is part of (undefined outside a run), as deepagents' own `StoreBackend` resolves them.
 */
export interface NamespaceContext {
  /**
   * The graph state the current task received (e.g. `state.files`, or a field of your own state
   * schema), as LangGraph's `getCurrentTaskInput()` gives it; undefined outside a run.
   */
  state: unknown;
  /** `metadata` and `configurable` of the current run config (e.g. `configurable.user_id`). */
  config: { metadata?: Record<string, unknown>; configurable?: Record<string, unknown> } | undefined;
  /** `assistant_id` / `assistantId` from the run's metadata or configurable, when present. */
  assistantId: string | undefined;
}

/** A fixed namespace, or one derived per call from the run (one namespace per user or assistant). */
export type NamespaceOption = readonly string[] | ((context: NamespaceContext) => readonly string[]);

// `.` and `:` are the separators of LangGraph's stores (BaseStore refuses `.`, InMemoryStore `:`);
// wildcard and LIKE characters could widen a lookup beyond the namespace; control characters and
// NUL break stores and logs.
const FORBIDDEN = /[.:*?[\]{}%\\\u0000-\u001f\u007f]/;

/**
 * The first component of the namespace where a StoreBackend with `history` keeps its versions
 * (`[HISTORY_LABEL, ...namespace]`, apart from the files, so that listing the files never pages
 * through versions); refused in every namespace a user gives, so no StoreBackend's files can ever
 * be that namespace.
 */
export const HISTORY_LABEL = "deepfs-history";

/** Why `namespace` is unusable, or null. */
export function namespaceProblem(namespace: unknown): string | null {
  if (!Array.isArray(namespace)) return "the namespace must be an array of strings";
  if (namespace.length === 0) return "the namespace must have at least one component";
  for (const [i, component] of namespace.entries()) {
    if (typeof component !== "string") return `namespace component ${i} must be a string`;
    if (component === "") return `namespace component ${i} must not be empty`;
    if (FORBIDDEN.test(component))
      return `namespace component ${i} (${JSON.stringify(component)}) contains a character that is not allowed (. : * ? [ ] { } % \\ or a control character)`;
  }
  if (namespace.includes(HISTORY_LABEL)) {
    return `namespace component "${HISTORY_LABEL}" is reserved for the versions of StoreBackend history`;
  }
  if (namespace[0] === "langgraph") return 'the namespace must not start with "langgraph", which LangGraph reserves';
  return null;
}

/** Throws a `DeepfsError` (`invalid_argument`) for an unusable namespace; returns a frozen copy. */
export function validateNamespace(namespace: unknown): readonly string[] {
  const problem = namespaceProblem(namespace);
  if (problem) throw new DeepfsError("invalid_argument", `Invalid StoreBackend namespace: ${problem}`);
  return Object.freeze([...(namespace as string[])]);
}

/** True when `a` and `b` are the same namespace (not merely one a prefix of the other). */
export function sameNamespace(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((component, i) => component === b[i]);
}

/** True when `namespace` is `prefix` or below it, component by component (never by text). */
export function isWithinNamespace(namespace: readonly string[], prefix: readonly string[]): boolean {
  return namespace.length >= prefix.length && prefix.every((component, i) => component === namespace[i]);
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
}

function assistantIdOf(value: Record<string, unknown> | undefined): string | undefined {
  const id = value?.assistant_id ?? value?.assistantId;
  return typeof id === "string" && id.length > 0 ? id : undefined;
}

/** The context of the LangGraph run this call belongs to. */
export function currentNamespaceContext(): NamespaceContext {
  let state: unknown;
  try {
    state = getCurrentTaskInput();
  } catch {
    // Outside a run (or in a runtime without AsyncLocalStorage) there is no state, as in deepagents.
  }
  let config: NamespaceContext["config"];
  try {
    const current = record(getConfig());
    if (current) config = { metadata: record(current.metadata), configurable: record(current.configurable) };
  } catch {
    // Outside a LangGraph run there is no config; the function decides what that means.
  }
  return { state, config, assistantId: assistantIdOf(config?.metadata) ?? assistantIdOf(config?.configurable) };
}
