export { FilesystemBackend, LocalBackend } from "./local-backend.js";
export type { GrepEngine, LocalBackendOptions, LocalExecuteOptions, LocalHistoryOptions } from "./options.js";
