import { DeepfsError } from "@deepfs/core";
// Shared with the test harness, which debootstraps the same packages into the same tags.
import presetPackages from "./runtime-presets.json" with { type: "json" };

/**
 * How to build a runtime's image when the Docker engine lacks it. The image is built through the
 * engine (`docker build` of a generated Dockerfile): `FROM from`, then `packages` installed with
 * `apt-get install --no-install-recommends`, then each `run` command as root, then a user `agent`
 * (uid 1000, unless the base already has a uid 1000) owning `/workspace`.
 */
export interface RuntimeBuild {
  /**
   * Base image. The engine pulls it when it lacks it, so it needs a registry unless it is present
   * locally. It must have `/bin/sh`, and be Debian-based when the runtime lists `packages`.
   */
  from: string;
  /** Shell commands run as root, in order, after the packages are installed; each is one build step. */
  run?: string[];
  /**
   * Network mode of the build steps, e.g. `host` on an engine without a default bridge. Default:
   * the engine's default (`bridge`). The sandbox's own `network` applies to its container, not here.
   */
  network?: string;
}

/** What a sandbox container runs: an image plus what to prepare in it. */
export interface RuntimeConfig {
  /** Image reference, e.g. `deepfs/python-minimal:2` or `python:3.12-slim`. */
  image: string;
  /**
   * Debian packages the image provides. With `build` they are installed when the image is built;
   * without it they only document the image (nothing is installed at start: the sandbox has no
   * network by default).
   */
  packages?: string[];
  /**
   * The recipe of `image`: when the engine lacks the image, the sandbox builds it from this recipe
   * instead of pulling it, once per engine however many sandboxes start together.
   */
  build?: RuntimeBuild;
  /** Shell commands run once, as the sandbox user in `workdir`, right after the container starts. */
  setupCommands?: string[];
  /** Working directory of commands; overrides the sandbox default `/workspace`. */
  workdir?: string;
  /** Environment variables of every command. */
  env?: Record<string, string>;
}

/** A named runtime with the recipe of its image. */
export interface RuntimePreset extends RuntimeConfig {
  /** What the image contains, for documentation and error messages. */
  description: string;
}

/** Name of a built-in runtime. */
export type RuntimePresetName = "busybox" | "python-minimal" | "python-datascience" | "node";

/** Base of the Debian presets' recipes: Debian 12 (bookworm), the release the test harness debootstraps. */
export const DEBIAN_BASE_IMAGE = "debian:bookworm-slim";
/** Base of the busybox preset's recipe: the official static busybox image. */
export const BUSYBOX_BASE_IMAGE = "busybox:1.36.1";

const PRESET_PACKAGES: Record<RuntimePresetName, { image: string; packages: string[] }> = presetPackages;

function preset(name: RuntimePresetName, from: string, description: string): RuntimePreset {
  const { image, packages } = PRESET_PACKAGES[name];
  return Object.freeze({
    image,
    ...(packages.length > 0 ? { packages: Object.freeze([...packages]) as string[] } : {}),
    build: Object.freeze({ from }),
    description,
  });
}

/**
 * Built-in runtimes. Each image is built from its recipe when the engine lacks it (`deepfs/*` tags
 * are never pulled from a registry, where anyone could publish under that name); the recipe's base
 * image is pulled then. Every image has a user `agent` (uid 1000) owning `/workspace`.
 *
 * | name | image | installed |
 * |---|---|---|
 * | `busybox` | `deepfs/busybox:1` | static busybox (sh, coreutils, find, grep, tar): fast, for tests |
 * | `python-minimal` | `deepfs/python-minimal:2` | Debian bookworm + python3 (the full standard library), ca-certificates |
 * | `python-datascience` | `deepfs/python-datascience:2` | python-minimal + numpy, pandas, scipy, matplotlib |
 * | `node` | `deepfs/node:1` | Debian bookworm + nodejs, npm, ca-certificates |
 */
export const RUNTIME_PRESETS: Readonly<Record<RuntimePresetName, RuntimePreset>> = Object.freeze({
  busybox: preset("busybox", BUSYBOX_BASE_IMAGE, "static busybox (sh, coreutils, find, grep, tar)"),
  "python-minimal": preset("python-minimal", DEBIAN_BASE_IMAGE, "Debian bookworm with python3 and ca-certificates"),
  "python-datascience": preset(
    "python-datascience",
    DEBIAN_BASE_IMAGE,
    "Debian bookworm with python3, numpy, pandas, scipy, matplotlib",
  ),
  node: preset("node", DEBIAN_BASE_IMAGE, "Debian bookworm with nodejs and npm"),
});

// Debian package names (policy 5.6.1), optionally with an architecture and a version.
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+)?$/;

/**
 * The runtime a sandbox uses, from a preset name, a config, or a bare image. An `image` other than
 * the runtime's own drops the runtime's recipe: that image is pulled when missing, not built.
 */
export function resolveRuntime(
  runtime: RuntimePresetName | RuntimeConfig | undefined,
  image: string | undefined,
): RuntimeConfig {
  if (runtime === undefined) return withImage(RUNTIME_PRESETS["python-minimal"], image);
  if (typeof runtime === "string") {
    const preset = (RUNTIME_PRESETS as Record<string, RuntimePreset>)[runtime];
    if (!preset) {
      throw new DeepfsError(
        "invalid_argument",
        `Unknown runtime '${runtime}'; use one of ${Object.keys(RUNTIME_PRESETS).join(", ")} or a RuntimeConfig`,
      );
    }
    return withImage(preset, image);
  }
  if (typeof runtime.image !== "string" || runtime.image === "") {
    throw new DeepfsError("invalid_argument", "RuntimeConfig.image must be a non-empty image reference");
  }
  if (runtime.build !== undefined) checkBuild(runtime);
  return withImage(runtime, image);
}

function withImage(runtime: RuntimeConfig, image: string | undefined): RuntimeConfig {
  if (image === undefined || image === runtime.image) return { ...runtime };
  const { build: _recipeOfAnotherImage, ...rest } = runtime;
  return { ...rest, image };
}

/** Rejects a recipe that would make a broken or injected Dockerfile before anything is built. */
function checkBuild(runtime: RuntimeConfig): void {
  const { build, packages = [] } = runtime;
  if (typeof build?.from !== "string" || !/^\S+$/.test(build.from)) {
    throw new DeepfsError("invalid_argument", "RuntimeConfig.build.from must be an image reference without spaces");
  }
  const bad = packages.find((name) => typeof name !== "string" || !PACKAGE_NAME.test(name));
  if (bad !== undefined) {
    throw new DeepfsError(
      "invalid_argument",
      `RuntimeConfig.packages: ${JSON.stringify(bad)} is not a Debian package name`,
    );
  }
  if (
    build.network !== undefined &&
    (typeof build.network !== "string" || !/^[A-Za-z0-9][\w.-]*$/.test(build.network))
  ) {
    throw new DeepfsError("invalid_argument", "RuntimeConfig.build.network must be a Docker network name");
  }
  if (
    build.run !== undefined &&
    (!Array.isArray(build.run) || build.run.some((c) => typeof c !== "string" || c === ""))
  ) {
    throw new DeepfsError("invalid_argument", "RuntimeConfig.build.run must be a list of non-empty shell commands");
  }
}

/** True for images only ever built locally, which must never be pulled. */
export function isLocalOnlyImage(image: string): boolean {
  return image.startsWith("deepfs/");
}

/** The sentence telling how to obtain a missing image that has no recipe. */
export function missingImageHint(image: string): string {
  if (isLocalOnlyImage(image)) {
    return `image '${image}' is not present on the Docker engine and deepfs/* images are never pulled; give the runtime a build recipe (RuntimeConfig.build) or build the image on the engine first`;
  }
  return `image '${image}' is not present on the Docker engine and could not be pulled; give the runtime a build recipe (RuntimeConfig.build) or load the image on the engine first (docker pull or docker load)`;
}
