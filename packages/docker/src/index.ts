export { DockerSandbox } from "./docker-sandbox.js";
export {
  type BuildRuntimeImageOptions,
  buildRuntimeImage,
  RECIPE_LABEL,
  runtimeDockerfile,
} from "./image-build.js";
export type { DockerSandboxOptions } from "./options.js";
export { MANAGED_LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL, SANDBOX_LABEL } from "./options.js";
export { cleanupOrphans, type RemovedOrphan } from "./orphans.js";
export {
  BUSYBOX_BASE_IMAGE,
  DEBIAN_BASE_IMAGE,
  RUNTIME_PRESETS,
  type RuntimeBuild,
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
