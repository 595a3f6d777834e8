/**
 * The workspace of the framework examples (ai-sdk.ts, openai-agents.ts, mastra.ts): a
 * CompositeBackend of embedded defaults, the agent's scratch in memory, `/project/` on disk,
 * `/memories/` in embedded PostgreSQL (PGlite), and `/reference/` a read-only view of the project.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompositeBackend, StateBackend } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";

export interface NotesWorkspace {
  backend: CompositeBackend;
  /** notes.md as it is on disk under the project's root. */
  notesOnDisk(): string;
  /** Closes the project and the database and removes the temporary directory. */
  close(): Promise<void>;
}

export async function openNotesWorkspace(label: string): Promise<NotesWorkspace> {
  const dir = mkdtempSync(join(tmpdir(), `deepfs-${label}-example-`));
  const project = new LocalBackend({ rootDir: join(dir, "project") });
  const memories = await PostgresBackend.embedded({ dataDir: join(dir, "pgdata") });
  const backend = new CompositeBackend(new StateBackend(), {
    "/project/": project,
    "/memories/": memories,
    "/reference/": { backend: project, readOnly: true },
  });
  return {
    backend,
    notesOnDisk: () => readFileSync(join(dir, "project", "notes.md"), "utf8"),
    close: async () => {
      await project.close();
      await memories.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
