// The LangChain history tools (file_history, diff_file, restore_file) over a backend keeping history.
import { MemoryBackend } from "@deepfs/core";
import { describe, expect, it } from "vitest";
import { historyTools } from "../src/tools.js";

describe("historyTools", () => {
  it("lists versions, diffs them and restores one, as text an agent reads", async () => {
    const backend = new MemoryBackend({ history: true });
    await backend.write("/plan.md", "step one\nstep two\n");
    await backend.edit("/plan.md", "step two", "step 2, done");
    const [fileHistory, diffFile, restoreFile] = historyTools(backend);
    expect([fileHistory?.name, diffFile?.name, restoreFile?.name]).toEqual([
      "file_history",
      "diff_file",
      "restore_file",
    ]);

    const listed = String(await fileHistory?.invoke({ file_path: "/plan.md" }));
    const versions = (await backend.history("/plan.md")).versions ?? [];
    expect(versions.map((v) => v.op)).toEqual(["edit", "write"]);
    const [edited, written] = versions;
    expect(listed).toContain(`${edited?.version}\tedit\t`);
    expect(listed).toContain(`${written?.version}\twrite\t`);

    const diff = String(await diffFile?.invoke({ file_path: "/plan.md", from_version: written?.version }));
    expect(diff).toContain("-step two\n+step 2, done\n");

    const restored = String(await restoreFile?.invoke({ file_path: "/plan.md", version: written?.version }));
    expect(restored).toContain("Restored '/plan.md'");
    expect((await backend.readRaw("/plan.md")).data?.content).toBe("step one\nstep two\n");
    expect((await backend.history("/plan.md")).versions?.[0]?.op).toBe("restore");
  });

  it("answers failures as text with the code, and leaves restore_file out when read-only", async () => {
    const off = historyTools(new MemoryBackend({ files: { "/a.txt": "a" } }), { readOnly: true });
    expect(off.map((t) => t.name)).toEqual(["file_history", "diff_file"]);
    expect(String(await off[0]?.invoke({ file_path: "/a.txt" }))).toMatch(/^Error \(unsupported\): /);
    const on = historyTools(new MemoryBackend({ history: true }));
    expect(String(await on[1]?.invoke({ file_path: "/nope.txt", from_version: "v9" }))).toMatch(
      /^Error \(file_not_found\)/,
    );
    expect(String(await on[2]?.invoke({ file_path: "../escape", version: "1" }))).toMatch(/^Error \(invalid_path\)/);
    expect(() => historyTools({} as never)).toThrow(/history methods/);
  });
});
