/**
 * Review before apply: a deep agent works on a copy-on-write branch of a project on disk, and its
 * changes reach the disk only once someone approves the diff. The agent's scratch notes live in
 * memory and never reach the project.
 *
 * | path          | backend                                    |
 * |---------------|--------------------------------------------|
 * | `/` (default) | `branch(new LocalBackend({ rootDir }))`     |
 * | `/scratch/`   | `MemoryBackend`                            |
 *
 * The approval is a function of the changes (a prompt in a real program; scripted in the tests):
 * approved, `commit()` applies them with `ifMatch` on the versions the agent read, so an edit made
 * on disk meanwhile is a conflict, never overwritten; refused, `discard()` drops them.
 *
 * Run (from `examples/`): `pnpm exec tsx review-before-apply.ts` (approves everything).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BranchChange, branch, type CommitResult, CompositeBackend, MemoryBackend } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { HumanMessage } from "@langchain/core/messages";
import { createDeepAgent } from "deepagents";
import { runIfMain } from "./lib/run-main.js";
import { scriptedModel, toolCallsOf } from "./lib/scripted-model.js";

export interface ReviewOptions {
  /** Decides on the agent's changes (default: approve). */
  approve?: (changes: BranchChange[]) => boolean | Promise<boolean>;
  /** Prints what a person would read (default: console.log; the tests collect it). */
  log?: (line: string) => void;
}

export async function main(options: ReviewOptions = {}) {
  const log = options.log ?? ((line: string) => console.log(line));
  const approve = options.approve ?? (() => true);
  const rootDir = mkdtempSync(join(tmpdir(), "deepfs-review-"));
  writeFileSync(join(rootDir, "app.py"), 'def greet(name):\n    return "hello " + name\n');
  writeFileSync(join(rootDir, "README.md"), "# app\n");
  const project = new LocalBackend({ rootDir });
  try {
    const review = branch(project);
    const backend = new CompositeBackend(review, { "/scratch/": new MemoryBackend() });
    const model = scriptedModel(
      [
        { name: "read_file", args: { file_path: "/app.py" } },
        {
          name: "edit_file",
          args: { file_path: "/app.py", old_string: '"hello " + name', new_string: 'f"hello, {name}!"' },
        },
        {
          name: "write_file",
          args: {
            file_path: "/test_app.py",
            content: 'from app import greet\n\nassert greet("ada") == "hello, ada!"\n',
          },
        },
        { name: "write_file", args: { file_path: "/scratch/notes.md", content: "- switched to an f-string\n" } },
      ],
      "greet() now uses an f-string; a test is in /test_app.py.",
    );
    const agent = createDeepAgent({ model, backend });
    const state = await agent.invoke(
      { messages: [new HumanMessage("Make greet() use an f-string and add a test.")] },
      { recursionLimit: 30 },
    );

    // What a reviewer sees: every change of the branch, with its diff. The disk is untouched so far.
    const { changes } = await review.changes();
    for (const change of changes) log(`${change.change} ${change.path}\n${change.diff ?? ""}`);
    const diskBefore = readFileSync(join(rootDir, "app.py"), "utf8");

    const approved = await approve(changes);
    let outcome: CommitResult = { committed: [], conflicts: [] };
    if (approved) outcome = await review.commit();
    else await review.discard();
    log(approved ? `applied: ${outcome.committed.join(", ")}` : "discarded");
    return {
      tools: toolCallsOf(state.messages).map((c) => c.name),
      changes: changes.map((c) => `${c.change} ${c.path}`),
      diskBeforeApproval: diskBefore,
      approved,
      committed: outcome.committed,
      conflicts: outcome.conflicts,
      diskAfter: readFileSync(join(rootDir, "app.py"), "utf8"),
      testFileOnDisk: (await project.read("/test_app.py")).error === undefined,
      scratchOnDisk: (await project.read("/scratch/notes.md")).error === undefined,
      scratch: (await backend.read("/scratch/notes.md")).content,
    };
  } finally {
    await project.close();
    rmSync(rootDir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, () => main());
