export type { FileToolName, FileToolOptions } from "@deepfs/tools";
export { createFileTools, type FileFunctionTool } from "./file-tools.js";
