import { randomBytes } from "node:crypto";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import Docker from "dockerode";
import { DockerSandbox, type DockerSandboxOptions } from "../src/index.js";

/** Why the Docker tests cannot run, printed loudly by the harness; undefined when they can. */
export const skipReason = requireOrSkipReason("docker");

const status = serviceStatus("docker");
const env = status.available ? status.env : {};

/** The fast test image (static busybox, user `agent` uid 1000 owning /workspace). */
export const BUSYBOX_IMAGE = env.DEEPFS_DOCKER_IMAGE_BUSYBOX ?? "deepfs/busybox:1";
/** The Python image, when the harness provides one. */
export const PYTHON_IMAGE = env.DEEPFS_DOCKER_IMAGE_PYTHON;

/** A client of the engine the harness found or started (DOCKER_HOST). */
export function testDocker(): Docker {
  return new Docker();
}

/**
 * Labels every test container carries: `deepfs.test=1` lets the harness remove leaks, and the
 * per-file label lets a test file check that it leaked nothing.
 */
export function testLabels(file: string): Record<string, string> {
  return { "deepfs.test": "1", "deepfs.test-file": file };
}

/** A unique value for the per-file label. */
export function fileTag(name: string): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}

/** A busybox sandbox for tests. */
export function testSandbox(file: string, options: DockerSandboxOptions = {}): DockerSandbox {
  return new DockerSandbox({
    image: BUSYBOX_IMAGE,
    docker: testDocker(),
    ...options,
    labels: { ...testLabels(file), ...options.labels },
  });
}

/** Containers (running or not) carrying `key=value`. */
export async function containersLabelled(key: string, value: string): Promise<Docker.ContainerInfo[]> {
  return testDocker().listContainers({ all: true, filters: { label: [`${key}=${value}`] } });
}

/** Now, as the engine's event filters take it (seconds, fractions allowed). */
export const engineTime = (): string => (Date.now() / 1000).toFixed(3);

/** What the engine did to the sandbox's container between `since` and now (exec_create, ...). */
export async function engineEvents(sandbox: DockerSandbox, since: string): Promise<string[]> {
  const until = engineTime();
  const stream = await testDocker().getEvents({
    since: since as unknown as number,
    until: until as unknown as number,
    filters: { container: [sandbox.id] },
  });
  let text = "";
  for await (const chunk of stream) text += String(chunk);
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { Action: string }).Action);
}
