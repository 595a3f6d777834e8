import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import type { ErrorCode, ExecuteResponse } from "@deepfs/core";
import { decodeUtf8Lossy } from "@deepfs/core";

/** Resolved execute settings. */
export interface ShellSettings {
  cwd: string;
  timeoutMs: number;
  maxOutputBytes: number;
  env: Record<string, string>;
}

/** How long to wait for output pipes to close once the shell has exited and its group was killed. */
const DRAIN_GRACE_MS = 250;

/** Largest timeout Node's timers take (about 24.8 days); a larger one would fire at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Null for a usable timeout (a number of milliseconds, 0 < t <= {@link MAX_TIMEOUT_MS}), else why not. */
export function timeoutProblem(timeoutMs: unknown): string | null {
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs)) return "timeoutMs must be a number of milliseconds";
  if (timeoutMs <= 0) return "timeoutMs must be positive (a timeout of 0 or less would kill the command at once)";
  if (timeoutMs > MAX_TIMEOUT_MS) return `timeoutMs must be at most ${MAX_TIMEOUT_MS}`;
  return null;
}

/**
 * Runs `command` with `/bin/sh -c` in its own process group, stdin closed. stdout and stderr are
 * combined in arrival order and capped at `maxOutputBytes` (`truncated`). The whole group is
 * killed when the shell exits (background jobs such as `sleep 30 &` do not outlive the call), on
 * timeout and on abort; a timeout answers exit code 124 and says so in the output. A process that
 * leaves the group (`setsid`, a daemon) is not tracked. `running` tracks live children so the
 * backend can kill them on close. A `timeoutMs` that is not a positive number is refused with
 * `code: "invalid_argument"` before anything runs.
 */
export function runShell(
  command: string,
  settings: ShellSettings,
  running: Set<ChildProcess>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ExecuteResponse> {
  if (typeof command !== "string" || command.trim() === "") {
    return Promise.resolve({ output: "Error: command must be a non-empty string", exitCode: 1, truncated: false });
  }
  if (options.signal?.aborted) {
    return Promise.resolve({ output: "Error: command aborted before it started", exitCode: 130, truncated: false });
  }
  const timeoutMs = options.timeoutMs ?? settings.timeoutMs;
  const problem = timeoutProblem(timeoutMs);
  if (problem !== null) {
    // Typed like the failures of the file methods, beside the fields deepagents reads.
    const refused: ExecuteResponse & { error: string; code: ErrorCode } = {
      output: `Error: ${problem}`,
      exitCode: 1,
      truncated: false,
      error: problem,
      code: "invalid_argument",
    };
    return Promise.resolve(refused);
  }
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", command], {
      cwd: settings.cwd,
      env: settings.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    running.add(child);
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    let ended: "timeout" | "aborted" | null = null;
    let settled = false;
    const collect = (chunk: Buffer) => {
      const room = settings.maxOutputBytes - kept;
      if (chunk.length > room) truncated = true;
      if (room <= 0) return;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      kept += part.length;
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // The group is already gone.
      }
    };
    const stop = (why: "timeout" | "aborted") => {
      ended = why;
      killGroup();
    };
    const timer = setTimeout(() => stop("timeout"), timeoutMs);
    const onAbort = () => stop("aborted");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (settled) return;
      settled = true;
      // Whatever the shell left running in its group goes with it.
      killGroup();
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      running.delete(child);
      child.stdout?.destroy();
      child.stderr?.destroy();
      let output = decodeUtf8Lossy(Buffer.concat(chunks));
      if (spawnError) {
        resolve({
          output: `Error: could not start the shell (${(spawnError as { code?: string }).code ?? "error"})`,
          exitCode: 1,
          truncated: false,
        });
        return;
      }
      const note = (text: string) => {
        output = output === "" || output.endsWith("\n") ? `${output}${text}` : `${output}\n${text}`;
      };
      if (truncated) note(`[output truncated at ${settings.maxOutputBytes} bytes]`);
      if (ended === "timeout") {
        note(`[command timed out after ${timeoutMs} ms]`);
        resolve({ output, exitCode: 124, truncated });
        return;
      }
      if (ended === "aborted") {
        note("[command aborted]");
        resolve({ output, exitCode: 130, truncated });
        return;
      }
      resolve({ output, exitCode: exitCode ?? 128 + (signal ? constants.signals[signal] : 0), truncated });
    };
    child.on("error", (error) => finish(null, null, error));
    child.on("close", (code, signal) => finish(code, signal));
    child.on("exit", (code, signal) => {
      // Background jobs would keep the pipes open: the group goes now, and the output already in the
      // pipes is still read before "close". Should something outside the group hold them, stop waiting.
      killGroup();
      setTimeout(() => finish(code, signal), DRAIN_GRACE_MS).unref();
    });
  });
}
