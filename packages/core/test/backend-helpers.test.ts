import { describe, expect, it } from "vitest";
import { editableText, planEdit, readResultOf } from "../src/backend-helpers.js";
import { decodeUtf8Lossy, encodeUtf8 } from "../src/text.js";

const invalid = new Uint8Array([...encodeUtf8("caf"), 0xe9, ...encodeUtf8("\nok\n")]);

describe("text whose bytes are not valid UTF-8", () => {
  it("reads as the replaced text with invalidUtf8, windowed like any text", () => {
    expect(readResultOf(invalid, "text/plain", "e1")).toEqual({
      content: "caf\uFFFD\nok",
      totalLines: 2,
      startLine: 1,
      endLine: 2,
      mimeType: "text/plain",
      etag: "e1",
      invalidUtf8: true,
    });
    expect(readResultOf(invalid, "text/plain", "e1", 1, 1)).toMatchObject({ content: "ok", invalidUtf8: true });
    expect(decodeUtf8Lossy(invalid)).toBe("caf\uFFFD\nok\n");
  });

  it("keeps bytes of a binary type as bytes, and valid bytes of a text type as plain text", () => {
    expect(readResultOf(invalid, "image/png", "e1")).toEqual({ content: invalid, mimeType: "image/png", etag: "e1" });
    expect(readResultOf(encodeUtf8("hi\n"), "text/plain", "e2")).not.toHaveProperty("invalidUtf8");
  });

  it("is not editable: invalid_argument saying why, never 'binary'", () => {
    const refused = editableText("/x.txt", {
      content: invalid,
      mimeType: "text/plain",
      created_at: "",
      modified_at: "",
    });
    expect(refused).toMatchObject({ code: "invalid_argument" });
    expect((refused as { error: string }).error).toMatch(/not valid UTF-8/);
    const plan = planEdit(
      "/x.txt",
      { etag: "e", content: invalid, mimeType: "text/plain" },
      "ok",
      "OK",
      false,
      undefined,
    );
    expect(plan).toMatchObject({ code: "invalid_argument" });
    const binary = editableText("/x.png", { content: invalid, mimeType: "image/png", created_at: "", modified_at: "" });
    expect((binary as { error: string }).error).toMatch(/binary/);
  });
});

describe("planEdit bounds", () => {
  const base = { etag: "e", content: "a".repeat(10), mimeType: "text/plain" };

  it("answers too_large for a result over the limit, with the caller's path", () => {
    const plan = planEdit("/x.txt", base, "a", "bb", true, undefined, 19);
    expect(plan).toMatchObject({ code: "too_large" });
    expect((plan as { error: string }).error).toContain("'/x.txt' would make it 20 bytes");
    expect(planEdit("/x.txt", base, "a", "bb", true, undefined, 20)).toEqual({
      content: "b".repeat(20),
      occurrences: 10,
    });
  });

  it("measures text given as bytes the same way", () => {
    const bytes = { ...base, content: encodeUtf8("é".repeat(5)) };
    expect(planEdit("/x.txt", bytes, "é", "éé", true, undefined, 19)).toMatchObject({ code: "too_large" });
    expect(planEdit("/x.txt", bytes, "é", "éé", true, undefined, 20)).toMatchObject({ occurrences: 5 });
  });
});
