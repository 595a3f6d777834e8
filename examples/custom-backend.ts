/**
 * A complete custom backend in one file: a driver that keeps files in a `Map`. A driver does only
 * what the store does (stat, read, write, list, walk, remove) on paths that are already validated
 * and canonical, and answers failures as facts (`fault("file_not_found")`). `DriverBackend` turns
 * it into the whole deepfs contract: validation, read windows, edits, grep and glob, transfers,
 * per-path locking and every error message. `test/custom-backend.test.ts` runs the whole
 * `@deepfs/conformance` suite against it, as a third party would test their own driver:
 *
 * ```ts
 * import { defineDriverContract } from "@deepfs/conformance";
 * defineDriverContract({ name: "MapDriver", create: () => new MapDriver() });
 * ```
 *
 * To back it by another store (Redis, a KV service...), replace the `Map` calls. A remote store
 * should make `write` honour `ifMatch` / `ifNoneMatch` atomically (or declare
 * `conditionalWrites: false` and let the facade check them under its lock).
 *
 * Run: `pnpm exec tsx custom-backend.ts` (from `examples/`): a real deep agent uses it.
 */

import { runAgentScenario } from "@deepfs/conformance/agent";
import { isWithin, parentDir } from "@deepfs/core";
import {
  type Driver,
  DriverBackend,
  type DriverEntry,
  type DriverFile,
  type DriverStat,
  type Fault,
  fault,
  type WriteCall,
} from "@deepfs/core/kit";
import { runIfMain } from "./lib/run-main.js";

interface Stored {
  content: string | Uint8Array;
  etag: string;
  createdAt: string;
  modifiedAt: string;
}

const sizeOf = (content: string | Uint8Array) =>
  typeof content === "string" ? Buffer.byteLength(content, "utf8") : content.byteLength;

/** Files in a `Map` keyed by canonical path; directories are implicit (a prefix of some file). */
export class MapDriver implements Driver {
  readonly capabilities = { conditionalWrites: true, realDirectories: false, readOnly: false };
  private readonly files = new Map<string, Stored>();
  private version = 0;

  async stat(path: string): Promise<DriverStat> {
    const file = this.files.get(path);
    if (file) return { kind: "file", size: sizeOf(file.content), etag: file.etag, modifiedAt: file.modifiedAt };
    return this.isDirectory(path) ? { kind: "directory" } : { kind: "none" };
  }

  async read(path: string): Promise<DriverFile | Fault> {
    const file = this.files.get(path);
    if (!file) return fault(this.isDirectory(path) ? "is_directory" : "file_not_found");
    const content = typeof file.content === "string" ? file.content : file.content.slice();
    return { content, etag: file.etag, createdAt: file.createdAt, modifiedAt: file.modifiedAt };
  }

  async write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    if (this.isDirectory(path)) return fault("is_directory");
    for (let dir = parentDir(path); dir !== "/"; dir = parentDir(dir)) {
      if (this.files.has(dir)) return fault("not_a_directory", { path: dir, reason: "file_in_way" });
    }
    const existing = this.files.get(path);
    // Nothing awaits between this check and the set below, so the precondition is atomic.
    if (existing && call.ifNoneMatch === "*") return fault("conflict", { reason: "exists" });
    if (call.ifMatch !== undefined && existing?.etag !== call.ifMatch) {
      return fault("conflict", { reason: existing ? "changed" : "missing" });
    }
    const now = new Date().toISOString();
    const etag = `v${++this.version}`;
    const stored = typeof content === "string" ? content : content.slice();
    this.files.set(path, { content: stored, etag, createdAt: existing?.createdAt ?? now, modifiedAt: now });
    return { etag };
  }

  async list(dir: string): Promise<DriverEntry[]> {
    const children = new Map<string, DriverEntry>();
    const prefix = dir === "/" ? "/" : `${dir}/`;
    for (const [path, file] of this.files) {
      if (!path.startsWith(prefix)) continue;
      const slash = path.indexOf("/", prefix.length);
      if (slash === -1) {
        children.set(path, { path, kind: "file", size: sizeOf(file.content), modifiedAt: file.modifiedAt });
      } else {
        const child = path.slice(0, slash);
        children.set(child, { path: child, kind: "directory" });
      }
    }
    return [...children.values()];
  }

  async *walk(dir: string): AsyncIterable<DriverEntry> {
    for (const [path, file] of this.files) {
      if (isWithin(path, dir)) yield { path, kind: "file", size: sizeOf(file.content), modifiedAt: file.modifiedAt };
    }
  }

  async remove(path: string): Promise<{ path: string } | Fault> {
    if (this.files.delete(path)) return { path };
    const below = [...this.files.keys()].filter((p) => p !== path && isWithin(p, path));
    if (below.length === 0) return fault("file_not_found");
    for (const p of below) this.files.delete(p);
    return { path };
  }

  private isDirectory(path: string): boolean {
    if (path === "/") return true;
    for (const p of this.files.keys()) if (p.startsWith(`${path}/`)) return true;
    return false;
  }
}

/** The whole deepfs contract over a {@link MapDriver}. */
export class MapBackend extends DriverBackend<MapDriver> implements AsyncDisposable {
  constructor() {
    super(new MapDriver());
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}

/** A real deep agent (with a scripted, offline model) works on a MapBackend. */
export async function main() {
  await using backend = new MapBackend();
  const scenario = await runAgentScenario(backend, { root: "/work" });
  const todo = await backend.read(scenario.files.todo);
  return {
    tools: scenario.toolResults.map((r) => r.name),
    todoAfterAgent: todo.content,
    edited: todo.content === scenario.files.todoEdited.replace(/\n$/, ""),
    files: (await backend.glob("**/*")).files?.map((f) => f.path),
  };
}

runIfMain(import.meta.url, main);
