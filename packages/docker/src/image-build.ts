import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { DeepfsError } from "@deepfs/core";
import Docker from "dockerode";
import { buildArchive } from "./archive.js";
import { classifyImageError, describeDockerError } from "./errors.js";
import {
  isLocalOnlyImage,
  missingImageHint,
  type RuntimeConfig,
  type RuntimePresetName,
  resolveRuntime,
} from "./runtimes.js";

/** Label of every image built from a runtime recipe: the hash of the recipe's Dockerfile. */
export const RECIPE_LABEL = "deepfs.recipe";

/** Options of {@link buildRuntimeImage}. */
export interface BuildRuntimeImageOptions {
  /** Build every step afresh instead of reusing the engine's layer cache (to pick up new packages). */
  noCache?: boolean;
}

const AGENT_UID = 1000;
// Adds the sandbox's default user unless the base has a uid 1000 already (its name does not matter:
// the sandbox runs as 1000:1000), and gives it /workspace.
const AGENT_SCRIPT = `set -e
if ! grep -q '^[^:]*:[^:]*:${AGENT_UID}:' /etc/passwd; then
  shell=/bin/sh; if [ -x /bin/bash ]; then shell=/bin/bash; fi
  echo "agent:x:${AGENT_UID}:${AGENT_UID}:agent:/workspace:$shell" >> /etc/passwd
  if [ -f /etc/shadow ]; then echo 'agent:*:19000:0:99999:7:::' >> /etc/shadow; fi
fi
grep -q '^[^:]*:[^:]*:${AGENT_UID}:' /etc/group || echo 'agent:x:${AGENT_UID}:' >> /etc/group
mkdir -p /workspace
chown ${AGENT_UID}:${AGENT_UID} /workspace`;
// Only so much of a failed build's output goes into the error message.
const OUTPUT_TAIL_LINES = 5;
const OUTPUT_TAIL_CHARS = 600;

/** Builds and pulls in flight, per engine and image: sandboxes starting together share one. */
const inFlight = new Map<string, Promise<void>>();

/**
 * The Dockerfile a runtime's recipe generates (see {@link RuntimeBuild}). Every `RUN` uses the exec
 * form with a JSON string, so commands may hold quotes and newlines without escaping.
 */
export function runtimeDockerfile(runtime: RuntimeConfig): string {
  if (!runtime.build) throw new DeepfsError("invalid_argument", `runtime of image '${runtime.image}' has no recipe`);
  const shell = (script: string) => `RUN ${JSON.stringify(["/bin/sh", "-c", script])}`;
  const lines = [`FROM ${runtime.build.from}`, "USER root"];
  const packages = runtime.packages ?? [];
  if (packages.length > 0) {
    lines.push(
      shell(
        `export DEBIAN_FRONTEND=noninteractive && apt-get update && apt-get install -y --no-install-recommends ${packages.join(" ")} && rm -rf /var/lib/apt/lists/*`,
      ),
    );
  }
  for (const command of runtime.build.run ?? []) lines.push(shell(command));
  lines.push(shell(AGENT_SCRIPT));
  return `${lines.join("\n")}\n`;
}

/**
 * Builds a runtime's image from its recipe on the Docker engine and tags it with the runtime's
 * image name, whether or not the engine has the image already (the engine's layer cache makes a
 * rebuild quick). `DockerSandbox` builds a missing image by itself at start; call this ahead of
 * time, for example when deploying, to spare the first sandbox the wait. The recipe's base image
 * is pulled when the engine lacks it. Concurrent calls for one image on one engine share one build.
 *
 * @param docker a `Docker` client or its connection options
 * @param runtime a preset name or a `RuntimeConfig` with `build`
 * @returns the image name
 * @throws DeepfsError `invalid_argument` without a recipe, `backend_unavailable` when the build fails
 */
export async function buildRuntimeImage(
  docker: Docker | Docker.DockerOptions,
  runtime: RuntimePresetName | RuntimeConfig,
  options: BuildRuntimeImageOptions = {},
): Promise<string> {
  const client = docker instanceof Docker ? docker : new Docker(docker);
  const resolved = resolveRuntime(runtime, undefined);
  if (!resolved.build) {
    throw new DeepfsError("invalid_argument", `runtime of image '${resolved.image}' has no build recipe`);
  }
  await once(client, resolved.image, () => build(client, resolved, options));
  return resolved.image;
}

/**
 * Makes sure the engine has the runtime's image: a missing one is built from the runtime's recipe,
 * or else pulled (never a `deepfs/*` one). `retry` wraps the idempotent lookup.
 */
export async function ensureRuntimeImage(
  docker: Docker,
  runtime: RuntimeConfig,
  retry: <T>(call: () => Promise<T>) => Promise<T> = (call) => call(),
): Promise<void> {
  const { image } = runtime;
  try {
    await retry(() => docker.getImage(image).inspect());
    return;
  } catch (error) {
    if (classifyImageError(error) !== "image_missing") throw error;
  }
  if (runtime.build) return once(docker, image, () => build(docker, runtime, {}));
  if (isLocalOnlyImage(image)) throw new DeepfsError("backend_unavailable", missingImageHint(image));
  return once(docker, image, () => pull(docker, image));
}

/** Runs `work` for `image` unless the same engine is already doing it; then waits for that one. */
function once(docker: Docker, image: string, work: () => Promise<void>): Promise<void> {
  const key = `${engineKey(docker)}\n${image}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = work().finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

/** Identifies the engine a client talks to, so that two clients of one engine share builds. */
function engineKey(docker: Docker): string {
  const modem = docker.modem as { socketPath?: unknown; protocol?: unknown; host?: unknown; port?: unknown };
  if (typeof modem.socketPath === "string") return `unix://${modem.socketPath}`;
  return `${String(modem.protocol ?? "http")}://${String(modem.host)}:${String(modem.port)}`;
}

async function build(docker: Docker, runtime: RuntimeConfig, options: BuildRuntimeImageOptions): Promise<void> {
  const dockerfile = runtimeDockerfile(runtime);
  const recipe = createHash("sha256").update(dockerfile).digest("hex").slice(0, 16);
  const context = await buildArchive([{ name: "Dockerfile", bytes: Buffer.from(dockerfile) }]);
  const failed = (reason: string, cause?: unknown) =>
    new DeepfsError(
      "backend_unavailable",
      `building image '${runtime.image}' from its recipe (FROM ${runtime.build?.from}) failed: ${reason}`,
      { cause },
    );
  let events: BuildEvent[];
  try {
    const stream = await docker.buildImage(Readable.from([context]), {
      t: runtime.image,
      labels: { [RECIPE_LABEL]: recipe },
      rm: true,
      // A failed step leaves no stopped container behind either.
      forcerm: true,
      nocache: options.noCache === true,
      ...(runtime.build?.network ? { networkmode: runtime.build.network } : {}),
    });
    events = await follow(docker, stream);
  } catch (error) {
    throw failed(describeDockerError(error), error);
  }
  // The engine reports a failed step inside the stream of a successful HTTP answer.
  const error = events.find((event) => event.error !== undefined || event.errorDetail !== undefined);
  if (error) {
    const message = error.errorDetail?.message ?? error.error ?? "unknown error";
    const tail = outputTail(events);
    throw failed(tail === "" ? message : `${message}; last output: ${tail}`);
  }
}

async function pull(docker: Docker, image: string): Promise<void> {
  try {
    const events = await follow(docker, await docker.pull(image));
    const error = events.find((event) => event.error !== undefined || event.errorDetail !== undefined);
    if (error) throw new Error(error.errorDetail?.message ?? error.error);
  } catch (error) {
    throw new DeepfsError("backend_unavailable", `${missingImageHint(image)} (${describeDockerError(error)})`, {
      cause: error,
    });
  }
}

/** One JSON message of a build or pull progress stream. */
interface BuildEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<BuildEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (error: unknown, events: BuildEvent[]) =>
      error ? reject(error) : resolve(events),
    );
  });
}

/** The last lines the build's commands printed, without terminal colours. */
function outputTail(events: BuildEvent[]): string {
  const text = events
    .map((event) => event.stream ?? "")
    .join("")
    .replace(/\u001b\[[0-9;]*m/g, "");
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !/^(---> |Step \d|Removing intermediate container )/.test(line));
  const tail = lines.slice(-OUTPUT_TAIL_LINES).join(" / ");
  return tail.length > OUTPUT_TAIL_CHARS ? `...${tail.slice(-OUTPUT_TAIL_CHARS)}` : tail;
}
