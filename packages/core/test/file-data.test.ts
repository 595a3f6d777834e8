import { describe, expect, it } from "vitest";
import {
  bytesForWrite,
  contentFromBytes,
  createFileData,
  decodeBase64Content,
  type FileDataV1,
  fileDataToBytes,
  fileDataToString,
  isFileDataBinary,
  isFileDataV1,
  toFileDataV2,
  updateFileData,
} from "../src/index.js";

const legacy: FileDataV1 = {
  content: ["a", "b"],
  created_at: "2024-01-01T00:00:00.000Z",
  modified_at: "2024-01-02T00:00:00.000Z",
};

describe("decodeBase64Content", () => {
  it.each([
    ["aGVsbG8=", [104, 101, 108, 108, 111]],
    ["aGVsbG8", [104, 101, 108, 108, 111]],
    ["aGVs\nbG8=\n", [104, 101, 108, 108, 111]],
    ["  AAEC  ", [0, 1, 2]],
    ["data:image/png;base64,AAEC/w==", [0, 1, 2, 255]],
    ["", []],
  ])("decodes %j", (input, expected) => {
    expect(decodeBase64Content(input)).toEqual(new Uint8Array(expected));
  });

  it.each(["not base64!", "@@@@", "A", "AAEC=A", "héllo"])("returns null for %j", (input) => {
    expect(decodeBase64Content(input)).toBeNull();
  });

  it("round-trips every byte value", () => {
    const all = new Uint8Array(256).map((_, i) => i);
    expect(decodeBase64Content(Buffer.from(all).toString("base64"))).toEqual(all);
  });
});

describe("FileData helpers", () => {
  it("createFileData defaults the MIME type by content kind and sets both times", () => {
    const text = createFileData("x");
    expect(text).toMatchObject({ content: "x", mimeType: "text/plain" });
    expect(text.created_at).toBe(text.modified_at);
    expect(createFileData(new Uint8Array([1])).mimeType).toBe("application/octet-stream");
    expect(createFileData("x", "2020-01-01T00:00:00.000Z", "text/markdown")).toMatchObject({
      created_at: "2020-01-01T00:00:00.000Z",
      mimeType: "text/markdown",
    });
  });

  it("updateFileData keeps created_at, and v1 stays v1 for text", () => {
    const v2 = createFileData("x", "2020-01-01T00:00:00.000Z", "text/markdown");
    const next = updateFileData(v2, "y");
    expect(next).toMatchObject({ content: "y", mimeType: "text/markdown", created_at: "2020-01-01T00:00:00.000Z" });
    const v1 = updateFileData(legacy, "c\nd");
    expect(v1).toMatchObject({ content: ["c", "d"], created_at: legacy.created_at });
    expect(updateFileData(legacy, new Uint8Array([1]))).toMatchObject({
      mimeType: "text/plain",
      content: new Uint8Array([1]),
    });
  });

  it("reads legacy v1 data", () => {
    expect(isFileDataV1(legacy)).toBe(true);
    expect(fileDataToString(legacy)).toBe("a\nb");
    expect(toFileDataV2(legacy, "/x.md")).toEqual({
      content: "a\nb",
      mimeType: "text/markdown",
      created_at: legacy.created_at,
      modified_at: legacy.modified_at,
    });
    expect(fileDataToBytes(legacy)).toEqual(new TextEncoder().encode("a\nb"));
  });

  it("distinguishes binary content", () => {
    const bin = createFileData(new Uint8Array([0, 255]), undefined, "image/png");
    expect(isFileDataBinary(bin)).toBe(true);
    expect(isFileDataBinary(createFileData("x"))).toBe(false);
    expect(() => fileDataToString(bin)).toThrow(TypeError);
    expect(fileDataToBytes(bin)).toEqual(new Uint8Array([0, 255]));
  });

  it("contentFromBytes keeps text as text and anything else as bytes", () => {
    expect(contentFromBytes("/a.txt", new TextEncoder().encode("é"))).toBe("é");
    expect(contentFromBytes("/a.txt", new Uint8Array([0xff]))).toEqual(new Uint8Array([0xff]));
    expect(contentFromBytes("/a.png", new TextEncoder().encode("abc"))).toEqual(new TextEncoder().encode("abc"));
    expect(contentFromBytes("/a.txt", new Uint8Array([0xef, 0xbb, 0xbf]))).toBe("\uFEFF");
  });

  it("bytesForWrite encodes text paths and decodes base64 for binary paths", () => {
    expect(bytesForWrite("/a.txt", "aGk=")).toEqual(new TextEncoder().encode("aGk="));
    expect(bytesForWrite("/a.png", "aGk=")).toEqual(new TextEncoder().encode("hi"));
    expect(bytesForWrite("/a.png", "not base64!")).toBeNull();
  });
});
