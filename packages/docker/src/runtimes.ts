import { DeepfsError } from "@deepfs/core";

/** What a sandbox container runs: an image plus what to prepare in it. */
export interface RuntimeConfig {
  /** Image reference, e.g. `deepfs/python-minimal:1` or `python:3.12-slim`. */
  image: string;
  /**
   * Packages the image is expected to provide. They are not installed at start (the sandbox has no
   * network by default); they document the recipe an image build uses.
   */
  packages?: string[];
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

/**
 * Built-in runtimes. Their images are built locally (`deepfs/*` tags are never pulled from a
 * registry, where anyone could publish under that name): every image has a user `agent` (uid 1000)
 * owning `/workspace`.
 *
 * | name | image | installed |
 * |---|---|---|
 * | `busybox` | `deepfs/busybox:1` | static busybox (sh, coreutils, find, grep, tar): fast, for tests |
 * | `python-minimal` | `deepfs/python-minimal:1` | Debian bookworm minbase + python3-minimal, ca-certificates |
 * | `python-datascience` | `deepfs/python-datascience:1` | python-minimal + numpy, pandas, matplotlib, scipy |
 * | `node` | `deepfs/node:1` | Debian bookworm minbase + nodejs, npm |
 */
export const RUNTIME_PRESETS = {
  busybox: {
    image: "deepfs/busybox:1",
    description: "static busybox (sh, coreutils, find, grep, tar)",
  },
  "python-minimal": {
    image: "deepfs/python-minimal:1",
    packages: ["python3-minimal", "ca-certificates"],
    description: "Debian bookworm minbase with python3-minimal",
  },
  "python-datascience": {
    image: "deepfs/python-datascience:1",
    packages: ["python3-minimal", "python3-numpy", "python3-pandas", "python3-matplotlib", "python3-scipy"],
    description: "Debian bookworm minbase with python3, numpy, pandas, matplotlib, scipy",
  },
  node: {
    image: "deepfs/node:1",
    packages: ["nodejs", "npm"],
    description: "Debian bookworm minbase with nodejs and npm",
  },
} as const satisfies Record<string, RuntimePreset>;

/** Name of a built-in runtime. */
export type RuntimePresetName = keyof typeof RUNTIME_PRESETS;

/** The runtime a sandbox uses, from a preset name, a config, or a bare image. */
export function resolveRuntime(
  runtime: RuntimePresetName | RuntimeConfig | undefined,
  image: string | undefined,
): RuntimeConfig {
  if (runtime === undefined) return { image: image ?? RUNTIME_PRESETS["python-minimal"].image };
  if (typeof runtime === "string") {
    const preset = (RUNTIME_PRESETS as Record<string, RuntimePreset>)[runtime];
    if (!preset) {
      throw new DeepfsError(
        "invalid_argument",
        `Unknown runtime '${runtime}'; use one of ${Object.keys(RUNTIME_PRESETS).join(", ")} or a RuntimeConfig`,
      );
    }
    return { ...preset, image: image ?? preset.image };
  }
  if (typeof runtime.image !== "string" || runtime.image === "") {
    throw new DeepfsError("invalid_argument", "RuntimeConfig.image must be a non-empty image reference");
  }
  return { ...runtime, image: image ?? runtime.image };
}

/** True for images only ever built locally, which must never be pulled. */
export function isLocalOnlyImage(image: string): boolean {
  return image.startsWith("deepfs/");
}

/** The sentence telling how to obtain a missing image. */
export function missingImageHint(image: string): string {
  const preset = Object.entries(RUNTIME_PRESETS).find(([, p]) => p.image === image);
  if (preset) {
    return `image '${image}' (runtime '${preset[0]}': ${preset[1].description}) is not present on the Docker engine; build it locally (the @deepfs/harness images script builds deepfs/* images) — it is never pulled from a registry`;
  }
  if (isLocalOnlyImage(image)) return `image '${image}' is not present on the Docker engine; build it locally`;
  return `image '${image}' is not present on the Docker engine and could not be pulled`;
}
