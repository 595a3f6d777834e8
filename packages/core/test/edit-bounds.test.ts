import { describe, expect, it } from "vitest";
import { DeepfsError, MAX_EDIT_FILE_BYTES, MemoryBackend, StateBackend } from "../src/index.js";
import { DEFAULT_MAX_GREP_FILE_BYTES, defineBackend } from "../src/kit/index.js";
import { MemoryDriver } from "../src/memory-backend.js";

describe("the facade's edit limit", () => {
  it("answers too_large past maxEditFileBytes and changes nothing; at the limit the edit lands", async () => {
    const backend = defineBackend(new MemoryDriver(), { maxEditFileBytes: 100 });
    const written = await backend.write("/f.txt", "a".repeat(10));
    const refused = await backend.edit("/f.txt", "a", "b".repeat(11), true);
    expect(refused).toEqual({
      error:
        "Editing '/f.txt' would make it 110 bytes, over the limit of 100 bytes for the result of an edit; replace fewer occurrences or with shorter text",
      code: "too_large",
    });
    expect(await backend.read("/f.txt")).toMatchObject({ content: "a".repeat(10), etag: written.etag });
    const edited = await backend.edit("/f.txt", "a", "b".repeat(10), true);
    expect(edited).toMatchObject({ path: "/f.txt", occurrences: 10 });
    expect((await backend.readRaw("/f.txt")).data?.content).toBe("b".repeat(100));
  });

  it("refuses a limit that is not a non-negative integer, at construction", () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => defineBackend(new MemoryDriver(), { maxEditFileBytes: bad })).toThrow(DeepfsError);
    }
  });

  it.each([
    ["MemoryBackend", () => new MemoryBackend()],
    ["StateBackend", () => new StateBackend()],
  ])("%s defaults to MAX_EDIT_FILE_BYTES: exactly 64 MiB is written, one byte more is too_large", async (_, create) => {
    const backend = create();
    await backend.write("/f.txt", "a".repeat(1024));
    const over = await backend.edit("/f.txt", "a", "b".repeat(64 * 1024 + 1), true);
    expect(over.code).toBe("too_large");
    expect(over.error).toContain(`over the limit of ${MAX_EDIT_FILE_BYTES} bytes`);
    expect((await backend.read("/f.txt")).content).toBe("a".repeat(1024));
    const exact = await backend.edit("/f.txt", "a", "b".repeat(64 * 1024), true);
    expect(exact).toMatchObject({ occurrences: 1024 });
    expect((await backend.ls("/")).files?.[0]?.size).toBe(MAX_EDIT_FILE_BYTES);
  });
});

describe("grep in memory follows the walking grep's size rule", () => {
  it.each([
    ["MemoryBackend", () => new MemoryBackend()],
    ["StateBackend", () => new StateBackend()],
  ])("%s skips text files over DEFAULT_MAX_GREP_FILE_BYTES", async (_, create) => {
    const backend = create();
    const filler = "x".repeat(DEFAULT_MAX_GREP_FILE_BYTES - "needle\n".length);
    await backend.write("/at-limit.txt", `needle\n${filler}`);
    await backend.write("/over-limit.txt", `needle\n${filler}x`);
    expect(await backend.grep("needle")).toEqual({ matches: [{ path: "/at-limit.txt", line: 1, text: "needle" }] });
    expect(await backend.grep("", "/over-limit.txt", null, 1)).toEqual({ matches: [] });
  });
});
