export type { FileToolName, FileToolOptions } from "@deepfs/tools";
export { createFileTools, type FileTools } from "./file-tools.js";
