export type { FileToolName, FileToolOptions } from "@deepfs/tools";
export { createFileTools, type FileTools } from "./file-tools.js";
export { type SandboxSessionOptions, toSandboxSession } from "./sandbox-session.js";
