export {
  EDIT_FILE_DESCRIPTION,
  GLOB_DESCRIPTION,
  GREP_DESCRIPTION,
  LS_DESCRIPTION,
  READ_FILE_DESCRIPTION,
  WRITE_FILE_DESCRIPTION,
} from "./descriptions.js";
export {
  type AnyFileToolDefinition,
  createFileToolDefinitions,
  DEFAULT_GREP_MAX_COUNT,
  DEFAULT_READ_LIMIT,
  FILE_TOOL_NAMES,
  type FileToolDefinition,
  type FileToolName,
  type FileToolOptions,
  GREP_TRUNCATION_NOTE,
  READ_TOOL_NAMES,
  WRITE_TOOL_NAMES,
} from "./file-tools.js";
export { errorText, guarded } from "./results.js";
export * from "./schemas.js";
