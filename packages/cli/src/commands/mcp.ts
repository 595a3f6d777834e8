import { CliError } from "../errors.js";
import { type Output, writeAll } from "../output.js";
import type { Session } from "../session.js";

/** Options of `deepfs mcp`. */
export interface McpCommandOptions {
  readOnly?: boolean;
  allowExecute?: boolean;
  /** Serve Streamable HTTP on this port instead of stdio. */
  http?: number;
  host?: string;
  token?: string;
}

/** The environment variable holding the bearer token (kept out of `ps` output, unlike --token). */
export const TOKEN_VARIABLE = "DEEPFS_MCP_TOKEN";

/** Resolves on SIGINT or SIGTERM (the way a server started from a shell or a supervisor is stopped). */
function signalled(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/**
 * `deepfs mcp URL | --config F`: serves a backend to MCP clients, over stdio until the client closes
 * it, or over Streamable HTTP (`--http PORT`) until SIGINT/SIGTERM. Nothing but the protocol is
 * written to stdout in stdio mode; notes go to stderr.
 */
export async function mcp(
  session: Session,
  out: Output,
  url: string | undefined,
  options: McpCommandOptions,
): Promise<number> {
  // Loaded here, not at start: the MCP SDK is most of the CLI's start-up time, and only `mcp` needs it.
  const { keepsHistory, serveHttp, serveStdio } = await import("@deepfs/mcp");
  const opened = await session.backend(url);
  const serverOptions = {
    readOnly: options.readOnly === true,
    allowExecute: options.allowExecute === true,
    // The history tools only when the store keeps history now (a store without it would answer unsupported).
    history: await keepsHistory(opened.backend),
  };
  const mode = serverOptions.readOnly ? " (read-only)" : "";
  if (options.http === undefined) {
    if (options.host !== undefined || options.token !== undefined) {
      throw new CliError("invalid_argument", "--host and --token apply to --http only", { hint: "add --http PORT" });
    }
    const running = await serveStdio(opened.backend, {
      ...serverOptions,
      stdin: out.streams.stdin,
      stdout: out.streams.stdout,
    });
    if (session.options.verbose)
      await writeAll(out.streams.stderr, `deepfs mcp: serving ${opened.label}${mode} on stdio\n`);
    await running.closed;
    return 0;
  }
  const token = options.token ?? (process.env[TOKEN_VARIABLE] || undefined);
  const running = await serveHttp(opened.backend, {
    ...serverOptions,
    port: options.http,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(token === undefined ? {} : { token }),
  });
  const auth = token === undefined ? "no token" : "bearer token required";
  await writeAll(out.streams.stderr, `deepfs mcp: serving ${opened.label}${mode} on ${running.url} (${auth})\n`);
  if (options.host !== undefined && token === undefined) {
    await writeAll(
      out.streams.stderr,
      `deepfs mcp: warning: listening on ${options.host} without a token: set ${TOKEN_VARIABLE} or --token\n`,
    );
  }
  await Promise.race([signalled(), running.closed]);
  await running.close();
  return 0;
}
