/** The tools' descriptions, worded as deepagents' own (1.14) so a model prompted for them behaves the same. */

export const LS_DESCRIPTION =
  "Lists all files in a directory.\n\nThis is useful for exploring the filesystem and finding the right file to read or edit.\nYou should almost ALWAYS use this tool before using the read_file or edit_file tools.";

export const READ_FILE_DESCRIPTION = [
  "Reads a file from the filesystem. Assume any path the user provides is valid; reading a missing file returns an error.",
  "",
  "Usage:",
  "- By default, it reads up to 100 lines starting from the beginning of the file. Use `offset`/`limit` to page through large files instead of reading them whole.",
  "- A status header, `@@ field | field | ... @@`, sits above the file content, and every line after it is unmodified file content. Never include the header when editing.",
  "- An empty file returns a system-reminder warning in place of contents.",
  "- Binary files are described, not shown.",
  "- Always read a file before editing it.",
].join("\n");

export const WRITE_FILE_DESCRIPTION = [
  "Writes content to a file. Creates the file if it does not exist; replaces it entirely if it does.",
  "",
  "Usage:",
  "- Use this tool when you intend to create a new file or replace the whole file. You do not need to read the file first.",
  "- Prefer to edit existing files (with the edit_file tool) over creating new ones when possible.",
].join("\n");

export const EDIT_FILE_DESCRIPTION = [
  "Performs exact string replacements in files.",
  "",
  "Usage:",
  "- You must read the file before editing; this tool errors otherwise.",
  "- Preserve the exact source indentation from the read output, and never include the read status header in old_string or new_string.",
  "- Prefer editing an existing file over creating a new one.",
].join("\n");

export const GLOB_DESCRIPTION =
  "Find files matching a glob pattern, returning absolute paths.\n\nSupports `*` (any characters), `**` (any directories), `?` (single character), e.g. `**/*.py`, `*.txt`, `/subdir/**/*.md`.";

export const GREP_DESCRIPTION =
  'Search for a LITERAL text pattern across files (NOT regex).\n\nThe pattern is matched verbatim: regex metacharacters are ordinary characters, not operators. To match any of several strings, run a separate grep for each; `grep(pattern="foo|bar")` searches for the literal text "foo|bar".\n\nReturns matching files or content per `output_mode`.';
