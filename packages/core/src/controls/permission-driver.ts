/**
 * {@link PermissionDriver}: the driver layer of `withPermissions`. It sees canonical paths only
 * (the facade above validated them), checks each primitive against a {@link PermissionPolicy}
 * before the store is touched, and leaves out of listings and searches what reading is not
 * allowed outright for.
 */
import type { GlobQuery } from "../glob.js";
import type { GrepQuery } from "../grep.js";
import type { DriverHistory } from "../history/history-types.js";
import { chain, writeAfterCheck } from "../kit/calls.js";
import {
  type BatchFile,
  type CallContext,
  type Driver,
  type DriverEntry,
  type DriverFile,
  type Fault,
  isFault,
  type ReadCall,
  type WriteCall,
} from "../kit/driver.js";
import { ForwardingDriver } from "../kit/forwarding-driver.js";
import { describeFault } from "../kit/messages.js";
import { DEFAULT_MAX_GREP_FILE_BYTES, grepDriver } from "../kit/search.js";
import type { ExecuteOptions, ExecuteResponse, GrepMatch, MaybePromise } from "../protocol.js";
import type { PermissionDecision, PermissionOperation, PermissionPolicy } from "./permission-rules.js";

/** What a refused `execute` answers: the refusal as output, exit code 126 (as for `unsupported`). */
export function refusedExecution(refused: Fault): ExecuteResponse {
  return {
    output: `Error: ${describeFault("execute", "/", refused)} (code: ${refused.fault})`,
    exitCode: 126,
    truncated: false,
  };
}

/** Runs `next` unless `verdict` (now or later) is a refusal. */
function unless<T>(verdict: MaybePromise<Fault | null>, next: () => MaybePromise<T | Fault>): MaybePromise<T | Fault> {
  return chain(verdict, (refused) => (refused ? refused : next()));
}

/** Files a walking grep reads at once (the facade's default). */
const GREP_CONCURRENCY = 8;

/** Above this cap a native grep is asked for everything (the filtered matches were too few). */
const GREP_CAP_LIMIT = 100_000;

/** A driver that forwards to `base` what `policy` allows. */
export class PermissionDriver extends ForwardingDriver {
  /** The rules this layer enforces. */
  readonly policy: PermissionPolicy;
  /** Whether the store below checks write preconditions itself (else this layer does, after the rule). */
  private readonly baseChecksConditions: boolean;

  constructor(base: Driver, policy: PermissionPolicy) {
    super(base);
    this.policy = policy;
    const self = this as { -readonly [K in keyof Driver]?: Driver[K] };
    // Without a native grep the facade would walk and read each file itself, and a file named as
    // the search path would answer the read's refusal: this layer walks its own visible files.
    this.capabilities.nativeGrep = base.capabilities.nativeGrep ?? typeof base.grep === "function";
    // Preconditions are checked here, after the rule: checked above this layer (the facade's stat
    // before the write), a refused write's `conflict` would tell whether a hidden file exists, and
    // `ifMatch` whether a guessed content is what it holds.
    this.baseChecksConditions = base.capabilities.conditionalWrites;
    this.capabilities.conditionalWrites = true;
    self.grep = base.grep
      ? (query, call) => this.grepVisible(query, call)
      : (query, call) => this.grepWalking(query, call);
    if (base.glob) self.glob = (query, call) => this.globVisible(query, call);
    if (base.writeBatch) self.writeBatch = (files, call) => this.writeBatchChecked(files, call);
    if (base.readBatch) self.readBatch = (paths, call) => this.readBatchChecked(paths, call);
    if (base.history) self.history = this.historyChecked(base.history);
    if (base.execute) {
      const run = base.execute.bind(base);
      self.execute = async (command, options) => this.executeChecked(command, options, run);
    }
  }

  override read(path: string, call: ReadCall): ReturnType<Driver["read"]> {
    // An edit's read is for a rewrite: editing needs write (checked first) and read (it reveals
    // whether the text occurs).
    const ops: PermissionOperation[] = call.toRewrite ? ["write", "read"] : ["read"];
    return unless(this.policy.checkAll(ops, path), () => this.base.read(path, call));
  }

  override write(path: string, content: string | Uint8Array, call: WriteCall): ReturnType<Driver["write"]> {
    return unless(this.policy.check("write", path), () =>
      this.baseChecksConditions || (call.ifMatch === undefined && call.ifNoneMatch === undefined)
        ? this.base.write(path, content, call)
        : writeAfterCheck(this.base, path, content, call),
    );
  }

  override list(dir: string, call: CallContext): ReturnType<Driver["list"]> {
    if (this.policy.isOpen("read")) return this.base.list(dir, call);
    return unless(this.policy.check("read", dir), () =>
      chain(this.base.list(dir, call), (listed) => (isFault(listed) ? listed : listed.filter((e) => this.shows(e)))),
    );
  }

  override walk(dir: string, call: CallContext): AsyncIterable<DriverEntry> {
    if (this.policy.isOpen("read")) return this.base.walk(dir, call);
    return this.visible(this.base.walk(dir, call));
  }

  /**
   * Deletes `path` when deleting it, and every file below it, is allowed: a recursive delete never
   * takes a protected file with it. `ask` rules below a directory ask once, for the directory.
   */
  override remove(path: string, call: CallContext): ReturnType<Driver["remove"]> {
    const policy = this.policy;
    if (policy.isOpen("delete")) return this.base.remove(path, call);
    return unless(policy.check("delete", path), async () => {
      const stat = await this.base.stat(path, call);
      if (!isFault(stat) && stat.kind === "directory") {
        let asked: PermissionDecision | undefined;
        try {
          for await (const entry of this.base.walk(path, call)) {
            const decision = policy.decide("delete", entry.path);
            if (decision.action === "deny") return policy.check("delete", entry.path) as Fault;
            if (decision.action === "ask") asked ??= decision;
          }
        } catch (error) {
          const thrown = (error as { fault?: unknown }).fault;
          if (isFault(thrown)) return thrown;
          throw error;
        }
        // One question per delete: an approval of the directory itself covers what is below it.
        if (asked && policy.decide("delete", path).action !== "ask") {
          const refused = await policy.ask("delete", path, asked);
          if (refused) return refused;
        }
      }
      return this.base.remove(path, call);
    });
  }

  private shows(entry: DriverEntry): boolean {
    return entry.kind === "file" ? this.policy.showsFile(entry.path) : this.policy.showsDirectory(entry.path);
  }

  private async *visible(entries: AsyncIterable<DriverEntry>): AsyncIterable<DriverEntry> {
    for await (const entry of entries) if (this.shows(entry)) yield entry;
  }

  private globVisible(query: GlobQuery, call: CallContext): AsyncIterable<DriverEntry> {
    const found = (this.base.glob as NonNullable<Driver["glob"]>).call(this.base, query, call);
    return this.policy.isOpen("read") ? found : this.visible(found);
  }

  /**
   * A native grep that never reports a hidden file: hidden files are excluded from `accepts`
   * (for stores that apply it) and from the answer; when that leaves too few matches to tell
   * `maxCount`'s truncation, the store is asked again for more.
   */
  private async grepVisible(
    query: GrepQuery,
    call: CallContext,
  ): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
    const grep = (this.base.grep as NonNullable<Driver["grep"]>).bind(this.base);
    if (this.policy.isOpen("read")) return grep(query, call);
    const accepts = (path: string) => query.accepts(path) && this.policy.showsFile(path);
    let cap = query.maxCount;
    for (;;) {
      const found = await grep({ ...query, accepts, maxCount: cap }, call);
      if (isFault(found)) return found;
      const kept = this.visibleMatches(found.matches);
      const exhausted = !found.truncated && found.matches.length <= cap;
      if (exhausted || kept.length > query.maxCount) return { matches: kept };
      if (kept.length === found.matches.length) return found;
      // Asked for everything and still cut short by the store's own limit: that is the answer.
      if (cap === Number.POSITIVE_INFINITY) return { matches: kept, truncated: true };
      const grown = cap * 2 + (found.matches.length - kept.length);
      cap = grown > GREP_CAP_LIMIT ? Number.POSITIVE_INFINITY : grown;
    }
  }

  /**
   * The matches in files this layer shows. A store answers a file's matches together, so the rules
   * are evaluated once per file, not once per match (17,543 matches in 2,000 files: 28 ms to 2 ms).
   */
  private visibleMatches(matches: GrepMatch[]): GrepMatch[] {
    let path: string | undefined;
    let shown = false;
    return matches.filter((m) => {
      if (m.path !== path) {
        path = m.path;
        shown = this.policy.showsFile(path);
      }
      return shown;
    });
  }

  /** The facade's walking grep over this layer's visible files. */
  private async grepWalking(
    query: GrepQuery,
    call: CallContext,
  ): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
    const accepts = (path: string) => query.accepts(path) && this.policy.showsFile(path);
    const view = new ForwardingDriver(this, { omit: ["grep"] });
    const found = await grepDriver(
      view,
      { ...query, accepts },
      { concurrency: GREP_CONCURRENCY, maxFileBytes: DEFAULT_MAX_GREP_FILE_BYTES, signal: call.signal },
    );
    if (isFault(found)) return found;
    return found.truncated ? { matches: found.matches ?? [], truncated: true } : { matches: found.matches ?? [] };
  }

  private async writeBatchChecked(files: BatchFile[], call: CallContext): Promise<Array<{ etag: string } | Fault>> {
    const verdicts = await Promise.all(files.map((f) => this.policy.check("write", f.path)));
    const allowed = files.filter((_, i) => !verdicts[i]);
    const written =
      allowed.length > 0
        ? await (this.base.writeBatch as NonNullable<Driver["writeBatch"]>).call(this.base, allowed, call)
        : [];
    let next = 0;
    return files.map((_, i) => verdicts[i] ?? (written[next++] as { etag: string } | Fault));
  }

  private async readBatchChecked(paths: string[], call: CallContext): Promise<Array<DriverFile | Fault>> {
    const verdicts = await Promise.all(paths.map((p) => this.policy.check("read", p)));
    const allowed = paths.filter((_, i) => !verdicts[i]);
    const read =
      allowed.length > 0
        ? await (this.base.readBatch as NonNullable<Driver["readBatch"]>).call(this.base, allowed, call)
        : [];
    let next = 0;
    return paths.map((_, i) => verdicts[i] ?? (read[next++] as DriverFile | Fault));
  }

  private async executeChecked(
    command: string,
    options: ExecuteOptions,
    run: NonNullable<Driver["execute"]>,
  ): Promise<ExecuteResponse> {
    const refused = await this.policy.check("execute", "/", command);
    if (refused) return refusedExecution(refused);
    return run(command, options);
  }

  /**
   * The store's history under the rules: listing and reading versions is reading, a snapshot's
   * changes list only visible files, and a restore reads the version and writes the file: a store
   * that restores natively (S3 copies the version inside the bucket) still does, once both are allowed.
   */
  private historyChecked(history: DriverHistory): DriverHistory {
    const policy = this.policy;
    const native = history.restore?.bind(history);
    return {
      ...(native && {
        restore: (path: string, version: string, call: WriteCall) =>
          unless(policy.checkAll(["read", "write"], path), () => native(path, version, call)),
      }),
      versions: (path, limit, call) => unless(policy.check("read", path), () => history.versions(path, limit, call)),
      readVersion: (path, version, call) =>
        unless(policy.check("read", path), () => history.readVersion(path, version, call)),
      snapshot: (call) => history.snapshot(call),
      changesSince: (snapshot, call) =>
        chain(history.changesSince(snapshot, call), (found) =>
          isFault(found) ? found : found.filter((c) => policy.showsFile(c.path)),
        ),
      readAt: (snapshot, path, call) => unless(policy.check("read", path), () => history.readAt(snapshot, path, call)),
    };
  }
}
