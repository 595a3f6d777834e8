/**
 * {@link RouterDriver}: the router as a {@link Driver}. Each call goes to the driver of the member
 * that serves the path (longest mount point), with the prefix stripped; every path in the answer
 * comes back with the prefix re-added, and faults stay structured so that the facade writes every
 * sentence once, with the caller's path. Searches fan out (composite-search.ts).
 */
import { RouterHistory } from "./composite-history.js";
import { innerPath, isReadOnlyMount, type Mount, type MountTable, mountLabel, outerPath } from "./composite-mounts.js";
import { callMember, memberFailed, outerEntry, outerFault } from "./composite-paths.js";
import type { MemberDriver, RemoveAnswer } from "./composite-protocol-driver.js";
import { globFanOut, grepFanOut, type SearchOptions } from "./composite-search.js";
import type { GlobQuery } from "./glob.js";
import type { GrepQuery } from "./grep.js";
import {
  type BatchFile,
  type CallContext,
  type Driver,
  type DriverCapabilities,
  type DriverEntry,
  type DriverFile,
  type DriverStat,
  type DriverWindow,
  type Fault,
  FaultError,
  fault,
  isFault,
  type ReadCall,
  tightestLimits,
  type WriteCall,
} from "./kit/driver.js";
import { mapLimit } from "./kit/limit.js";
import { isWithin, joinPath, relativeTo } from "./paths.js";
import type { GrepMatch } from "./protocol.js";

/** A file path resolved to its member. */
export interface Routed {
  mount: Mount;
  inner: string;
}

/**
 * Stores through a member, checking `ifMatch` / `ifNoneMatch` first when the member cannot: the
 * router declares conditional writes for every member, so that an edit never silently loses a
 * change (the facade holds the path's lock across the check and the write).
 */
export async function writeTo(
  driver: Driver,
  path: string,
  content: string | Uint8Array,
  call: WriteCall,
): Promise<{ etag: string } | Fault> {
  const { ifMatch, ifNoneMatch, signal } = call;
  if ((ifMatch === undefined && ifNoneMatch === undefined) || driver.capabilities.conditionalWrites) {
    return driver.write(path, content, call);
  }
  const stat = await driver.stat(path, { signal });
  if (isFault(stat)) return stat;
  if (stat.kind === "file" && ifNoneMatch === "*") return fault("conflict", { reason: "exists" });
  if (stat.kind === "file" && ifMatch !== undefined && ifMatch !== stat.etag) {
    return fault("conflict", { reason: "changed" });
  }
  if (stat.kind === "none" && ifMatch !== undefined) return fault("conflict", { reason: "missing" });
  const plain: WriteCall = signal ? { signal } : {};
  if (call.op) plain.op = call.op;
  return driver.write(path, content, plain);
}

/**
 * A member's `not_a_directory` for a write, with the file in the way found (a member not built on
 * the facade answers only the code): the first ancestor of `inner` that is a file, in caller paths.
 */
/** What a member says is at `inner`, or null when it could not say. */
async function guardedStat(m: Mount, inner: string): Promise<DriverStat | Fault | null> {
  try {
    return await m.driver.stat(inner, {});
  } catch {
    return null;
  }
}

export async function withFileInWay(m: Mount, inner: string, f: Fault): Promise<Fault> {
  if (f.fault !== "not_a_directory" || f.path !== undefined) return f;
  const parts = inner.split("/").filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const dir = `/${parts.slice(0, i).join("/")}`;
    const stat = await guardedStat(m, dir);
    if (stat && !isFault(stat) && stat.kind === "file") {
      return fault("not_a_directory", { path: outerPath(m, dir), reason: "file_in_way" });
    }
  }
  return f;
}

/** The `read_only` fault of a read-only member. */
export function readOnlyFault(m: Mount): Fault {
  return fault("read_only", { detail: `${mountLabel(m)} is read-only` });
}

/** The router over a mount table. */
export class RouterDriver implements Driver {
  readonly capabilities: DriverCapabilities;
  readonly table: MountTable;
  /** Every member's history as one; a member that keeps none makes its calls answer `unsupported`. */
  readonly history: RouterHistory;
  private readonly search: SearchOptions;

  constructor(table: MountTable, search: SearchOptions) {
    this.table = table;
    this.history = new RouterHistory(table);
    this.search = search;
    const all = (flag: "realDirectories" | "nativeGrep") =>
      table.members.every((m) => m.backend.capabilities?.[flag] === true);
    // Conditional writes hold for every member: the router checks them itself where a member cannot.
    this.capabilities = {
      conditionalWrites: true,
      realDirectories: all("realDirectories"),
      readOnly: false,
      nativeGrep: all("nativeGrep"),
    };
    const limits = tightestLimits(table.members.map((m) => m.driver.capabilities.limits));
    if (limits) this.capabilities.limits = limits;
  }

  /** The member serving a file path, or `is_directory` where the router shows a mount point. */
  route(path: string): Routed | Fault {
    if (this.table.hasMountAtOrBelow(path)) return fault("is_directory");
    const mount = this.table.mountFor(path);
    return { mount, inner: innerPath(mount, path) };
  }

  /** {@link route} for a mutation: also `read_only` for a read-only member. */
  routeChange(path: string): Routed | Fault {
    const routed = this.route(path);
    if (isFault(routed)) return routed;
    return isReadOnlyMount(routed.mount) ? readOnlyFault(routed.mount) : routed;
  }

  /** `read_only` for a path of a read-only member, before anything is read or planned. */
  refuses(path: string): Fault | null {
    const routed = this.route(path);
    return !isFault(routed) && isReadOnlyMount(routed.mount) ? readOnlyFault(routed.mount) : null;
  }

  async stat(path: string, call: CallContext): Promise<DriverStat | Fault> {
    if (path === "/" || this.table.hasMountAtOrBelow(path)) return { kind: "directory" };
    const mount = this.table.mountFor(path);
    return callMember(mount, () => mount.driver.stat(innerPath(mount, path), call));
  }

  async read(path: string, call: ReadCall): Promise<DriverFile | DriverWindow | Fault> {
    const routed = this.route(path);
    if (isFault(routed)) return routed;
    return callMember(routed.mount, () => routed.mount.driver.read(routed.inner, call));
  }

  async write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    const routed = this.routeChange(path);
    if (isFault(routed)) return routed;
    const written = await callMember(routed.mount, () => writeTo(routed.mount.driver, routed.inner, content, call));
    return isFault(written) ? withFileInWay(routed.mount, routed.inner, written) : written;
  }

  /** Uploads, one batch per member backend (a backend on several mounts gets one call). */
  async writeBatch(files: BatchFile[], call: CallContext): Promise<Array<{ etag: string } | Fault>> {
    const out = new Array<{ etag: string } | Fault>(files.length);
    const upload: WriteCall = { ...call, op: "upload" };
    const batches = this.groupBy(
      files.map((f) => f.path),
      (path) => this.routeChange(path),
      out,
    );
    await Promise.all(
      [...batches.values()].map(async (batch) => {
        const driver = batch[0]?.routed.mount.driver as MemberDriver;
        const items = batch.map(({ routed, index }) => ({
          path: routed.inner,
          bytes: (files[index] as BatchFile).bytes,
        }));
        let answers: Array<{ etag: string } | Fault> | null;
        try {
          answers = driver.writeBatch
            ? await driver.writeBatch(items, call)
            : await mapLimit(items, this.search.concurrency, (item) => writeTo(driver, item.path, item.bytes, upload));
        } catch {
          answers = null;
        }
        batch.forEach(({ routed, index }, i) => {
          const one = answers ? answers[i] : memberFailed(routed.mount);
          out[index] =
            one === undefined ? fault("backend_unavailable") : isFault(one) ? outerFault(routed.mount, one) : one;
        });
      }),
    );
    return out;
  }

  /** Whole files for downloads, one batch per member backend that reads in batches. */
  async readBatch(paths: string[], call: CallContext): Promise<Array<DriverFile | Fault>> {
    const out = new Array<DriverFile | Fault>(paths.length);
    const batches = this.groupBy(paths, (path) => this.route(path), out);
    await Promise.all(
      [...batches.values()].map(async (batch) => {
        const driver = batch[0]?.routed.mount.driver as MemberDriver;
        let answers: Array<DriverFile | DriverWindow | Fault> | null;
        try {
          const inner = batch.map(({ routed }) => routed.inner);
          answers = driver.readBatch
            ? await driver.readBatch(inner, call)
            : await mapLimit(inner, this.search.concurrency, (p) => driver.read(p, { whole: true }));
        } catch {
          answers = null;
        }
        batch.forEach(({ routed, index }, i) => {
          const one = answers ? answers[i] : memberFailed(routed.mount);
          if (one === undefined || "window" in one) out[index] = fault("backend_unavailable");
          else out[index] = isFault(one) ? outerFault(routed.mount, one) : one;
        });
      }),
    );
    return out;
  }

  async list(dir: string, call: CallContext): Promise<DriverEntry[] | Fault> {
    const owner = this.table.mountFor(dir);
    const listed = await callMember(owner, () => owner.driver.list(innerPath(owner, dir), call));
    if (isFault(listed)) return listed;
    // A directory and a file of one name are both shown, as members show them.
    const key = (e: DriverEntry) => (e.kind === "directory" ? `${e.path}/` : e.path);
    const byPath = new Map<string, DriverEntry>();
    for (const entry of listed) {
      const outer = outerEntry(owner, entry);
      if (this.table.mountFor(outer.path) === owner) byPath.set(key(outer), outer);
    }
    for (const route of this.table.routes) {
      if (route.mount === dir || !isWithin(route.mount, dir)) continue;
      const child = joinPath(dir, relativeTo(route.mount, dir).split("/")[0] ?? "");
      if (!byPath.has(`${child}/`)) byPath.set(`${child}/`, { path: child, kind: "directory" });
    }
    return [...byPath.values()];
  }

  async *walk(dir: string, call: CallContext): AsyncIterable<DriverEntry> {
    const query: GlobQuery = { pattern: "**", dir, root: dir, matches: (p) => isWithin(p, dir) && p !== dir };
    const found = await globFanOut(this.table, query, call.signal);
    if (isFault(found)) throw new FaultError(found);
    yield* found;
  }

  /** Deletes in the member serving `path` only (CompositeBackend's delete fans out below it). */
  async remove(path: string, call: CallContext): Promise<RemoveAnswer | Fault> {
    const routed = this.routeChange(path);
    if (isFault(routed)) return routed;
    return callMember(routed.mount, () => routed.mount.driver.remove(routed.inner, call));
  }

  grep(query: GrepQuery, call: CallContext): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
    return grepFanOut(this.table, query, { ...this.search, signal: call.signal });
  }

  async *glob(query: GlobQuery, call: CallContext): AsyncIterable<DriverEntry> {
    const found = await globFanOut(this.table, query, call.signal);
    if (isFault(found)) throw new FaultError(found);
    yield* found;
  }

  /**
   * Groups paths by member backend (one batch per backend, however many mounts it serves); a path
   * the router answers itself gets its fault in `out`.
   */
  private groupBy<T>(
    paths: string[],
    resolve: (path: string) => Routed | Fault,
    out: Array<T | Fault>,
  ): Map<unknown, Array<{ index: number; routed: Routed }>> {
    const batches = new Map<unknown, Array<{ index: number; routed: Routed }>>();
    paths.forEach((path, index) => {
      const routed = resolve(path);
      if (isFault(routed)) {
        out[index] = routed;
        return;
      }
      const batch = batches.get(routed.mount.backend) ?? [];
      batch.push({ index, routed });
      batches.set(routed.mount.backend, batch);
    });
    return batches;
  }
}
