// A layer over a backend that is not a plain facade (its own methods: LocalBackend, StateBackend,
// a third party's) goes through that backend's public methods: downloads must use its downloadFiles
// (no read limit) and sizes of files over its read limit come from its listing.
import { describe, expect, it } from "vitest";
import { type ReadRawResult, StateBackend, withAudit, withQuota } from "../src/index.js";

/** A backend whose readRaw refuses files over 16 bytes, as LocalBackend does over its read limit. */
class LimitedReads extends StateBackend {
  override async readRaw(path: string): Promise<ReadRawResult> {
    const got = await super.readRaw(path);
    const content = got.data?.content;
    const size =
      typeof content === "string" ? Buffer.byteLength(content) : content instanceof Uint8Array ? content.byteLength : 0;
    return size > 16 ? { error: `'${path}' is too large to read`, code: "too_large" } : got;
  }
}

describe("a layer over a backend with a read limit", () => {
  it("downloads a file over the limit whole, and counts its size", async () => {
    const inner = new LimitedReads();
    const big = new Uint8Array(1000).fill(9);
    await inner.uploadFiles([["/big.bin", big]]);
    const quota = withQuota(inner, { maxBytes: 10_000 });
    const audited = withAudit(quota, { onAudit: () => {} });
    const [one] = await audited.downloadFiles(["/big.bin"]);
    expect(one?.error).toBeNull();
    expect(one?.content?.byteLength).toBe(1000);
    const [two] = await audited.downloadFiles(["/big.bin", "/big.bin"]);
    expect(two?.content?.byteLength).toBe(1000);
    expect(await quota.usage()).toEqual({ bytes: 1000, files: 1 });
    // Overwriting it counts the difference, which needs its size.
    expect((await audited.uploadFiles([["/big.bin", new Uint8Array(2000)]]))[0]?.error).toBeNull();
    expect(await quota.usage()).toEqual({ bytes: 2000, files: 1 });
  });
});
