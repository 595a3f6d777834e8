import { DeepfsError, type ErrorCode, type SandboxBackendProtocol, shellQuote, validatePath } from "@deepfs/core";
import type {
  Experimental_SandboxDirectoryEntry as SandboxDirectoryEntry,
  Experimental_SandboxFileStat as SandboxFileStat,
  Experimental_SandboxProcess as SandboxProcess,
  Experimental_SandboxSession as SandboxSession,
} from "ai";

type RunOptions = Parameters<SandboxSession["run"]>[0];
type RunResult = Awaited<ReturnType<SandboxSession["run"]>>;
type SpawnOptions = RunOptions & { stdin?: boolean };

/** Options of {@link toSandboxSession}. */
export interface SandboxSessionOptions {
  /**
   * The session's base directory: relative paths resolve against it, and commands `cd` into it
   * first. Default: relative paths resolve against `/`, and commands start where the sandbox's
   * `execute` starts them.
   */
  workingDirectory?: string;
  /** What the session tells the agent about the sandbox (default: its id and the path rules). */
  description?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A deepfs sandbox (any `SandboxBackendProtocol`: a `BaseSandbox` subclass, `DockerSandbox`, a
 * `LocalBackend` with `execute`) as the AI SDK's experimental sandbox session, to pass as
 * `experimental_sandbox` to `generateText`, `streamText` or an agent; tools reach it through
 * `options.experimental_sandbox`.
 *
 * - Files go through the sandbox's `downloadFiles`/`uploadFiles` (exact bytes) and `ls`/`delete`;
 *   every path is validated first (`..`, backslashes and the like reject with `invalid_path`).
 * - Commands go through `execute`, which combines stdout and stderr: `run` answers them both as
 *   `stdout` (and `stderr: ""`); `env` is exported in the command line, so the sandbox's command
 *   log sees it. A timeout or an unknown exit status gives the sandbox's code (124) or 1.
 * - `spawn` runs the command the same way: its output arrives when the command ends, and
 *   `kill()` aborts it. Writable stdin (`stdin: true`) rejects with `unsupported`.
 * - Failures reject with a `DeepfsError` carrying the deepfs code; a missing file answers `null`
 *   (`false` for `deleteFile`), as the interface asks.
 */
export function toSandboxSession(sandbox: SandboxBackendProtocol, options: SandboxSessionOptions = {}): SandboxSession {
  const base = options.workingDirectory === undefined ? "/" : validatePath(options.workingDirectory);
  const resolve = (path: string) => validatePath(path.startsWith("/") ? path : `${base === "/" ? "" : base}/${path}`);

  async function readBinaryFile({ path }: { path: string }): Promise<Uint8Array | null> {
    const target = resolve(path);
    const [result] = await sandbox.downloadFiles([target]);
    if (result?.content) return result.content;
    if (result?.error === "file_not_found") return null;
    throw failure(result?.error ?? "backend_unavailable", `Cannot read '${target}'`);
  }

  async function writeBinaryFile({ path, content }: { path: string; content: Uint8Array }): Promise<void> {
    const target = resolve(path);
    const [result] = await sandbox.uploadFiles([[target, content]]);
    if (!result || result.error) throw failure(result?.error ?? "backend_unavailable", `Cannot write '${target}'`);
  }

  async function stat({ path }: { path: string }): Promise<SandboxFileStat | null> {
    const target = resolve(path);
    if (target === "/") return { type: "directory", size: 0 };
    const parent = target.slice(0, target.lastIndexOf("/")) || "/";
    const listing = await sandbox.ls(parent);
    if (listing.code === "file_not_found" || listing.code === "not_a_directory") return null;
    if (listing.error) throw new DeepfsError(listing.code ?? "backend_unavailable", listing.error);
    const entry = (listing.files ?? []).find((f) => f.path === target || f.path === `${target}/`);
    if (!entry) return null;
    return entry.is_dir ? { type: "directory", size: entry.size ?? 0 } : { type: "file", size: entry.size ?? 0 };
  }

  async function run({ command, workingDirectory, env, abortSignal, maxOutputLength }: RunOptions): Promise<RunResult> {
    const lines: string[] = [];
    const cwd = workingDirectory ?? options.workingDirectory;
    if (cwd !== undefined) lines.push(`cd ${shellQuote(resolve(cwd))} || exit 1`);
    for (const [name, value] of Object.entries(env ?? {})) {
      if (!ENV_NAME.test(name))
        throw new DeepfsError("invalid_argument", `Invalid environment variable name ${JSON.stringify(name)}`);
      lines.push(`export ${name}=${shellQuote(value)}`);
    }
    lines.push(command);
    const result = await sandbox.execute(lines.join("\n"), abortSignal ? { signal: abortSignal } : {});
    const exitCode = result.exitCode ?? 1;
    if (maxOutputLength === undefined || result.output.length <= maxOutputLength) {
      return { exitCode, stdout: result.output, stderr: "" };
    }
    return {
      exitCode,
      stdout: result.output.slice(0, maxOutputLength),
      stderr: "",
      stdoutLength: result.output.length,
      stderrLength: 0,
    };
  }

  async function spawn({ stdin, abortSignal, ...rest }: SpawnOptions): Promise<SandboxProcess> {
    if (stdin) throw new DeepfsError("unsupported", "This sandbox session cannot keep a command's stdin open");
    const controller = new AbortController();
    abortSignal?.addEventListener("abort", () => controller.abort(abortSignal.reason), { once: true });
    const done = run({ ...rest, abortSignal: controller.signal });
    const encoder = new TextEncoder();
    const streamOf = (pick: (result: RunResult) => string) =>
      new ReadableStream<Uint8Array>({
        async start(stream) {
          try {
            const text = pick(await done);
            if (text !== "") stream.enqueue(encoder.encode(text));
            stream.close();
          } catch (error) {
            stream.error(error);
          }
        },
      });
    return {
      stdout: streamOf((r) => r.stdout),
      stderr: streamOf((r) => r.stderr),
      wait: async () => ({ exitCode: (await done).exitCode }),
      kill: async () => controller.abort(),
    };
  }

  return {
    description:
      options.description ??
      `deepfs sandbox ${sandbox.id}: absolute POSIX paths ('/src/app.py'); relative ones resolve against ${base}.`,
    readBinaryFile,
    readFile: async (args) => {
      const bytes = await readBinaryFile(args);
      if (bytes === null) return null;
      return new ReadableStream<Uint8Array>({
        start(stream) {
          stream.enqueue(bytes);
          stream.close();
        },
      });
    },
    readTextFile: async ({ encoding, startLine, endLine, ...args }) => {
      const bytes = await readBinaryFile(args);
      if (bytes === null) return null;
      const text = new TextDecoder(encoding ?? "utf-8").decode(bytes);
      if (startLine === undefined && endLine === undefined) return text;
      return text
        .split("\n")
        .slice(Math.max(0, (startLine ?? 1) - 1), endLine)
        .join("\n");
    },
    writeBinaryFile,
    writeFile: async ({ content, ...args }) => {
      const bytes = new Uint8Array(await new Response(content).arrayBuffer());
      await writeBinaryFile({ ...args, content: bytes });
    },
    writeTextFile: async ({ content, encoding, ...args }) => {
      if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
        throw new DeepfsError("unsupported", `Cannot encode text as ${encoding}: only UTF-8 is supported`);
      }
      await writeBinaryFile({ ...args, content: new TextEncoder().encode(content) });
    },
    stat,
    listDirectory: async ({ path }) => {
      const found = await stat({ path });
      if (found === null) return null;
      const target = resolve(path);
      if (found.type !== "directory") throw new DeepfsError("not_a_directory", `'${target}' is not a directory`);
      const listing = await sandbox.ls(target);
      if (listing.error) throw new DeepfsError(listing.code ?? "backend_unavailable", listing.error);
      return (listing.files ?? []).map(
        (f): SandboxDirectoryEntry => ({
          name: f.path.replace(/\/$/, "").slice(f.path.replace(/\/$/, "").lastIndexOf("/") + 1),
          type: f.is_dir ? "directory" : "file",
        }),
      );
    },
    deleteFile: async ({ path }) => {
      const found = await stat({ path });
      if (found === null) return false;
      const target = resolve(path);
      if (found.type === "directory") throw new DeepfsError("is_directory", `'${target}' is a directory`);
      const result = await sandbox.delete(target);
      if (result.code === "file_not_found") return false;
      if (result.error) throw new DeepfsError(result.code ?? "backend_unavailable", result.error);
      return true;
    },
    // The overload with `stdin: true` never resolves here (it rejects with `unsupported`).
    spawn: spawn as unknown as SandboxSession["spawn"],
    run,
  };
}

function failure(code: string, message: string): DeepfsError {
  return new DeepfsError(code as ErrorCode, `${message} (${code})`);
}
