/**
 * The deepfs backend contract as a vitest suite. Run it against any backend:
 *
 * ```ts
 * import { defineBackendContract } from "@deepfs/conformance";
 * defineBackendContract({ name: "MyBackend", create: () => new MyBackend() });
 * ```
 */

export { registerBoundsRules } from "./bounds.js";
export { registerBranchRules } from "./branches.js";
export { registerConcurrencyRules } from "./concurrency.js";
export type {
  BackendContractOptions,
  CapabilityName,
  ContractContext,
  ContractSubject,
  RuleEnv,
  RuleOptions,
} from "./context.js";
export { createContractContext, DEFAULT_TIMEOUT, HEAVY_TIMEOUT } from "./context.js";
export { defineBackendContract } from "./define-backend-contract.js";
export { registerDeleteRules } from "./delete.js";
export { type DriverContractOptions, type DriverSubject, defineDriverContract } from "./driver-contract.js";
export { registerEditRules } from "./edit.js";
export { registerEncodingRules } from "./encoding.js";
export { registerErrorRules } from "./errors.js";
export { registerExecuteRules } from "./execute.js";
export { registerGlobRules } from "./glob.js";
export { registerGlobSecurityRules } from "./glob-security.js";
export { registerGrepRules } from "./grep.js";
export { type HistoryRuleOptions, registerHistoryRules } from "./history.js";
export { registerHostileRules } from "./hostile.js";
export { registerInternalNameRules } from "./internal-names.js";
export { registerIsolationRules } from "./isolation.js";
export { registerLsRules } from "./ls.js";
export { registerPathRules } from "./paths.js";
export { registerPeerRules } from "./peers.js";
export {
  definePermissionContract,
  type PermissionContractOptions,
  registerPermissionRules,
} from "./permissions.js";
export { registerReadRules } from "./read.js";
export { registerScaleRules } from "./scale.js";
export { registerTransferRules } from "./transfer.js";
export { registerWriteRules } from "./write.js";
