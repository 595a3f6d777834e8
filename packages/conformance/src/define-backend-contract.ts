import type { BackendProtocol } from "@deepfs/core";
import { describe } from "vitest";
import { registerBoundsRules } from "./bounds.js";
import { registerConcurrencyRules } from "./concurrency.js";
import { type BackendContractOptions, createContractContext } from "./context.js";
import { registerDeleteRules } from "./delete.js";
import { registerEditRules } from "./edit.js";
import { registerEncodingRules } from "./encoding.js";
import { registerErrorRules } from "./errors.js";
import { registerExecuteRules } from "./execute.js";
import { registerGlobRules } from "./glob.js";
import { registerGlobSecurityRules } from "./glob-security.js";
import { registerGrepRules } from "./grep.js";
import { registerHostileRules } from "./hostile.js";
import { registerInternalNameRules } from "./internal-names.js";
import { registerIsolationRules } from "./isolation.js";
import { registerLsRules } from "./ls.js";
import { registerPathRules } from "./paths.js";
import { registerPeerRules } from "./peers.js";
import { registerReadRules } from "./read.js";
import { registerReadOnlyMountRules } from "./read-only.js";
import { registerRouterDeleteRules } from "./router-delete.js";
import { registerRouterScaleRules } from "./router-scale.js";
import { registerScaleRules } from "./scale.js";
import { registerTransferRules } from "./transfer.js";
import { registerWriteRules } from "./write.js";

/**
 * Registers every rule of the deepfs backend contract as vitest tests for one backend.
 *
 * Call it at the top level of a test file. Each test gets a fresh subject from `create()` and
 * calls its `cleanup` afterwards; every path a test uses lies under the subject's `root`.
 *
 * @example
 * ```ts
 * defineBackendContract({
 *   name: "S3Backend",
 *   create: async () => {
 *     const backend = new S3Backend({ client, bucket, prefix: `t-${randomUUID()}` });
 *     return { backend, cleanup: () => backend.close() };
 *   },
 * });
 * ```
 */
export function defineBackendContract<B extends BackendProtocol>(options: BackendContractOptions<B>): void {
  const title = `${options.name} satisfies the deepfs backend contract`;
  if (options.skip !== undefined) {
    console.warn(`\n[deepfs-conformance] SKIPPING ${options.name}: ${options.skip}\n`);
    describe.skip(`${title} (skipped: ${options.skip})`, () => {
      registerAll(options);
    });
    return;
  }
  describe(title, () => {
    registerAll(options);
  });
}

function registerAll<B extends BackendProtocol>(options: BackendContractOptions<B>): void {
  const ctx = createContractContext(options);
  registerPathRules(ctx);
  registerReadRules(ctx);
  registerWriteRules(ctx);
  registerEditRules(ctx);
  registerEncodingRules(ctx);
  registerConcurrencyRules(ctx);
  registerLsRules(ctx);
  registerGlobRules(ctx);
  registerGlobSecurityRules(ctx);
  registerGrepRules(ctx);
  registerDeleteRules(ctx);
  const omitted = new Set(options.omit ?? []);
  if (!omitted.has("transfer")) registerTransferRules(ctx);
  if (!omitted.has("scale")) registerScaleRules(ctx);
  registerRouterDeleteRules(ctx);
  registerReadOnlyMountRules(ctx);
  if (!omitted.has("scale")) registerRouterScaleRules(ctx);
  registerErrorRules(ctx);
  registerHostileRules(ctx);
  registerBoundsRules(ctx);
  registerIsolationRules(ctx);
  registerInternalNameRules(ctx);
  if (options.peers) registerPeerRules(ctx);
  // Sandbox rules only exist for backends that may execute; declaring `execute: false` drops them.
  if (options.capabilities?.execute !== false) registerExecuteRules(ctx);
}
