import { randomBytes } from "node:crypto";
import { DeepfsError } from "@deepfs/core";
import Docker from "dockerode";
import { DockerSandbox } from "./docker-sandbox.js";
import { removeContainersSync } from "./exit-cleanup.js";
import { retireSandbox } from "./internal.js";
import type { DockerSandboxOptions } from "./options.js";
import { cleanupOrphans, type RemovedOrphan } from "./orphans.js";

/** Label holding the session id of a container created by a {@link SessionManager}. */
export const SESSION_LABEL = "deepfs.session";

/** Sandbox options of a managed session: the manager chooses the id, client and idle policy. */
export type SessionSandboxOptions = Omit<DockerSandboxOptions, "id" | "docker" | "idleTimeoutMs">;

/** Options of {@link SessionManager}. */
export interface SessionManagerOptions {
  /** Options of every session's sandbox, or a function giving them for a session id. */
  sandbox?: SessionSandboxOptions | ((sessionId: string) => SessionSandboxOptions);
  /** A `Docker` client (never closed by the manager) or its options. Default: `DOCKER_HOST`, else the default socket. */
  docker?: Docker | Docker.DockerOptions;
  /** Remove a session after this long without a call or a `get()`. Default 15 minutes. */
  idleTimeoutMs?: number;
  /** Most sessions at once. Default 8. */
  maxSessions?: number;
  /**
   * Remove every managed container when the process exits (`process.on("exit")`), synchronously
   * through a short-lived child process, since an exit handler cannot await. Default true.
   */
  removeOnExit?: boolean;
  /**
   * Also handle SIGINT and SIGTERM: run {@link SessionManager.shutdown}, then re-raise the signal
   * so the process ends as it would have. Opt-in, because a listener replaces Node's default
   * handling of these signals. Default false.
   */
  handleSignals?: boolean;
}

interface Session {
  sandbox: DockerSandbox;
  /** Resolves once the sandbox's container is running; rejects if it could not start. */
  ready: Promise<DockerSandbox>;
  started: boolean;
  lastGet: number;
  timer: NodeJS.Timeout | undefined;
}

const DEFAULT_IDLE_MS = 15 * 60_000;
const DEFAULT_MAX_SESSIONS = 8;
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
const SIGNAL_CLEANUP_MS = 10_000;

/**
 * One {@link DockerSandbox} per session id (a conversation, a user, an agent thread).
 *
 * - `get(id)` returns the session's running sandbox, creating and starting it on first use; every
 *   later `get(id)` returns the same sandbox while the session lives.
 * - A session without any call (or `get`) for `idleTimeoutMs` is removed with its container.
 * - At `maxSessions`, creating a session first removes the least recently used idle one (no call
 *   in flight); when every session is busy, `get` rejects with a `DeepfsError`
 *   (`backend_unavailable`) saying so, rather than exceeding the cap.
 * - `shutdown()` removes every container of the manager; so does process exit (best effort).
 * - `cleanupOrphans()` removes containers left behind by processes that died without cleaning up.
 *
 * A sandbox whose session was removed (idle, evicted, `remove`, `shutdown`) answers every later
 * call with `backend_unavailable`; call `get(id)` again for a fresh one.
 */
export class SessionManager {
  private readonly docker: Docker;
  private readonly sessions = new Map<string, Session>();
  private readonly idleTimeoutMs: number;
  private readonly maxSessions: number;
  private readonly sandboxOptions: SessionManagerOptions["sandbox"];
  private readonly removeOnExit: boolean;
  private readonly handleSignals: boolean;
  private closed = false;
  private hooked = false;
  private readonly onExit = () => {
    removeContainersSync(
      this.docker,
      [...this.sessions.values()].map((s) => s.sandbox.id),
    );
  };
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.unhook();
    // Removal is bounded: a hung daemon must not keep the process from ending.
    const bounded = new Promise((resolve) => setTimeout(resolve, SIGNAL_CLEANUP_MS).unref());
    void Promise.race([this.shutdown().catch(() => {}), bounded]).finally(() => process.kill(process.pid, signal));
  };

  constructor(options: SessionManagerOptions = {}) {
    this.idleTimeoutMs = positive("idleTimeoutMs", options.idleTimeoutMs ?? DEFAULT_IDLE_MS);
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1) {
      throw new DeepfsError(
        "invalid_argument",
        `maxSessions must be a positive integer, got ${String(this.maxSessions)}`,
      );
    }
    this.sandboxOptions = options.sandbox;
    this.removeOnExit = options.removeOnExit ?? true;
    this.handleSignals = options.handleSignals ?? false;
    this.docker = options.docker instanceof Docker ? options.docker : new Docker(options.docker);
  }

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Ids of the live sessions. */
  sessionIds(): string[] {
    return [...this.sessions.keys()];
  }

  /** Whether `sessionId` has a live session. */
  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /**
   * The running sandbox of `sessionId`, created and started on first use. Concurrent calls for a
   * new id share one sandbox. Rejects with a `DeepfsError`: `invalid_argument` for an empty id,
   * `backend_unavailable` after `shutdown()`, when all `maxSessions` sessions are busy, or when
   * the container cannot start (the session is then forgotten, so a later call tries again).
   */
  async get(sessionId: string): Promise<DockerSandbox> {
    if (typeof sessionId !== "string" || sessionId === "") {
      throw new DeepfsError("invalid_argument", "sessionId must be a non-empty string");
    }
    if (this.closed) throw new DeepfsError("backend_unavailable", "The SessionManager was shut down");
    const existing = this.sessions.get(sessionId);
    if (existing) {
      existing.lastGet = Date.now();
      return existing.ready;
    }
    let evicted: Promise<void> = Promise.resolve();
    if (this.sessions.size >= this.maxSessions) {
      const victim = this.leastRecentlyUsedIdle();
      if (victim === undefined) {
        throw new DeepfsError(
          "backend_unavailable",
          `All ${this.maxSessions} sessions are busy (maxSessions); retry when one finishes or raise maxSessions`,
        );
      }
      evicted = this.remove(victim, "it was evicted to make room for another session (maxSessions)");
    }
    const options = typeof this.sandboxOptions === "function" ? this.sandboxOptions(sessionId) : this.sandboxOptions;
    const sandbox = new DockerSandbox({
      ...options,
      id: `deepfs-${slug(sessionId)}-${randomBytes(4).toString("hex")}`,
      docker: this.docker,
      labels: { ...options?.labels, [SESSION_LABEL]: sessionId },
    });
    const session: Session = {
      sandbox,
      started: false,
      lastGet: Date.now(),
      timer: undefined,
      ready: evicted.then(async () => {
        await sandbox.start();
        return sandbox;
      }),
    };
    this.sessions.set(sessionId, session);
    this.hook();
    try {
      await session.ready;
    } catch (error) {
      if (this.sessions.get(sessionId) === session) this.sessions.delete(sessionId);
      await sandbox[retireSandbox]("its session could not start");
      throw error;
    }
    if (this.sessions.get(sessionId) !== session) {
      throw new DeepfsError("backend_unavailable", `Session '${sessionId}' was removed while it started`);
    }
    session.started = true;
    this.armIdleTimer(sessionId, session, this.idleTimeoutMs);
    return sandbox;
  }

  /** Removes the session and its container; a no-op for an unknown id. */
  async remove(sessionId: string, why = "its session was removed"): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.sessions.delete(sessionId);
    clearTimeout(session.timer);
    await session.ready.catch(() => undefined);
    await session.sandbox[retireSandbox](`${why}; call SessionManager.get() for a fresh sandbox`);
    if (this.sessions.size === 0) this.unhook();
  }

  /** Removes every session and its container; later `get` calls reject. Idempotent. */
  async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.keys()].map((id) => this.remove(id, "its SessionManager was shut down")));
    this.unhook();
  }

  /** Same as {@link shutdown}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /**
   * Removes the sandbox containers (of any manager or sandbox on this host) whose creating process
   * is gone; see the standalone {@link cleanupOrphans}.
   */
  cleanupOrphans(): Promise<RemovedOrphan[]> {
    return cleanupOrphans(this.docker);
  }

  /** The idle session used least recently, if any: started and with no call in flight. */
  private leastRecentlyUsedIdle(): string | undefined {
    let best: { id: string; at: number } | undefined;
    for (const [id, session] of this.sessions) {
      if (!session.started || session.sandbox.activeCalls > 0) continue;
      const at = lastUse(session);
      if (!best || at < best.at) best = { id, at };
    }
    return best?.id;
  }

  /** Removes the session once it has been idle for `idleTimeoutMs`, checking again until it has. */
  private armIdleTimer(id: string, session: Session, ms: number): void {
    session.timer = setTimeout(() => {
      if (this.sessions.get(id) !== session) return;
      const idleFor = Date.now() - lastUse(session);
      if (session.sandbox.activeCalls > 0) this.armIdleTimer(id, session, this.idleTimeoutMs);
      else if (idleFor < this.idleTimeoutMs) this.armIdleTimer(id, session, this.idleTimeoutMs - idleFor);
      else void this.remove(id, `it was idle for ${this.idleTimeoutMs} ms`);
    }, ms);
    session.timer.unref();
  }

  private hook(): void {
    if (this.hooked) return;
    this.hooked = true;
    if (this.removeOnExit) process.on("exit", this.onExit);
    if (this.handleSignals) for (const signal of SIGNALS) process.on(signal, this.onSignal);
  }

  private unhook(): void {
    if (!this.hooked) return;
    this.hooked = false;
    process.off("exit", this.onExit);
    for (const signal of SIGNALS) process.off(signal, this.onSignal);
  }
}

function lastUse(session: Session): number {
  return Math.max(session.lastGet, session.sandbox.lastUsedAt);
}

/** A container-name-safe digest of a session id, for recognisable container names. */
function slug(sessionId: string): string {
  return (
    sessionId
      .replace(/[^a-zA-Z0-9_.-]+/g, "-")
      .replace(/^[^a-zA-Z0-9]+/, "")
      .slice(0, 40) || "session"
  );
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new DeepfsError("invalid_argument", `${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}
