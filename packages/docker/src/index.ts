export { DockerSandbox } from "./docker-sandbox.js";
export type { DockerSandboxOptions } from "./options.js";
export { MANAGED_LABEL, SANDBOX_LABEL } from "./options.js";
export {
  RUNTIME_PRESETS,
  type RuntimeConfig,
  type RuntimePreset,
  type RuntimePresetName,
  resolveRuntime,
} from "./runtimes.js";
