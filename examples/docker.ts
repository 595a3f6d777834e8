/**
 * `DockerSandbox`: a container that holds the agent's files and runs its commands, with no network,
 * no capabilities, a non-root user and memory, CPU and process limits. It is a sandbox backend:
 * passed to `createDeepAgent`, the agent gets an `execute` tool.
 *
 * Run (from `examples/`): with a Docker engine (`DOCKER_HOST` or the default socket) and a local
 * image, `DEEPFS_DOCKER_IMAGE_BUSYBOX=deepfs/busybox:1 pnpm exec tsx docker.ts`. Without that variable
 * the `python-minimal` runtime is used; `deepfs/*` images are built locally, never pulled.
 */
import { DockerSandbox } from "@deepfs/docker";
import { runIfMain } from "./lib/run-main.js";

export async function main() {
  const image = process.env.DEEPFS_DOCKER_IMAGE_BUSYBOX;
  const sandbox = new DockerSandbox({
    ...(image ? { runtime: "busybox" as const, image } : { runtime: "python-minimal" as const }),
    memoryMb: 256,
    timeoutMs: 30_000,
    labels: { "deepfs.example": "docker" },
  });
  try {
    await sandbox.start();
    // Paths are the container's own: what write() stores, execute() sees.
    await sandbox.write("/workspace/count.sh", 'for i in 1 2 3; do echo "line $i"; done\n');
    const run = await sandbox.execute("sh count.sh && id -u");
    // A failing command is a result, not an error: stderr is in the output, the exit code is kept.
    const failing = await sandbox.execute("ls /nope");
    const slow = await sandbox.execute("sleep 5", { timeoutMs: 500 });
    const network = await sandbox.execute("cat /sys/class/net/*/operstate 2>/dev/null | wc -l");
    // A file the command wrote is visible to the file API.
    await sandbox.execute("echo generated > /workspace/out.txt");
    const out = await sandbox.read("/workspace/out.txt");
    const grep = await sandbox.grep("line", "/workspace");

    return {
      id: sandbox.id,
      image: sandbox.image,
      run: { output: run.output, exitCode: run.exitCode },
      failing: { output: failing.output.trim(), exitCode: failing.exitCode },
      timeout: { exitCode: slow.exitCode, output: slow.output.trim() },
      // Only the loopback interface exists: the default network mode is `none`.
      interfaces: Number(network.output.trim()),
      out: out.content,
      grep: grep.matches,
    };
  } finally {
    await sandbox.close(); // removes the container and its files
  }
}

runIfMain(import.meta.url, main);
