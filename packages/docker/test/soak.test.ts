import { defineSoak } from "@deepfs/conformance/soak";
import type { DockerSandbox } from "../src/index.js";
import { containersLabelled, fileTag, skipReason, testDocker, testSandbox } from "./helpers.js";

const tag = fileTag("soak");
let sandbox: DockerSandbox | undefined;

/**
 * Execs still running in the sandbox's container (the engine keeps finished ones listed for a while).
 * The sandbox keeps a few long-lived shells for its calls (3 after the warm-up here), so the check is
 * that the run left no more than the warm-up did: a command that never ends would add one.
 */
async function runningExecs(): Promise<number> {
  if (!sandbox) return 0;
  const docker = testDocker();
  const info = await docker.getContainer(sandbox.id).inspect();
  let running = 0;
  for (const id of info.ExecIDs ?? []) {
    const exec = await docker
      .getExec(id)
      .inspect()
      .catch(() => undefined);
    if (exec?.Running) running++;
  }
  return running;
}

// One busybox container; the engine runs about 17 execs a second, so each agent does a few dozen calls.
defineSoak({
  name: "DockerSandbox",
  id: "docker",
  skip: skipReason,
  create: async () => {
    sandbox = testSandbox(tag);
    await sandbox.start();
    const backend = sandbox;
    return { backend, root: "/workspace/soak", close: () => backend.stop() };
  },
  probes: [
    { name: "running execs", count: runningExecs, phase: "after-run" },
    {
      name: "containers of this file",
      count: async () => (await containersLabelled("deepfs.test-file", tag)).length,
      max: 0,
    },
  ],
});
