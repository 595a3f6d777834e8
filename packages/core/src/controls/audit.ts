/**
 * `withAudit(backend, { onAudit })`: an audit trail of every mutation, as a driver layer over any
 * backend (a router, a branch, another layer). One event per change the store was asked to make:
 * write, edit, upload, restore, delete (one event per file a delete removed) and sandbox execute.
 *
 * Each event says what happened, not what was asked: `outcome` is `done` for an acknowledged
 * change (exactly one event each), `refused` when the store answered that it changed nothing (a
 * conflict, a missing file, a read-only route...), `unknown` when it failed in a way that may or
 * may not have changed it (an outage). The etag before is exact within this process (the layer
 * runs under the facade's per-path serialisation); across processes it is the etag the change was
 * checked against when the call had one (an edit's, an `ifMatch`), else the one read just before.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { isBackend } from "../composite-mounts.js";
import { memberDriver } from "../composite-protocol-driver.js";
import { DeepfsError, REFUSAL_CODES } from "../errors.js";
import type { DriverHistory, VersionOp } from "../history/history-types.js";
import type { BatchFile, CallContext, Driver, Fault, WriteCall } from "../kit/driver.js";
import { fault, isFault } from "../kit/driver.js";
import { DriverBackend } from "../kit/facade.js";
import { ForwardingDriver } from "../kit/forwarding-driver.js";
import { mapLimit } from "../kit/limit.js";
import type { BackendProtocol, ErrorCode, ExecuteOptions, ExecuteResponse } from "../protocol.js";

/** How many etags a delete of a directory reads at once before removing it. */
const ETAG_CONCURRENCY = 16;

/** What an audited operation is. */
export type AuditOperation = VersionOp | "execute";

/** One audited mutation. Never holds file contents or commands. */
export interface AuditEvent {
  /** ISO 8601 time the store answered. */
  time: string;
  /** The actor in effect ({@link runAsActor} or the `actor` option), null when none. */
  actor: string | null;
  operation: AuditOperation;
  /** The canonical path changed (`/` for execute). */
  path: string;
  /** The file's etag before the change, null when there was no file (or for execute). */
  etagBefore: string | null;
  /** The file's etag after the change, null for a delete, a refusal or an unknown outcome. */
  etagAfter: string | null;
  /** Bytes written (0 for a delete or execute). */
  bytes: number;
  /** `ok` or the error code the store answered. */
  result: "ok" | ErrorCode;
  /** `done` (acknowledged), `refused` (nothing changed) or `unknown` (may have changed). */
  outcome: "done" | "refused" | "unknown";
  /** For execute: the exit code. */
  exitCode?: number | null;
}

/** Receives each event; may be async. A sink that throws makes the call answer `backend_unavailable`. */
export type AuditSink = (event: AuditEvent) => void | Promise<void>;

/** Options of {@link withAudit}. */
export interface AuditOptions {
  /** Receives every event (see {@link auditToBackend} for a trail kept in a deepfs backend). */
  onAudit: AuditSink;
  /**
   * The actor of calls made outside {@link runAsActor}: a fixed id (one agent per backend) or a
   * function asked at each event (read it from your request context).
   */
  actor?: string | (() => string | null | undefined);
}

const actors = new AsyncLocalStorage<string>();

/** Runs `fn` with `actor` as the actor of every audited call it makes (across awaits). */
export function runAsActor<T>(actor: string, fn: () => T): T {
  return actors.run(actor, fn);
}

const NOT_AUDITED = (cause: unknown): Fault =>
  fault("backend_unavailable", {
    detail: `the change was made but its audit event was not recorded${cause instanceof Error ? ` (${cause.name})` : ""}`,
  });

/** What an answer says happened: acknowledged, refused (nothing changed) or unknown (an outage). */
const outcomeOf = (done: unknown): AuditEvent["outcome"] =>
  isFault(done) ? (REFUSAL_CODES.has(done.fault) ? "refused" : "unknown") : "done";

const byteLength = (content: string | Uint8Array) =>
  typeof content === "string" ? Buffer.byteLength(content, "utf8") : content.byteLength;

/** A driver that forwards to `base` and reports each mutation to a sink. */
export class AuditDriver extends ForwardingDriver {
  private readonly sink: AuditSink;
  private readonly actorOption: AuditOptions["actor"];

  constructor(base: Driver, options: AuditOptions) {
    super(base);
    this.sink = options.onAudit;
    this.actorOption = options.actor;
    const batch = base.writeBatch?.bind(base);
    if (batch) this.writeBatch = (files, call) => this.auditBatch(batch, files, call);
    const history = base.history;
    if (history?.restore) {
      const restore = history.restore.bind(history);
      // The layer's own view of the base's history: the same calls, with restores audited.
      (this as { history?: DriverHistory }).history = new Proxy(history, {
        get: (target, name, receiver) =>
          name === "restore"
            ? (path: string, version: string, call: WriteCall) =>
                this.audited(path, "restore", call, 0, () => restore(path, version, call))
            : Reflect.get(target, name, receiver),
      });
    }
    const execute = base.execute?.bind(base);
    if (execute) this.execute = (command, options) => this.auditExecute(execute, command, options);
  }

  private actor(): string | null {
    const scoped = actors.getStore();
    if (scoped !== undefined) return scoped;
    const option = this.actorOption;
    return (typeof option === "function" ? option() : option) ?? null;
  }

  private async emit(event: Omit<AuditEvent, "time" | "actor">): Promise<Fault | null> {
    try {
      await this.sink({ time: new Date().toISOString(), actor: this.actor(), ...event });
      return null;
    } catch (error) {
      return NOT_AUDITED(error);
    }
  }

  /** The etag of the file at `path` now, null when there is none (or it cannot be read). */
  private async etagOf(path: string, call: CallContext): Promise<string | null> {
    const stat = await this.base.stat(path, call);
    return !isFault(stat) && stat.kind === "file" ? (stat.etag ?? null) : null;
  }

  /** Runs one change of `path` and reports it; the answer is the base's, unless the sink failed. */
  private async audited(
    path: string,
    operation: VersionOp,
    call: WriteCall,
    bytes: number,
    change: () => unknown,
  ): Promise<{ etag: string } | Fault> {
    const etagBefore = call.ifMatch ?? (await this.etagOf(path, call));
    const done = (await change()) as { etag: string } | Fault;
    const failure = await this.emit({
      operation,
      path,
      etagBefore,
      etagAfter: isFault(done) ? null : done.etag,
      bytes: isFault(done) ? 0 : bytes,
      result: isFault(done) ? done.fault : "ok",
      outcome: outcomeOf(done),
    });
    return failure && !isFault(done) ? failure : done;
  }

  override write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    return this.audited(path, call.op ?? "write", call, byteLength(content), () =>
      this.base.write(path, content, call),
    );
  }

  private async auditBatch(
    batch: NonNullable<Driver["writeBatch"]>,
    files: BatchFile[],
    call: CallContext,
  ): Promise<Array<{ etag: string } | Fault>> {
    const before = await Promise.all(files.map((f) => this.etagOf(f.path, call)));
    const answers = await batch(files, call);
    let failure: Fault | null = null;
    for (const [i, file] of files.entries()) {
      const done = answers[i] as { etag: string } | Fault;
      failure ??= await this.emit({
        operation: "upload",
        path: file.path,
        etagBefore: before[i] ?? null,
        etagAfter: isFault(done) ? null : done.etag,
        bytes: isFault(done) ? 0 : file.bytes.byteLength,
        result: isFault(done) ? done.fault : "ok",
        outcome: outcomeOf(done),
      });
    }
    return failure ? answers.map((a) => (isFault(a) ? a : (failure as Fault))) : answers;
  }

  /** Removes through the base and reports one delete per file removed (a directory: each file below). */
  override async remove(path: string, call: CallContext): Promise<{ path: string } | Fault> {
    const stat = await this.base.stat(path, call);
    const files: Array<{ path: string; etag: string | null }> = [];
    if (!isFault(stat) && stat.kind === "file") files.push({ path, etag: stat.etag ?? null });
    else if (!isFault(stat) && stat.kind === "directory") {
      try {
        const below: string[] = [];
        for await (const entry of this.base.walk(path, call)) if (entry.kind === "file") below.push(entry.path);
        // The etags before, several at a time (a directory of a remote store is many round trips).
        const etags = await mapLimit(below, ETAG_CONCURRENCY, (p) => this.etagOf(p, call));
        below.forEach((p, i) => void files.push({ path: p, etag: etags[i] ?? null }));
      } catch {
        // Reported below as one event for the path.
      }
    }
    const done = await this.base.remove(path, call);
    const outcome = outcomeOf(done);
    const reported = files.length > 0 ? files : [{ path, etag: null }];
    let failure: Fault | null = null;
    for (const file of reported) {
      failure ??= await this.emit({
        operation: "delete",
        path: file.path,
        etagBefore: file.etag,
        etagAfter: null,
        bytes: 0,
        result: isFault(done) ? done.fault : "ok",
        outcome,
      });
    }
    return failure && !isFault(done) ? failure : done;
  }

  private async auditExecute(
    execute: NonNullable<Driver["execute"]>,
    command: string,
    options: ExecuteOptions,
  ): Promise<ExecuteResponse> {
    const response = await execute(command, options);
    const failure = await this.emit({
      operation: "execute",
      path: "/",
      etagBefore: null,
      etagAfter: null,
      bytes: 0,
      result: "ok",
      outcome: "done",
      exitCode: response.exitCode ?? null,
    });
    if (failure) {
      return { ...response, output: `${response.output}\n[deepfs] ${failure.detail ?? "audit failed"}` };
    }
    return response;
  }
}

/** A backend whose every mutation is reported to `options.onAudit` (see {@link AuditDriver}). */
export class AuditBackend extends DriverBackend<AuditDriver> {
  /** The backend audited. */
  readonly base: BackendProtocol;

  constructor(backend: BackendProtocol, options: AuditOptions) {
    if (!isBackend(backend)) throw new DeepfsError("invalid_argument", "withAudit needs a backend");
    if (typeof options?.onAudit !== "function") {
      throw new DeepfsError("invalid_argument", "withAudit needs `onAudit`: a function that receives each event");
    }
    super(new AuditDriver(memberDriver(backend), options));
    this.base = backend;
  }
}

/** `backend` with an audit trail of every mutation (see {@link AuditDriver}). */
export function withAudit(backend: BackendProtocol, options: AuditOptions): AuditBackend {
  return new AuditBackend(backend, options);
}

/**
 * A sink that keeps the trail in a deepfs backend (any: a LocalBackend directory, a PostgreSQL
 * namespace, an S3 prefix), one JSON file per event under `dir/<yyyy-mm-dd>/`, each created with
 * `ifNoneMatch: "*"` so that concurrent writers never overwrite one another. Use another backend
 * (or a route the audited backend cannot reach) than the one audited.
 */
export function auditToBackend(store: BackendProtocol, options: { dir?: string } = {}): AuditSink {
  const dir = (options.dir ?? "/audit").replace(/\/+$/, "");
  let seq = 0;
  const run = Math.random().toString(36).slice(2, 10);
  return async (event) => {
    const name = `${event.time.replaceAll(":", "-")}-${run}-${String(seq++).padStart(8, "0")}.json`;
    const written = await store.write(`${dir}/${event.time.slice(0, 10)}/${name}`, `${JSON.stringify(event)}\n`, {
      ifNoneMatch: "*",
    });
    if (written.error) throw new DeepfsError(written.code ?? "backend_unavailable", "the audit store refused an event");
  };
}
