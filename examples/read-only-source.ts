/**
 * A read-only route for sources next to a writable workspace: the agent may read and search the
 * code under `/sources/` but every mutation there answers `read_only` and changes nothing; it
 * writes its own files in `/workspace/` (in memory here).
 *
 * Run: `pnpm exec tsx read-only-source.ts` (from `examples/`). Needs no service. The sources are
 * this repository's `packages/core/src`, opened read-only.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CompositeBackend, StateBackend } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { runIfMain } from "./lib/run-main.js";

export async function main() {
  const sourceDir = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", "core", "src");
  // readOnly on the LocalBackend refuses writes on disk; readOnly on the route refuses them in the router.
  const sources = new LocalBackend({ rootDir: sourceDir, readOnly: true });
  const backend = new CompositeBackend(new StateBackend(), {
    "/sources/": { backend: sources, readOnly: true },
  });
  try {
    const found = await backend.grep("export class StateBackend", "/sources/");
    const write = await backend.write("/sources/state-backend.ts", "// gone");
    const edit = await backend.edit("/sources/state-backend.ts", "StateBackend", "Hacked");
    const del = await backend.delete("/sources/");

    // Copy what the agent needs into its writable workspace and change it there.
    const original = await backend.readRaw("/sources/paths.ts");
    const text = typeof original.data?.content === "string" ? original.data.content : "";
    await backend.write("/workspace/paths.ts", text);
    const changed = await backend.edit("/workspace/paths.ts", "MAX_PATH_LENGTH = 4096", "MAX_PATH_LENGTH = 1024");
    const untouched = await backend.grep("MAX_PATH_LENGTH = 4096", "/sources/", "paths.ts");

    return {
      capabilities: backend.capabilities,
      found: found.matches?.map((m) => `${m.path}:${m.line}`),
      refused: { write: write.code, edit: edit.code, delete: del.code },
      workspaceEdit: { path: changed.path, occurrences: changed.occurrences },
      sourceUnchanged: untouched.matches?.length === 1,
      root: (await backend.ls("/")).files?.map((f) => f.path),
    };
  } finally {
    await sources.close();
  }
}

runIfMain(import.meta.url, main);
