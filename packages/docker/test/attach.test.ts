import { DeepfsError, decodeUtf8Strict, encodeUtf8 } from "@deepfs/core";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerSandbox } from "../src/index.js";
import { BUSYBOX_IMAGE, containersLabelled, fileTag, skipReason, testDocker, testLabels } from "./helpers.js";

const tag = fileTag("attach");
const KEEPALIVE = "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done";

/** A running container made the way a user makes one (not by deepfs), owned by this test file. */
async function userContainer(name: string): Promise<Docker.Container> {
  const container = await testDocker().createContainer({
    name,
    Image: BUSYBOX_IMAGE,
    Entrypoint: ["/bin/sh", "-c", KEEPALIVE],
    Cmd: [],
    User: "1000:1000",
    WorkingDir: "/workspace",
    Labels: testLabels(tag),
    HostConfig: { NetworkMode: "none" },
  });
  await container.start();
  return container;
}

describe.skipIf(Boolean(skipReason))("DockerSandbox attach", () => {
  const name = `deepfs-attach-${tag}`;
  let container: Docker.Container;

  beforeAll(async () => {
    container = await userContainer(name);
  });

  afterAll(async () => {
    for (const info of await containersLabelled("deepfs.test-file", tag)) {
      await testDocker().getContainer(info.Id).remove({ force: true });
    }
  });

  it("works in a running container it did not create, as its user in its workdir, and never removes it", async () => {
    const sandbox = DockerSandbox.attach(name, { docker: testDocker() });
    expect(sandbox.attached).toBe(true);
    expect(sandbox.id).toBe(name);
    const [uploaded] = await sandbox.uploadFiles([["/workspace/notes/a.md", encodeUtf8("attached\n")]]);
    expect(uploaded?.error).toBeNull();
    const run = await sandbox.execute("pwd; id -u; cat notes/a.md");
    expect(run).toEqual({ output: "/workspace\n1000\nattached\n", exitCode: 0, truncated: false });
    expect((await sandbox.ls("/workspace/notes")).files?.map((f) => f.path)).toEqual(["/workspace/notes/a.md"]);
    await sandbox.close();
    expect((await container.inspect()).State.Running).toBe(true);

    // Attached again (by id this time): the file is still there, so nothing was removed or reset.
    const info = await container.inspect();
    await using again = new DockerSandbox({ attach: info.Id.slice(0, 12), docker: testDocker() });
    const [downloaded] = await again.downloadFiles(["/workspace/notes/a.md"]);
    expect(decodeUtf8Strict(downloaded?.content ?? new Uint8Array())).toBe("attached\n");
    expect((await again.execute("id -u", {})).output).toBe("1000\n");
  });

  it("runs as another user or in another workdir when told to", async () => {
    await using sandbox = DockerSandbox.attach(name, { docker: testDocker(), user: "0:0", workdir: "/tmp" });
    expect((await sandbox.execute("pwd; id -u")).output).toBe("/tmp\n0\n");
  });

  it("refuses a missing or stopped container with a clear backend_unavailable", async () => {
    const missing = DockerSandbox.attach(`${name}-missing`, { docker: testDocker() });
    const started = await missing.start().catch((error: unknown) => error);
    expect(DeepfsError.isInstance(started) && started.code).toBe("backend_unavailable");
    expect((started as Error).message).toContain(`no container '${name}-missing' to attach to`);
    const read = await missing.read("/workspace/a.md");
    expect(read.code).toBe("backend_unavailable");

    const stoppedName = `${name}-stopped`;
    const stopped = await userContainer(stoppedName);
    await stopped.stop({ t: 0 });
    const sandbox = DockerSandbox.attach(stoppedName, { docker: testDocker() });
    const refused = await sandbox.start().catch((error: unknown) => error);
    expect((refused as Error).message).toMatch(/container '.*-stopped' is exited; attach needs a running container/);
    await sandbox.close();
    expect((await stopped.inspect()).State.Status).toBe("exited");
  });

  it("refuses options that shape a created container", () => {
    for (const options of [{ memoryMb: 64 }, { image: BUSYBOX_IMAGE }, { network: "host" }, { labels: { a: "b" } }]) {
      expect(() => new DockerSandbox({ attach: name, ...options })).toThrow(/an attached container keeps its own/);
    }
    expect(() => new DockerSandbox({ attach: "../etc" })).toThrow(/not a container name or id/);
  });
});
