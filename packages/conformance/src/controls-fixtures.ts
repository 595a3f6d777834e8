/**
 * Settings of the production controls (`withPermissions`, `withQuota`) that let the whole contract
 * through: suites and benchmarks that run the contract, or a workload, with the layers in place use
 * these instead of their own copies. Free of vitest, so a benchmark can import them.
 */
import type { PermissionOptions, PermissionRule, QuotaLimits } from "@deepfs/core";

/** Generous: the scale rules write thousands of files and a 200,000-line file. */
export const GENEROUS_LIMITS: Readonly<QuotaLimits> = Object.freeze({
  maxBytes: 1024 ** 3,
  maxFiles: 1_000_000,
  maxFileSize: 256 * 1024 ** 2,
});

/** A directory no contract rule, soak or benchmark writes into. */
export const NEVER_USED_PATHS = "/never-used-by-tests/**";

/**
 * Rules that allow reading, writing and deleting everything: a deny of those operations on
 * {@link NEVER_USED_PATHS}, which nothing writes into, then `alsoDeny`, then an allow of them on `**`.
 */
export function allowingRules(alsoDeny: readonly PermissionRule[] = []): PermissionOptions {
  return {
    rules: [
      { action: "deny", operations: ["read", "write", "delete"], paths: [NEVER_USED_PATHS] },
      ...alsoDeny.map((rule) => ({ ...rule, operations: [...rule.operations], paths: [...rule.paths] })),
      { action: "allow", operations: ["read", "write", "delete"], paths: ["**"] },
    ],
  };
}

/** {@link allowingRules} with nothing else denied. */
export const ALLOWING_RULES: Readonly<PermissionOptions> = allowingRules();
