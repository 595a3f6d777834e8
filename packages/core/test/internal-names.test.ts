import { describe, expect, it } from "vitest";
import { checkPath, internalTempName, isInternalTempName, isInternalTempPath } from "../src/index.js";

describe("internal temp names", () => {
  it("are names no path can contain, and are recognised exactly", () => {
    for (const token of ["0123456789abcdef", "0123456789ab-1", "a-b-c"]) {
      const name = internalTempName(token);
      expect(checkPath(`/dir/${name}`).ok).toBe(false);
      expect(isInternalTempName(name)).toBe(true);
      expect(isInternalTempPath(`/dir/${name}`)).toBe(true);
    }
    for (const name of [
      ".deepfs-0123456789abcdef.tmp",
      ".deepfs-0123456789ab-1.tmp",
      ".deepfs\\.tmp",
      "x.deepfs\\a.tmp",
    ]) {
      expect(isInternalTempName(name), name).toBe(false);
    }
    expect(() => internalTempName("../x")).toThrow(RangeError);
  });
});
