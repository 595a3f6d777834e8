export { DeepfsFilesystem, type DeepfsFilesystemOptions } from "./deepfs-filesystem.js";
export { DeepfsFilesystemError, toMastraError } from "./errors.js";
export { toBackendPath } from "./paths.js";
