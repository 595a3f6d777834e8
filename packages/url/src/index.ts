export {
  CONFIG_FILE_NAME,
  checkConfig,
  configSecrets,
  loadConfigFile,
  type OpenConfigOptions,
  openBackend,
  openConfig,
} from "./config.js";
export { type Location, parseLocation } from "./location.js";
export { maskUrl, scrubSecrets, secretsOf } from "./mask.js";
export { describeSpec, type OpenedBackend, openSpec, SCHEME_PACKAGES } from "./open.js";
export { type ParseOptions, parseBackendUrl, SCHEMES, schemeOf } from "./parse.js";
export type {
  BackendSpec,
  ConfigRoute,
  DeepfsConfig,
  DockerSpec,
  FileSpec,
  MemorySpec,
  PgliteSpec,
  PostgresSpec,
  S3Spec,
} from "./spec.js";
