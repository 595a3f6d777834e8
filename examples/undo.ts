/**
 * Undo: an agent edits a file kept in embedded PostgreSQL (PGlite) with version history on; the
 * program shows the file's history and the diff of the last change, then undoes it by restoring
 * the version before it. The restore is itself a version, so the undo can be undone too.
 *
 * Run (from `examples/`): `pnpm exec tsx undo.ts` (no server needed).
 */
import { diffVersions } from "@deepfs/core";
import { PostgresBackend } from "@deepfs/postgres";
import { HumanMessage } from "@langchain/core/messages";
import { createDeepAgent } from "deepagents";
import { runIfMain } from "./lib/run-main.js";
import { scriptedModel, toolCallsOf } from "./lib/scripted-model.js";

export async function main(options: { log?: (line: string) => void } = {}) {
  const log = options.log ?? ((line: string) => console.log(line));
  // In memory (no dataDir); pass { dataDir } to keep the database and its history on disk.
  const backend = await PostgresBackend.embedded({ history: true });
  try {
    await backend.write("/config.toml", '[server]\nport = 8080\nhost = "127.0.0.1"\n');
    const model = scriptedModel(
      [
        { name: "read_file", args: { file_path: "/config.toml" } },
        { name: "edit_file", args: { file_path: "/config.toml", old_string: "port = 8080", new_string: "port = 80" } },
      ],
      "The server now listens on port 80.",
    );
    const agent = createDeepAgent({ model, backend });
    const state = await agent.invoke({ messages: [new HumanMessage("Serve on port 80.")] }, { recursionLimit: 20 });

    const before = await backend.history("/config.toml");
    const [last, previous] = before.versions ?? [];
    if (!last || !previous) throw new Error("expected two versions of /config.toml");
    for (const v of before.versions ?? []) log(`${v.version}\t${v.op}\t${v.size} B\t${v.modified_at}`);
    const diff = await diffVersions(backend, "/config.toml", previous.version, last.version);
    log(diff.diff ?? "");

    // Undo: the version before the agent's edit becomes the newest, unless someone changed the file meanwhile.
    const undone = await backend.restore("/config.toml", previous.version, { ifMatch: last.etag });
    if (undone.error) throw new Error(undone.error);
    const after = await backend.history("/config.toml");
    log(`undone: ${after.versions?.[0]?.op} of version ${previous.version}`);
    return {
      tools: toolCallsOf(state.messages).map((c) => c.name),
      versionsBefore: (before.versions ?? []).map((v) => v.op),
      diff: diff.diff,
      content: (await backend.readRaw("/config.toml")).data?.content,
      versionsAfter: (after.versions ?? []).map((v) => v.op),
    };
  } finally {
    await backend.close();
  }
}

runIfMain(import.meta.url, () => main());
