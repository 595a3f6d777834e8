/**
 * Input schemas of the six file tools: deepagents' argument names (`file_path`, `offset`, `limit`,
 * `old_string`, `new_string`, `replace_all`, `pattern`, `path`, `glob`, `max_count`, `output_mode`).
 * Optional arguments are plain `.optional()` (no `.default()`): the defaults are applied by the
 * executors, so the JSON Schema a framework derives is the same for input and output, and
 * frameworks with a strict mode (OpenAI Agents) can turn each optional field into a nullable one.
 */
import * as z from "zod";

export const lsInput = z.object({
  path: z.string().optional().describe("Directory path to list (default: /)"),
});

export const readFileInput = z.object({
  file_path: z.string().describe("Absolute path to the file to read"),
  offset: z.number().int().min(0).optional().describe("Line offset to start reading from (0-indexed)"),
  limit: z.number().int().min(1).optional().describe("Maximum number of lines to read (default 100)"),
});

export const writeFileInput = z.object({
  file_path: z.string().describe("Absolute path where the file should be written. Must be absolute, not relative."),
  content: z.string().describe("The text content to write to the file. This parameter is required."),
});

export const editFileInput = z.object({
  file_path: z.string().describe("Absolute path to the file to edit"),
  old_string: z.string().describe("String to be replaced (must match exactly)"),
  new_string: z.string().describe("String to replace with"),
  replace_all: z.boolean().optional().describe("Whether to replace all occurrences (default false)"),
});

export const globInput = z.object({
  pattern: z.string().describe("Glob pattern to match files (e.g., '**/*.py', '*.txt', '/subdir/**/*.md')"),
  path: z.string().optional().describe("Base directory to search from (default: /)"),
});

export const grepInput = z.object({
  pattern: z.string().describe("Literal text pattern to search for (not regex)"),
  path: z.string().optional().describe("Base path to search from (default: /)"),
  glob: z.string().optional().describe("Optional glob pattern to filter files (e.g., '*.py')"),
  max_count: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("Optional cap on the total number of matches returned across all files"),
  output_mode: z
    .enum(["files_with_matches", "content", "count"])
    .optional()
    .describe(
      "Output format: 'files_with_matches' lists matching file paths, 'content' shows matching lines (default), 'count' shows match counts per file",
    ),
});

export type LsInput = z.infer<typeof lsInput>;
export type ReadFileInput = z.infer<typeof readFileInput>;
export type WriteFileInput = z.infer<typeof writeFileInput>;
export type EditFileInput = z.infer<typeof editFileInput>;
export type GlobInput = z.infer<typeof globInput>;
export type GrepInput = z.infer<typeof grepInput>;
