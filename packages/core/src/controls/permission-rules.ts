/**
 * Permission rules: ordered `{ action, operations, paths }` entries, first match wins, matched on
 * the canonical path (after the facade's validation) with the core glob matcher. The decision for
 * one operation on one path, and the one sentence detail a refusal carries (the rule's index, never
 * a path or content).
 */
import { DeepfsError } from "../errors.js";
import { createGlobMatcher, type PathMatcher } from "../glob.js";
import { type Fault, fault } from "../kit/driver.js";
import type { MaybePromise } from "../protocol.js";

/** What a rule does when it matches. */
export type PermissionAction = "allow" | "deny" | "ask";

/** The operations rules name: `edit` and `uploadFiles` are writes, `restore` too. */
export type PermissionOperation = "read" | "write" | "delete" | "execute";

/** One rule. */
export interface PermissionRule {
  action: PermissionAction;
  operations: PermissionOperation[];
  /**
   * Glob patterns (the contract's glob rules), matched against the canonical absolute path from the
   * root: `/secret/**`, `**\/.env`, `/src/*.{ts,js}`. Ignored for `execute`, which has no path.
   */
  paths: string[];
}

/** What an `ask` rule asks about. */
export interface PermissionRequest {
  operation: PermissionOperation;
  /** The canonical path (`/` for `execute`). */
  path: string;
  /** The command, for `execute`. */
  command?: string;
}

/** Approves (true) or refuses (false) one request of an `ask` rule. */
export type PermissionAsk = (request: PermissionRequest) => MaybePromise<boolean>;

/** Options of `withPermissions`. */
export interface PermissionOptions {
  /** Ordered rules; the first that names the operation and matches the path decides. */
  rules: PermissionRule[];
  /** Called for `ask` decisions; without it, `ask` refuses. A throw refuses too. */
  onAsk?: PermissionAsk;
  /** The decision when no rule matches (default `allow`). */
  defaultAction?: PermissionAction;
}

/** A decision: the action and the index of the rule that made it (-1: the default). */
export interface PermissionDecision {
  action: PermissionAction;
  rule: number;
}

const ACTIONS: ReadonlySet<string> = new Set(["allow", "deny", "ask"]);
const OPERATIONS: ReadonlySet<string> = new Set(["read", "write", "delete", "execute"]);

/**
 * A name no pattern literal can match (paths refuse control characters): the stand-in for "any
 * name" when deciding whether a rule covers every entry directly inside a directory.
 */
const ANY_NAME = "\u0000";

interface CompiledRule {
  action: PermissionAction;
  operations: ReadonlySet<PermissionOperation>;
  matches: PathMatcher;
}

/**
 * Case folding for restrictive rules: `deny` and `ask` match case-insensitively, so `/SECRET/x`
 * cannot slip past `deny /secret/**` on a case-insensitive store (macOS, Windows, some S3-compatible
 * servers); `allow` rules match exactly, so folding never widens what they allow.
 */
function fold(text: string): string {
  // Upper then lower case folds what lower case alone keeps apart (long s `ſ` and `s`, `ß` and
  // `ss`): a fold coarser than any filesystem's only makes a restrictive rule refuse more.
  return text.normalize("NFC").toUpperCase().toLowerCase();
}

function compileRule(rule: PermissionRule, index: number): CompiledRule {
  const where = `withPermissions: rule #${index}`;
  if (typeof rule !== "object" || rule === null) throw new DeepfsError("invalid_argument", `${where} is not an object`);
  if (!ACTIONS.has(rule.action)) {
    throw new DeepfsError("invalid_argument", `${where}: action must be "allow", "deny" or "ask"`);
  }
  if (!Array.isArray(rule.operations) || rule.operations.length === 0) {
    throw new DeepfsError("invalid_argument", `${where}: operations must be a non-empty array`);
  }
  for (const op of rule.operations) {
    if (!OPERATIONS.has(op)) {
      throw new DeepfsError("invalid_argument", `${where}: operations are "read", "write", "delete" or "execute"`);
    }
  }
  if (!Array.isArray(rule.paths) || rule.paths.length === 0) {
    throw new DeepfsError("invalid_argument", `${where}: paths must be a non-empty array of glob patterns`);
  }
  const foldCase = rule.action !== "allow";
  const matchers = rule.paths.map((pattern, k) => {
    if (typeof pattern !== "string" || pattern === "") {
      throw new DeepfsError("invalid_argument", `${where}, paths[${k}]: a glob pattern must be a non-empty string`);
    }
    try {
      return createGlobMatcher(foldCase ? fold(pattern) : pattern, "/");
    } catch (error) {
      const reason = error instanceof Error ? error.message : "invalid glob pattern";
      throw new DeepfsError("invalid_argument", `${where}, paths[${k}]: ${reason}`);
    }
  });
  const matches: PathMatcher = foldCase
    ? (path) => {
        const folded = fold(path);
        return matchers.some((m) => m(folded));
      }
    : (path) => matchers.some((m) => m(path));
  return { action: rule.action, operations: new Set(rule.operations), matches };
}

/** Compiled rules: decisions, and what a refusal says. */
export class PermissionPolicy {
  private readonly rules: CompiledRule[];
  private readonly fallback: PermissionAction;
  private readonly onAsk: PermissionAsk | undefined;
  /** Per operation: every path is allowed outright (no rule can refuse or ask), so nothing is checked. */
  private readonly open: ReadonlySet<PermissionOperation>;

  constructor(options: PermissionOptions) {
    if (typeof options !== "object" || options === null || !Array.isArray(options.rules)) {
      throw new DeepfsError("invalid_argument", "withPermissions needs { rules: [...] }");
    }
    const fallback = options.defaultAction ?? "allow";
    if (!ACTIONS.has(fallback)) {
      throw new DeepfsError("invalid_argument", 'withPermissions: defaultAction must be "allow", "deny" or "ask"');
    }
    if (options.onAsk !== undefined && typeof options.onAsk !== "function") {
      throw new DeepfsError("invalid_argument", "withPermissions: onAsk must be a function");
    }
    this.rules = options.rules.map(compileRule);
    this.fallback = fallback;
    this.onAsk = options.onAsk;
    const open = new Set<PermissionOperation>();
    for (const op of OPERATIONS as ReadonlySet<PermissionOperation>) {
      const restricted = this.rules.some((r) => r.action !== "allow" && r.operations.has(op));
      if (!restricted && fallback === "allow") open.add(op);
    }
    this.open = open;
  }

  /** True when no rule or default can refuse or ask for `op`: checks of it may be skipped. */
  isOpen(op: PermissionOperation): boolean {
    return this.open.has(op);
  }

  /** The first rule naming `op` that matches `path` (every rule naming `execute` matches it). */
  decide(op: PermissionOperation, path: string): PermissionDecision {
    if (this.open.has(op)) return { action: "allow", rule: -1 };
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i] as CompiledRule;
      if (rule.operations.has(op) && (op === "execute" || rule.matches(path))) return { action: rule.action, rule: i };
    }
    return { action: this.fallback, rule: -1 };
  }

  /** True when reading the file at `path` is allowed outright (listings and searches never ask). */
  showsFile(path: string): boolean {
    return this.decide("read", path).action === "allow";
  }

  /**
   * True when a directory entry may be listed: reading the directory and an arbitrary name directly
   * inside it are both allowed outright (so `deny /secret/**` hides `/secret/` from its parent).
   */
  showsDirectory(path: string): boolean {
    if (!this.showsFile(path)) return false;
    return this.showsFile(path === "/" ? `/${ANY_NAME}` : `${path}/${ANY_NAME}`);
  }

  /**
   * Null when `op` on `path` may go ahead, else the `permission_denied` fault. Answers at once
   * unless an `ask` rule decides (then the callback is awaited).
   */
  check(op: PermissionOperation, path: string, command?: string): MaybePromise<Fault | null> {
    const decision = this.decide(op, path);
    if (decision.action === "allow") return null;
    if (decision.action === "deny") return refusal(op, decision);
    return this.ask(op, path, decision, command);
  }

  /** {@link check} for several operations on one path, in order; the first refusal wins. */
  checkAll(ops: readonly PermissionOperation[], path: string): MaybePromise<Fault | null> {
    const [first, ...rest] = ops;
    if (first === undefined) return null;
    const verdict = this.check(first, path);
    const next = (found: Fault | null) => (found ? found : this.checkAll(rest, path));
    return verdict instanceof Promise ? verdict.then(next) : next(verdict);
  }

  /** Asks `onAsk` about `op` on `path` for an `ask` decision; null when approved, else the refusal. */
  async ask(
    op: PermissionOperation,
    path: string,
    decision: PermissionDecision,
    command?: string,
  ): Promise<Fault | null> {
    const onAsk = this.onAsk;
    if (!onAsk) return refusal(op, decision, "there is no onAsk callback to approve it");
    const request: PermissionRequest = { operation: op, path };
    if (command !== undefined) request.command = command;
    let approved = false;
    try {
      approved = (await onAsk(request)) === true;
    } catch {
      approved = false;
    }
    return approved ? null : refusal(op, decision, "it was not approved");
  }
}

/** The fault of a refused decision: which rule (or the default), never the path or contents. */
function refusal(op: PermissionOperation, decision: PermissionDecision, why = ""): Fault {
  const by = decision.rule < 0 ? "the default action" : `rule #${decision.rule}`;
  const detail = decision.action === "ask" ? `${by} asks before ${op}, and ${why}` : `${by} denies ${op}`;
  return fault("permission_denied", { detail });
}
