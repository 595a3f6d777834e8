import { CliError, check } from "../errors.js";
import type { Output } from "../output.js";
import type { Session } from "../session.js";

/** Options of `deepfs grep`. */
export interface GrepOptions {
  glob?: string;
  maxCount?: number;
}

/**
 * `deepfs grep PATTERN [URL/path]`: lines containing a literal, case-sensitive string, printed as
 * `path:line:text` like ripgrep. Exit status 0 when something matched, 1 when nothing did (2 on error).
 */
export async function grep(
  session: Session,
  out: Output,
  pattern: string,
  operand: string,
  options: GrepOptions,
): Promise<number> {
  const { backend, path } = await session.target(operand);
  const result = check(await backend.grep(pattern, path, options.glob ?? null, options.maxCount ?? null), path);
  const matches = result.matches ?? [];
  await out.print({ matches, truncated: result.truncated === true }, () =>
    matches.map((match) => `${match.path}:${match.line}:${match.text}`),
  );
  return matches.length > 0 ? 0 : 1;
}

/** Options of `deepfs edit`. */
export interface EditOptions {
  old: string;
  new: string;
  replaceAll?: boolean;
}

/** `deepfs edit URL/path --old TEXT --new TEXT [--replace-all]`: an exact string replacement, atomic. */
export async function edit(session: Session, out: Output, operand: string, options: EditOptions): Promise<number> {
  const { backend, path } = await session.target(operand);
  if (path.endsWith("/")) throw new CliError("is_directory", "edit needs a file path, not a directory", { path });
  const result = check(await backend.edit(path, options.old, options.new, options.replaceAll === true), path);
  const occurrences = result.occurrences ?? 0;
  await out.print({ path: result.path ?? path, occurrences }, () => [
    `${result.path ?? path}: replaced ${occurrences} occurrence${occurrences === 1 ? "" : "s"}`,
  ]);
  return 0;
}
