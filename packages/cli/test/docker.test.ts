import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { DockerSandbox } from "@deepfs/docker";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deepfs, readTree, tempDir, writeTree } from "./support.js";

const skip = requireOrSkipReason("docker");
const status = serviceStatus("docker");
const image = (status.available ? status.env.DEEPFS_DOCKER_IMAGE_BUSYBOX : undefined) ?? "deepfs/busybox:1";
const dirs: string[] = [];

describe.skipIf(skip !== undefined)("deepfs on docker://<container> (attach)", () => {
  // A running container the CLI did not start: here one made by a DockerSandbox of this test.
  const name = `deepfs-cli-attach-${randomBytes(4).toString("hex")}`;
  let owner: DockerSandbox;

  beforeAll(async () => {
    owner = new DockerSandbox({ image, id: name, labels: { "deepfs.test": "1" } });
    await owner.start();
  });

  afterAll(async () => {
    await owner?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("reads, writes and copies a tree in the running container, and leaves it running", async () => {
    const put = await deepfs(["put", `docker://${name}/workspace/notes/a.md`], { input: "hello from the cli\n" });
    expect(put.stderr).toBe("");
    expect(put.status).toBe(0);
    expect((await deepfs(["cat", `docker://${name}/workspace/notes/a.md`])).text).toBe("hello from the cli\n");
    expect((await owner.execute("cat /workspace/notes/a.md")).output).toBe("hello from the cli\n");

    const source = tempDir("docker-src");
    const back = tempDir("docker-back");
    dirs.push(source, back);
    const files = writeTree(source, 60);
    const into = await deepfs(["--json", "cp", source, `docker://${name}/workspace/tree/`]);
    expect(into.status, into.stderr).toBe(0);
    expect(JSON.parse(into.text)).toMatchObject({ files: 60, failed: [] });
    const out = await deepfs(["--json", "cp", `docker://${name}/workspace/tree/`, back]);
    expect(JSON.parse(out.text)).toMatchObject({ files: 60, failed: [] });
    expect(readTree(back)).toEqual(files);

    // Each command attached and detached: the container and its files are still there.
    expect((await owner.execute("ls /workspace/tree/bin | wc -l")).output.trim()).toBe("12");
  });

  it("says so when the container does not exist", async () => {
    const missing = await deepfs(["ls", `docker://${name}-missing/workspace/`]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^deepfs: error\[backend_unavailable\] .*no container '.*-missing' to attach to/);
  });
});
