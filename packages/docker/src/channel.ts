import { randomBytes } from "node:crypto";
import { type Duplex, Writable } from "node:stream";
import type Docker from "dockerode";
import { ByteQueue } from "./byte-queue.js";
import { startAttached } from "./exec.js";
import { CHANNEL_SCRIPT } from "./scripts.js";

/** What a command run through a channel left: its exit status, stdout and stderr. */
export interface ChannelReply {
  status: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** How a channel's shell runs: the sandbox user, workdir and environment of every internal command. */
export interface ChannelSpec {
  user: string;
  workdir: string;
  /** `KEY=value` entries. */
  env: string[];
}

export interface ChannelOptions {
  /**
   * How long a request (or the start) may wait for its answer's header, and then for the rest of
   * the answer, before the channel is killed.
   */
  stallMs: number;
  /** Kills every process carrying `DEEPFS_EXEC_ID=token` (through a plain exec). */
  kill: (token: string) => Promise<void>;
}

/**
 * The channel did not answer (it ended, stalled, spoke out of turn, or was closed): nothing is
 * known of the request's outcome. Unless it was closed (which comes with removing the container),
 * its processes were killed first, so none can finish the request after the caller redid it
 * another way.
 */
export class ChannelFailure extends Error {
  constructor(
    message: string,
    /** The image cannot host a channel (no writable /tmp, a `dd` without `iflag=count_bytes`). */
    readonly unsupported = false,
  ) {
    super(message);
    this.name = "ChannelFailure";
  }
}

interface Pending {
  id: number;
  /** Most bytes of stdout and stderr together that the answer may hold. */
  maxReplyBytes: number;
  resolve: (reply: ChannelReply) => void;
  reject: (error: ChannelFailure) => void;
}

// A header line is `<id> <status> <stdout bytes> <stderr bytes>`, or `ready` / `unsupported`.
const MAX_HEADER_BYTES = 80;
const NEWLINE = 0x0a;

/**
 * One long-lived `sh` in the container (a single Docker exec, stdin attached) that runs internal
 * commands one at a time, each fed its input and answered with its exit status, stdout and stderr
 * ({@link CHANNEL_SCRIPT} has the framing). A request costs a few forks in the container instead
 * of a Docker exec (create, start, inspect: about 60 ms on a busy engine).
 *
 * One request at a time: {@link ChannelPool} queues them. Any trouble (the shell killed, the
 * container gone, no answer within `stallMs`, a garbled answer, an answer larger than the request
 * allows) kills every process of the channel, then fails the request and every later one with
 * {@link ChannelFailure}.
 *
 * The shell runs as the sandbox user, so anything the user runs can tamper with it (its staging
 * files, its process): what it sends is untrusted. Each request states the largest answer it can
 * legitimately get, and a header announcing more, or bytes nobody asked for, end the channel before
 * they are buffered; the answer must also come within `stallMs` of its header. Memory held for a
 * channel is bounded by the request's limit whatever the container writes.
 */
export class ShellChannel {
  private readonly queue = new ByteQueue();
  private header: { status: number; stdoutBytes: number; stderrBytes: number } | undefined;
  private pending: Pending | undefined;
  private nextId = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private onStart: { resolve: () => void; reject: (error: ChannelFailure) => void } | undefined;
  private failure: ChannelFailure | undefined;

  private constructor(
    private readonly stream: Duplex,
    private readonly token: string,
    private readonly options: ChannelOptions,
  ) {}

  /** Starts a channel's shell as `spec` says; rejects with ChannelFailure when it does not come up. */
  static async open(container: Docker.Container, spec: ChannelSpec, options: ChannelOptions): Promise<ShellChannel> {
    const token = randomBytes(8).toString("hex");
    const exec = await container.exec({
      Cmd: ["/bin/sh", "-c", CHANNEL_SCRIPT],
      User: spec.user,
      WorkingDir: spec.workdir,
      // The marker lets `options.kill` find the shell and whatever it runs.
      Env: [...spec.env, `DEEPFS_EXEC_ID=${token}`],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    const stream = await startAttached(exec);
    const channel = new ShellChannel(stream, token, options);
    channel.attach(container);
    await channel.ready();
    return channel;
  }

  /** True once the channel can take no more requests. */
  get dead(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Runs `command` (one line of `sh`) in a subshell of the channel's shell, `input` on its stdin.
   * An answer whose stdout and stderr together would exceed `maxReplyBytes` fails the request (and
   * the channel) as soon as its header says so.
   */
  run(command: string, input: Buffer, maxReplyBytes: number): Promise<ChannelReply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new ChannelFailure("the channel is busy"));
    if (command.includes("\n")) return Promise.reject(new Error("a channel command is one line"));
    const id = ++this.nextId;
    return new Promise<ChannelReply>((resolve, reject) => {
      this.pending = { id, maxReplyBytes, resolve, reject };
      this.arm();
      this.stream.write(`${id} ${input.length} ${command}\n`);
      if (input.length > 0) this.stream.write(input);
      // Last, so that the shell can tell a request cut short from a whole one.
      this.stream.write(`${id}\n`);
    });
  }

  /** Closes the channel: its shell sees the end of its input and exits; a request in flight fails. */
  close(): void {
    this.end(new ChannelFailure("the channel was closed"));
  }

  private attach(container: Docker.Container): void {
    const stdout = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.receive(chunk);
        callback();
      },
    });
    // The shell's own stderr holds nothing worth keeping: every command's stderr is in its reply.
    const stderr = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    container.modem.demuxStream(this.stream, stdout, stderr);
    const ended = () => void this.abandon("the channel's shell ended");
    this.stream.once("end", ended);
    this.stream.once("close", ended);
    this.stream.on("error", () => void this.abandon("the channel's connection failed"));
    // An idle channel must not keep the process alive; a request in flight has its timer for that.
    (this.stream as Partial<{ unref(): void }>).unref?.();
  }

  private ready(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.onStart = { resolve, reject };
      this.arm();
    });
  }

  /** (Re)starts the stall timer while an answer is awaited: at a request, and at its answer's header. */
  private arm(): void {
    clearTimeout(this.timer);
    if (!this.pending && this.started) return;
    this.timer = setTimeout(
      () => void this.abandon(`the channel gave no answer for ${this.options.stallMs} ms`),
      this.options.stallMs,
    );
  }

  private receive(chunk: Buffer): void {
    if (this.failure) return;
    this.queue.push(chunk);
    for (;;) {
      if (!this.header) {
        const newline = this.queue.indexOf(NEWLINE, MAX_HEADER_BYTES);
        if (newline === -1) {
          if (this.queue.length >= MAX_HEADER_BYTES) void this.abandon("the channel sent a garbled header");
          return;
        }
        const line = this.queue
          .take(newline + 1)
          .toString("latin1")
          .trim();
        if (!this.started) {
          this.start(line);
          continue;
        }
        const [id, status, stdoutBytes, stderrBytes] = line.split(/\s+/).map(Number);
        if (
          !this.pending ||
          id !== this.pending.id ||
          ![status, stdoutBytes, stderrBytes].every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
        ) {
          void this.abandon("the channel answered out of turn");
          return;
        }
        const size = (stdoutBytes as number) + (stderrBytes as number);
        if (size > this.pending.maxReplyBytes) {
          const reason = `the channel announced ${size} bytes of answer, over the ${this.pending.maxReplyBytes} asked for`;
          void this.abandon(reason, false);
          return;
        }
        this.header = {
          status: status as number,
          stdoutBytes: stdoutBytes as number,
          stderrBytes: stderrBytes as number,
        };
        // The rest of the answer is at most maxReplyBytes: it gets one more stall period, not one per chunk.
        this.arm();
      }
      const { status, stdoutBytes, stderrBytes } = this.header;
      if (this.queue.length < stdoutBytes + stderrBytes) return;
      const reply = { status, stdout: this.queue.take(stdoutBytes), stderr: this.queue.take(stderrBytes) };
      const pending = this.pending;
      this.header = undefined;
      this.pending = undefined;
      clearTimeout(this.timer);
      pending?.resolve(reply);
    }
  }

  private start(line: string): void {
    if (line === "unsupported") {
      // The shell has exited by itself.
      this.end(new ChannelFailure("the image cannot host a channel", true));
    } else if (line !== "ready") {
      // Not our shell speaking: the engine's own complaint (a container going away), say.
      void this.abandon("the channel did not start");
    } else {
      this.started = true;
      clearTimeout(this.timer);
      const onStart = this.onStart;
      this.onStart = undefined;
      onStart?.resolve();
    }
  }

  /**
   * Gives up on the channel: kills its processes first (a stalled command must not finish a write
   * after the caller redid it another way), then fails what is waiting. Without `killFirst` (the
   * command has ended: its answer's header came) the kill goes on while the caller moves on.
   */
  private async abandon(reason: string, killFirst = true): Promise<void> {
    if (this.failure) return;
    const failure = new ChannelFailure(reason);
    this.failure = failure;
    clearTimeout(this.timer);
    const killed = this.options.kill(this.token).catch(() => {});
    if (killFirst) await killed;
    this.end(failure);
  }

  private end(failure: ChannelFailure): void {
    this.failure ??= failure;
    clearTimeout(this.timer);
    this.queue.clear();
    const pending = this.pending;
    const onStart = this.onStart;
    this.pending = undefined;
    this.onStart = undefined;
    this.stream.destroy();
    pending?.reject(this.failure);
    onStart?.reject(this.failure);
  }
}
