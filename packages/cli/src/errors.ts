import { DeepfsError, type ErrorCode } from "@deepfs/core";
import { scrubSecrets } from "@deepfs/url";

/** A failure of one command: printed as one line (code, path, message, hint), exit status 2. */
export class CliError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { path?: string; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "CliError";
    this.code = code;
    this.path = options.path;
    this.hint = options.hint ?? HINTS[code];
  }
}

/** What to try next, per code. */
const HINTS: Partial<Record<ErrorCode, string>> = {
  file_not_found: "list the directory with 'deepfs ls'",
  is_directory: "this is a directory: use 'deepfs ls', or -r with rm",
  not_a_directory: "a file is in the way of this path",
  invalid_path: "paths inside a backend are absolute and have no '.' or '..' segments",
  invalid_argument: "see 'deepfs <command> --help'",
  permission_denied: "check the permissions or credentials of the store",
  read_only: "this path is on a read-only route of the config",
  string_not_found: "--old must match the file exactly, whitespace included",
  multiple_occurrences: "make --old unique or pass --replace-all",
  conflict: "the file changed meanwhile: run the command again",
  too_large: "the file is larger than the backend accepts",
  timeout: "the store did not answer in time: check it is reachable",
  unsupported: "this backend cannot do that",
  backend_unavailable: "check that the store is reachable (URL, endpoint, credentials)",
};

/** A result's failure as a CliError, or nothing when the result is a success. */
export function failed(
  result: { error?: string | null; code?: ErrorCode; message?: string },
  path: string,
): CliError | undefined {
  if (!result.error) return undefined;
  const code = result.code ?? (result.error as ErrorCode);
  return new CliError(code, result.message ?? result.error, { path });
}

/** Throws the result's failure, if any. */
export function check<T extends { error?: string | null; code?: ErrorCode }>(result: T, path: string): T {
  const failure = failed(result, path);
  if (failure) throw failure;
  return result;
}

/** Any thrown value as a CliError (configuration errors keep their code; anything else is the store failing). */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (DeepfsError.isInstance(error)) return new CliError(error.code, error.message, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new CliError("backend_unavailable", message, { cause: error });
}

/** The one line printed for an error, with every secret masked. */
export function formatError(error: CliError, secrets: readonly string[]): string {
  const message = scrubSecrets(error.message, secrets).replace(/\s+/g, " ").trim();
  const path = error.path === undefined ? "" : ` ${scrubSecrets(error.path, secrets)}:`;
  const hint = error.hint ? ` (hint: ${error.hint})` : "";
  return `deepfs: error[${error.code}]${path} ${message}${hint}`;
}

/** The JSON form of an error (printed on stdout with --json). */
export function errorJson(error: CliError, secrets: readonly string[]): object {
  return {
    error: {
      code: error.code,
      ...(error.path === undefined ? {} : { path: scrubSecrets(error.path, secrets) }),
      message: scrubSecrets(error.message, secrets).replace(/\s+/g, " ").trim(),
      ...(error.hint ? { hint: error.hint } : {}),
    },
  };
}
