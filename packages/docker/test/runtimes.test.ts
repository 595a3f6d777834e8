import { randomBytes } from "node:crypto";
import { DeepfsError } from "@deepfs/core";
import { ensureImages } from "@deepfs/harness";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildRuntimeImage,
  DockerSandbox,
  RECIPE_LABEL,
  RUNTIME_PRESETS,
  type RuntimeConfig,
  type RuntimePresetName,
  resolveRuntime,
  runtimeDockerfile,
} from "../src/index.js";
import { BUSYBOX_IMAGE, containersLabelled, fileTag, skipReason, testDocker, testLabels } from "./helpers.js";

const tag = fileTag("runtimes");
// Tags of the images this file builds from recipes, removed at the end.
const built = new Set<string>();

function sandboxOf(runtime: RuntimePresetName | RuntimeConfig, docker: Docker = testDocker()): DockerSandbox {
  return new DockerSandbox({ runtime, docker, labels: testLabels(tag) });
}

/** A recipe on the local busybox image whose build needs no network; its steps are unique to the call. */
function localRecipe(run: string[]): RuntimeConfig {
  const image = `deepfs-test/recipe-${randomBytes(4).toString("hex")}:1`;
  built.add(image);
  return { image, build: { from: BUSYBOX_IMAGE, run } };
}

/** Images carrying the recipe label of `image` (dangling ones included: one per build). */
async function imagesOfRecipe(image: string): Promise<Docker.ImageInfo[]> {
  const docker = testDocker();
  const recipe = (await docker.getImage(image).inspect()).Config.Labels?.[RECIPE_LABEL];
  expect(recipe).toMatch(/^[0-9a-f]{16}$/);
  return docker.listImages({ filters: { label: [`${RECIPE_LABEL}=${recipe}`] } });
}

describe.skipIf(Boolean(skipReason))("runtimes", () => {
  afterAll(async () => {
    const docker = testDocker();
    await Promise.all(
      (await containersLabelled("deepfs.test-file", tag)).map((c) => docker.getContainer(c.Id).remove({ force: true })),
    );
    for (const image of built) {
      const labelled = await imagesOfRecipe(image).catch(() => []);
      await docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => {});
      for (const info of labelled) {
        await docker
          .getImage(info.Id)
          .remove({ force: true })
          .catch(() => {});
      }
    }
  });

  describe("presets (images built by the harness from the same package lists)", () => {
    beforeAll(async () => {
      // The heavy images are built on request only (minutes on a fresh machine, then cached).
      await ensureImages({
        dockerHost: process.env.DOCKER_HOST ?? "",
        presets: ["python-datascience", "node"],
        log: (line) => console.error(`[runtimes.test] ${line}`),
      });
    }, 30 * 60_000);

    it.each([
      [
        "busybox",
        "busybox sh -c 'echo sh-ok' && find /workspace -maxdepth 0 && echo a | grep -c a",
        "sh-ok\n/workspace\n1\n",
      ],
      [
        "python-minimal",
        // The whole standard library, not python3-minimal's part of it.
        'python3 -c \'import os, re, ssl, sys, json, sqlite3, asyncio, urllib.request, unittest; print(sys.version_info.major, os.path.exists(ssl.get_default_verify_paths().openssl_cafile), json.dumps(sqlite3.connect(":memory:").execute("select 6*7").fetchone()[0]), asyncio.run(asyncio.sleep(0, 1)))\'',
        "3 True 42 1\n",
      ],
      [
        "python-datascience",
        'python3 -c \'import numpy, pandas, scipy, matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot; print(int(numpy.arange(4).sum()), pandas.DataFrame({"a": [1, 2]}).a.sum(), scipy.__name__)\'',
        "6 3 scipy\n",
      ],
      ["node", "node -e 'console.log(6 * 7)' && npm --version | grep -Ec '^[0-9]+\\.[0-9]+\\.[0-9]+$'", "42\n1\n"],
    ] as const)(
      "%s starts as agent (uid 1000) in /workspace and runs what it promises",
      async (name, command, output) => {
        const sandbox = sandboxOf(name);
        try {
          expect(await sandbox.execute(command, { timeoutMs: 60_000 })).toEqual({
            output,
            exitCode: 0,
            truncated: false,
          });
          expect(await sandbox.execute("id -u; id -un; pwd; touch /workspace/w && echo writable")).toMatchObject({
            output: "1000\nagent\n/workspace\nwritable\n",
            exitCode: 0,
          });
        } finally {
          await sandbox.stop();
        }
      },
    );

    it.each((["python-minimal", "python-datascience", "node"] as const).map((name) => [name]))(
      "%s image has every package its recipe installs",
      async (name) => {
        const packages = RUNTIME_PRESETS[name].packages ?? [];
        expect(packages.length).toBeGreaterThan(0);
        const sandbox = sandboxOf(name);
        try {
          const result = await sandbox.execute(`dpkg-query -W -f='\${Status}\\n' ${packages.join(" ")}`);
          expect(result).toEqual({
            output: "install ok installed\n".repeat(packages.length),
            exitCode: 0,
            truncated: false,
          });
        } finally {
          await sandbox.stop();
        }
      },
    );

    it("preset recipes install the preset's packages on a pinned Debian base", () => {
      const dockerfile = runtimeDockerfile(RUNTIME_PRESETS["python-datascience"]);
      expect(dockerfile.split("\n")[0]).toBe("FROM debian:bookworm-slim");
      expect(dockerfile).toContain(
        "apt-get install -y --no-install-recommends python3 ca-certificates python3-numpy python3-pandas python3-scipy python3-matplotlib",
      );
      expect(runtimeDockerfile(RUNTIME_PRESETS.busybox).split("\n")[0]).toBe("FROM busybox:1.36.1");
    });
  });

  describe("recipes", () => {
    it("a missing image with a recipe is built through the engine (no registry), labelled, then started", async () => {
      // The second step makes the base look like one without the sandbox user: the recipe adds it.
      const runtime = localRecipe([
        "echo \"built 'quoted'\" > /etc/deepfs-recipe",
        "sed -i '/^agent:/d' /etc/passwd /etc/group && rmdir /workspace",
      ]);
      const sandbox = sandboxOf(runtime);
      try {
        const probe = "cat /etc/deepfs-recipe; id -un; stat -c %u /workspace; grep ^agent: /etc/passwd";
        expect(await sandbox.execute(probe)).toEqual({
          output: "built 'quoted'\nagent\n1000\nagent:x:1000:1000:agent:/workspace:/bin/sh\n",
          exitCode: 0,
          truncated: false,
        });
        expect(await imagesOfRecipe(runtime.image)).toHaveLength(1);
      } finally {
        await sandbox.stop();
      }
    });

    it("concurrent sandboxes on one engine share one build, even through different clients", async () => {
      // Each build would write a different id, and leave its own image behind.
      const runtime = localRecipe(["head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /etc/build-id"]);
      const sandboxes = [0, 1, 2].map(() => sandboxOf(runtime, new Docker()));
      try {
        await Promise.all(sandboxes.map((s) => s.start()));
        const ids = await Promise.all(sandboxes.map(async (s) => (await s.execute("cat /etc/build-id")).output));
        expect(ids[0]).toMatch(/^[0-9a-f]{16}$/);
        expect(new Set(ids).size).toBe(1);
        expect(await imagesOfRecipe(runtime.image)).toHaveLength(1);
      } finally {
        await Promise.all(sandboxes.map((s) => s.stop()));
      }
    });

    it("buildRuntimeImage builds ahead of time; the sandbox then uses that image", async () => {
      const runtime = localRecipe(["head -c 8 /dev/urandom | od -An -tx1 > /etc/built-at"]);
      expect(await buildRuntimeImage(testDocker(), runtime)).toBe(runtime.image);
      const [before] = await imagesOfRecipe(runtime.image);
      const sandbox = sandboxOf(runtime);
      try {
        expect(await sandbox.execute("test -s /etc/built-at && echo ok")).toMatchObject({
          output: "ok\n",
          exitCode: 0,
        });
        const [container] = await containersLabelled("deepfs.sandbox", sandbox.id);
        expect(container?.ImageID).toBe(before?.Id);
      } finally {
        await sandbox.stop();
      }
      await expect(buildRuntimeImage(testDocker(), { image: "deepfs-test/no-recipe:1" })).rejects.toMatchObject({
        code: "invalid_argument",
      });
    });

    it("a failing recipe gives backend_unavailable naming the image, the step and its output", async () => {
      const runtime = localRecipe(["echo recipe-went-wrong >&2; exit 3"]);
      const sandbox = sandboxOf(runtime);
      const error = await sandbox.start().catch((e: unknown) => e);
      expect(DeepfsError.isInstance(error)).toBe(true);
      const message = (error as Error).message;
      expect(error).toMatchObject({ code: "backend_unavailable" });
      expect(message).toContain(`building image '${runtime.image}' from its recipe (FROM ${BUSYBOX_IMAGE}) failed`);
      expect(message).toContain("returned a non-zero code: 3");
      expect(message).toContain("recipe-went-wrong");
      const result = await sandbox.execute("true");
      expect(result).toMatchObject({ code: "backend_unavailable", exitCode: null });
      expect(result.output).toContain("recipe-went-wrong");
      expect(await containersLabelled("deepfs.sandbox", sandbox.id)).toEqual([]);
      await expect(testDocker().getImage(runtime.image).inspect()).rejects.toMatchObject({ statusCode: 404 });
    });

    it("a recipe whose base image is absent and unpullable fails with backend_unavailable", async () => {
      const runtime = localRecipe(["true"]);
      const sandbox = sandboxOf({ ...runtime, build: { from: `deepfs-test/absent-base-${tag}:1` } });
      const error = await sandbox.start().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "backend_unavailable" });
      expect((error as Error).message).toContain(`FROM deepfs-test/absent-base-${tag}:1`);
    });

    it("a missing deepfs/* image without a recipe is never pulled, and the hint names no private tool", async () => {
      const sandbox = sandboxOf({ image: `deepfs/absent-${tag}:1` });
      const error = await sandbox.start().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "backend_unavailable" });
      expect((error as Error).message).toContain("never pulled");
      expect((error as Error).message).toContain("RuntimeConfig.build");
      expect((error as Error).message).not.toMatch(/harness/i);
    });

    it("rejects a recipe that would make a broken Dockerfile, before any I/O", () => {
      const bad: RuntimeConfig[] = [
        { image: "x:1", build: { from: "busybox\nRUN evil" } },
        { image: "x:1", packages: ["ok", "bad name"], build: { from: "debian:bookworm-slim" } },
        { image: "x:1", build: { from: "busybox", run: [""] } },
        { image: "x:1", build: { from: "busybox", network: "host\nRUN evil" } },
      ];
      for (const runtime of bad) {
        expect(() => sandboxOf(runtime)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
      }
      // An image overriding a preset's is pulled, not built from the preset's recipe.
      expect(resolveRuntime("node", "example/other:1")).not.toHaveProperty("build");
      expect(resolveRuntime("node", undefined).build).toEqual({ from: "debian:bookworm-slim" });
    });
  });
});
