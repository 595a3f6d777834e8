import { encodeUtf8 } from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import { type DockerSandbox, SANDBOX_LABEL } from "../src/index.js";
import { containersLabelled, fileTag, skipReason, testDocker, testSandbox } from "./helpers.js";

const tag = fileTag("failures");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The container of `sandbox`, through the engine's API as an outsider would see it. */
async function containerOf(sandbox: DockerSandbox) {
  const [info] = await containersLabelled(SANDBOX_LABEL, sandbox.id);
  return testDocker().getContainer(info?.Id ?? "missing");
}

/** `promise`, or a marker if it has not settled after `ms` (a hang, not a slow call). */
function orHang<T>(promise: Promise<T>, ms = 20_000): Promise<T | "hung"> {
  return Promise.race([promise, sleep(ms).then(() => "hung" as const)]);
}

const outside = {
  "removed (docker rm -f)": (sandbox: DockerSandbox) => containerOf(sandbox).then((c) => c.remove({ force: true })),
  "killed (docker kill)": (sandbox: DockerSandbox) => containerOf(sandbox).then((c) => c.kill()),
};

describe.skipIf(Boolean(skipReason))("a container that dies or is removed from outside", () => {
  afterAll(async () => {
    expect(await containersLabelled("deepfs.test-file", tag)).toEqual([]);
  });

  for (const [how, lose] of Object.entries(outside)) {
    describe(how, () => {
      it("between calls: the next calls give backend_unavailable, start() brings a fresh, empty one", async () => {
        await using sandbox = testSandbox(tag);
        await sandbox.uploadFiles([["/workspace/keep.txt", encodeUtf8("x")]]);
        await lose(sandbox);
        const failed = await sandbox.execute("echo hi");
        expect(failed).toMatchObject({ exitCode: null, code: "backend_unavailable" });
        expect(failed.output).toContain("start()");
        const [download] = await sandbox.downloadFiles(["/workspace/keep.txt"]);
        expect(download).toMatchObject({ content: null, code: "backend_unavailable" });
        const [upload] = await sandbox.uploadFiles([["/workspace/a.txt", encodeUtf8("a")]]);
        expect(upload).toMatchObject({ error: "invalid_path", code: "backend_unavailable" });
        expect(await sandbox.read("/workspace/keep.txt")).toMatchObject({ code: "backend_unavailable" });
        expect(await sandbox.ls("/workspace")).toMatchObject({ code: "backend_unavailable" });
        await sandbox.start();
        expect(await sandbox.execute("test -e /workspace/keep.txt; echo $?")).toMatchObject({
          output: "1\n",
          exitCode: 0,
        });
        expect(await containersLabelled(SANDBOX_LABEL, sandbox.id)).toHaveLength(1);
      });

      it("during a command: the command returns promptly with backend_unavailable", async () => {
        await using sandbox = testSandbox(tag);
        await sandbox.start();
        const running = sandbox.execute("echo started; sleep 60; echo never");
        await sleep(500);
        await lose(sandbox);
        const result = await orHang(running);
        expect(result).toMatchObject({ exitCode: null, code: "backend_unavailable" });
        expect(await sandbox.execute("true")).toMatchObject({ code: "backend_unavailable" });
        await sandbox.start();
        expect(await sandbox.execute("echo back")).toMatchObject({ output: "back\n", exitCode: 0 });
      });
    });
  }

  it("a transfer running when the container goes returns backend_unavailable, not a hang", async () => {
    await using sandbox = testSandbox(tag);
    await sandbox.execute("head -c 20000000 /dev/zero > /workspace/big.bin");
    const downloading = sandbox.downloadFiles(["/workspace/big.bin"]);
    await lose(sandbox);
    const [result] = (await orHang(downloading)) as Awaited<typeof downloading>;
    // The download may have won the race; either way it settles with a definite answer.
    if (result?.error) expect(result).toMatchObject({ content: null, code: "backend_unavailable" });
    else expect(result?.content?.byteLength).toBe(20_000_000);
  });
});

const lose = outside["removed (docker rm -f)"];
