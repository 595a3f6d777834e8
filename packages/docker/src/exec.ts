import type { Duplex, Writable } from "node:stream";
import type Docker from "dockerode";

/** One command to run in a container. */
export interface ExecSpec {
  cmd: string[];
  user: string;
  workdir?: string;
  /** `KEY=value` entries. */
  env?: string[];
  /** Bytes to feed the command's stdin, which is then closed; without it stdin is closed at once. */
  input?: Buffer;
}

/** When a running command must be stopped early, and how. */
export interface ExecDeadline {
  /** Milliseconds after start; `Infinity` for none. */
  ms: number;
  signal?: AbortSignal;
  /** Kills the command's processes (a second exec); the output stream ends once they are gone. */
  kill: () => Promise<void>;
}

/** How a command ended. `exitCode` is null when Docker never reported one. */
export interface ExecOutcome {
  exitCode: number | null;
  /** Why it was stopped early, if it was. */
  stopped?: "timeout" | "aborted";
}

// After a kill, how long to wait for the output stream to end before giving up on it.
const STREAM_GRACE_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a command with stdin closed (`/dev/null`), or fed `spec.input` and then closed, and
 * stdout/stderr demultiplexed into the given sinks in arrival order; resolves once Docker reports
 * the exec finished. Docker errors (a missing container, an unreachable daemon) reject.
 */
export async function runExec(
  container: Docker.Container,
  spec: ExecSpec,
  stdout: Writable,
  stderr: Writable,
  deadline?: ExecDeadline,
): Promise<ExecOutcome> {
  const exec = await container.exec({
    Cmd: spec.cmd,
    User: spec.user,
    WorkingDir: spec.workdir,
    Env: spec.env,
    AttachStdin: spec.input !== undefined,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  // With input, the connection is hijacked (a raw socket): writing it and ending our side is what
  // closes the command's stdin, as `docker exec -i` does.
  const stream =
    spec.input === undefined
      ? ((await exec.start({ Detach: false, Tty: false })) as Duplex)
      : await startAttached(exec);
  container.modem.demuxStream(stream, stdout, stderr);
  if (spec.input !== undefined) stream.end(spec.input);
  const ended = new Promise<void>((resolve, reject) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", reject);
  });

  let stopped: ExecOutcome["stopped"];
  if (deadline && (Number.isFinite(deadline.ms) || deadline.signal)) {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const expiry = new Promise<"timeout" | "aborted">((resolve) => {
      if (Number.isFinite(deadline.ms)) timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline.ms));
      if (deadline.signal?.aborted) resolve("aborted");
      onAbort = () => resolve("aborted");
      deadline.signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const first = await Promise.race([ended.then(() => undefined), expiry]);
      if (first !== undefined) {
        stopped = first;
        await deadline.kill();
        const gone = await Promise.race([ended.then(() => true), sleep(STREAM_GRACE_MS).then(() => false)]);
        // A process that escaped the kill may still hold the output open: stop listening.
        if (!gone) stream.destroy();
      }
    } finally {
      clearTimeout(timer);
      if (onAbort) deadline.signal?.removeEventListener("abort", onAbort);
    }
  } else {
    await ended;
  }
  return { exitCode: await exitCodeOf(exec), ...(stopped ? { stopped } : {}) };
}

/** The exit code, polled until Docker marks the exec finished (the stream may end slightly before). */
async function exitCodeOf(exec: Docker.Exec): Promise<number | null> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const info = await exec.inspect();
    if (!info.Running) return typeof info.ExitCode === "number" ? info.ExitCode : null;
    await sleep(Math.min(5 * 2 ** attempt, 100));
  }
  return null;
}

/**
 * Starts an exec with its stdin attached (a hijacked connection). When the engine refuses (the
 * container is going away), the request, whose body was left open for stdin, is destroyed too:
 * docker-modem would leave its socket open, keeping the process alive.
 */
export async function startAttached(exec: Docker.Exec): Promise<Duplex> {
  const controller = new AbortController();
  try {
    return (await exec.start({
      Detach: false,
      Tty: false,
      hijack: true,
      stdin: true,
      abortSignal: controller.signal,
    })) as Duplex;
  } catch (error) {
    controller.abort();
    throw error;
  }
}
