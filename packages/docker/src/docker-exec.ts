/**
 * Command execution in a sandbox's container: the user's commands (`execute`, an exec each, with
 * time limits, abort and output cap) and the sandbox's own short commands (through an exec, or a
 * channel's `deepfs_run`).
 */
import { randomBytes } from "node:crypto";
import type { ExecuteOptions, ExecuteResponse } from "@deepfs/core";
import { withRetry } from "@deepfs/core/kit";
import type Docker from "dockerode";
import type { ChannelReply } from "./channel.js";
import { ContainerStoppedError, classifyContainerError } from "./errors.js";
import { type ExecSpec, runExec } from "./exec.js";
import type { ResolvedSandboxOptions } from "./options.js";
import { CappedOutput } from "./output.js";
import { KILL_SCRIPT } from "./scripts.js";

/** What an internal command left. */
export interface Captured {
  exitCode: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Most bytes of stdout, and of stderr, kept of an internal command run with {@link DockerExec.capture}. */
export const MAX_CAPTURE_BYTES = 1024 * 1024;
// Room for the exit status that `deepfs_run` writes to stderr after the output.
const RUN_STATUS_BYTES = 64;
const EXIT_TIMEOUT = 124;
const EXIT_ABORTED = 130;
const EXIT_SIGKILL = 137;
// Transient daemon faults: attempts and first backoff of idempotent Docker calls.
const RETRY_ATTEMPTS = 3;
const RETRY_BASE_MS = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries an idempotent Docker call on transient faults (daemon restart, 5xx) with backoff. */
export function retryDocker<T>(call: () => Promise<T>): Promise<T> {
  return withRetry(call, {
    attempts: RETRY_ATTEMPTS,
    baseDelayMs: RETRY_BASE_MS,
    retryable: (error) => classifyContainerError(error) === "transient",
  });
}

/** How commands run in one sandbox's containers: as its user, in its workdir, with its env. */
export class DockerExec {
  constructor(private readonly config: ResolvedSandboxOptions) {}

  /**
   * Runs the user's `command` with `sh -c`: stdout and stderr combined in arrival order and capped
   * at `maxOutputBytes`; past its time limit (or on abort) killed with all its descendants, with
   * exit code 124 (130) and a line saying so.
   */
  async command(container: Docker.Container, command: string, options?: ExecuteOptions): Promise<ExecuteResponse> {
    const timeoutMs = options?.timeoutMs ?? this.config.timeoutMs;
    const token = randomBytes(8).toString("hex");
    const output = new CappedOutput(this.config.maxOutputBytes);
    const sink = output.sink();
    const spec = this.spec(["/bin/sh", "-c", command], { DEEPFS_EXEC_ID: token });
    const outcome = await runExec(container, spec, sink, sink, {
      ms: timeoutMs,
      signal: options?.signal,
      kill: () => this.kill(container, token),
    });
    // No exit code, or SIGKILL: perhaps the container itself was killed or removed from
    // outside, taking the command with it.
    if (outcome.exitCode === null || outcome.exitCode === EXIT_SIGKILL) await assertRunning(container);
    let text = output.text();
    if (!outcome.stopped) return { output: text, exitCode: outcome.exitCode, truncated: output.truncated };
    if (text !== "" && !text.endsWith("\n")) text += "\n";
    text +=
      outcome.stopped === "timeout"
        ? `Error: command timed out after ${formatDuration(timeoutMs)} and was killed (exit code ${EXIT_TIMEOUT})`
        : `Error: command was aborted and killed (exit code ${EXIT_ABORTED})`;
    return {
      output: text,
      exitCode: outcome.stopped === "timeout" ? EXIT_TIMEOUT : EXIT_ABORTED,
      truncated: output.truncated,
    };
  }

  /** The `deepfs_run` request that runs one of the sandbox's own commands on a channel. */
  channelRequest(): string {
    return `deepfs_run ${this.config.maxOutputBytes + 1}`;
  }

  /** The largest answer {@link channelRequest} can get: the output cap plus one byte, and the status. */
  channelReplyLimit(): number {
    return this.config.maxOutputBytes + 1 + RUN_STATUS_BYTES;
  }

  /**
   * A channel's answer to {@link channelRequest} as `execute` would give it; undefined when the
   * channel could not run the command (the image lacks `head`, or no channel was had).
   */
  channelResponse(reply: ChannelReply | undefined): ExecuteResponse | undefined {
    if (reply?.status !== 0) return undefined;
    const output = new CappedOutput(this.config.maxOutputBytes);
    output.push(reply.stdout);
    const exitCode = Number.parseInt(reply.stderr.toString("latin1"), 10);
    return {
      output: output.text(),
      exitCode: Number.isSafeInteger(exitCode) ? exitCode : null,
      truncated: output.truncated,
    };
  }

  /**
   * Runs a short internal command as the sandbox user (fed `input`) through its own exec. At most
   * `maxBytes` of its stdout, and of its stderr, are kept (a process of the user's could write
   * into its pipes).
   */
  async capture(
    container: Docker.Container,
    cmd: string[],
    input?: Buffer,
    maxBytes = MAX_CAPTURE_BYTES,
  ): Promise<Captured> {
    const stdout = new CappedOutput(maxBytes);
    const stderr = new CappedOutput(maxBytes);
    const spec = { ...this.spec(cmd), ...(input ? { input } : {}) };
    const { exitCode } = await retryDocker(() => runExec(container, spec, stdout.sink(), stderr.sink()));
    return { exitCode, stdout: stdout.bytes(), stderr: stderr.bytes() };
  }

  /** Kills every process of one command (found by its marker variable). */
  async kill(container: Docker.Container, token: string): Promise<void> {
    const ignore = new CappedOutput(0).sink();
    await runExec(container, this.spec(["/bin/sh", "-c", KILL_SCRIPT, "sh", token]), ignore, ignore).catch(() => {});
  }

  spec(cmd: string[], extraEnv: Record<string, string> = {}): ExecSpec {
    return { cmd, user: this.config.user, workdir: this.config.workdir, env: this.envList(extraEnv) };
  }

  envList(extra: Record<string, string> = {}): string[] {
    return Object.entries({ ...this.config.env, ...extra }).map(([key, value]) => `${key}=${value}`);
  }
}

/**
 * Throws when the container no longer runs (HTTP 404 when it is gone, else ContainerStoppedError).
 * The engine reports an exec's end before it marks its killed container stopped, so a container
 * still running is asked again a few times (about 300 ms in all) before it is believed.
 */
export async function assertRunning(container: Docker.Container): Promise<void> {
  for (let wait = 20; ; wait *= 2) {
    const info = await container.inspect();
    if (!info.State.Running || info.State.Dead) throw new ContainerStoppedError();
    if (wait > 160) return;
    await sleep(wait);
  }
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
