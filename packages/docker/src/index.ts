export { DockerSandbox } from "./docker-sandbox.js";
export type { DockerSandboxOptions } from "./options.js";
export { MANAGED_LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL, SANDBOX_LABEL } from "./options.js";
export { cleanupOrphans, type RemovedOrphan } from "./orphans.js";
export {
  RUNTIME_PRESETS,
  type RuntimeConfig,
  type RuntimePreset,
  type RuntimePresetName,
  resolveRuntime,
} from "./runtimes.js";
export {
  SESSION_LABEL,
  SessionManager,
  type SessionManagerOptions,
  type SessionSandboxOptions,
} from "./session-manager.js";
