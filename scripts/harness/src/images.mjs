import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { imageExists, importImage } from "./docker-api.mjs";
import { acquireLock, cacheDir, isRoot, makeTempDir, removeDir, run } from "./process-util.mjs";

/**
 * Image tag and Debian packages of each runtime preset: the same file @deepfs/docker builds its preset
 * recipes from, so the harness images and the recipes install the same packages. Bump a tag there
 * when what goes into its image changes.
 */
const PRESETS = JSON.parse(
  readFileSync(new URL("../../../packages/docker/src/runtime-presets.json", import.meta.url), "utf8"),
);

/** Sandbox images the tests use. */
export const IMAGE_TAGS = Object.freeze({
  busybox: PRESETS.busybox.image,
  python: PRESETS["python-minimal"].image,
  datascience: PRESETS["python-datascience"].image,
  node: PRESETS.node.image,
});

const AGENT_UID = 1000;
const SUITE = "bookworm";

/** The quick images any Docker test may use; the others take minutes and are built on request. */
const DEFAULT_PRESETS = ["busybox", "python-minimal"];

/**
 * Builds each sandbox image of `presets` that the engine at `dockerHost` lacks. No registry can be
 * reached, so images are made from local files: a static busybox, and debootstrapped Debians with
 * each preset's packages (python-datascience and node take minutes, hence not built by default).
 */
export async function ensureImages({ dockerHost, log = () => {}, presets = DEFAULT_PRESETS }) {
  for (const name of presets) {
    const preset = PRESETS[name];
    if (!preset) throw new Error(`unknown runtime preset ${name}`);
    const { image, packages } = preset;
    if (name === "busybox") {
      await ensureImage(dockerHost, image, buildBusyboxRootfs, ["/bin/sh"], log);
    } else {
      const build = (rootfs) => buildDebianRootfs(rootfs, image, packages, log);
      await ensureImage(dockerHost, image, build, ["/bin/bash"], log);
    }
  }
  return { ...IMAGE_TAGS };
}

async function ensureImage(host, tag, buildRootfs, cmd, log) {
  if (await imageExists(host, tag)) {
    log(`docker: image cached ${tag}`);
    return;
  }
  // Concurrent test processes against one engine would otherwise build the same image twice.
  const lockName = tag.replace(/[^a-z0-9.-]+/gi, "_");
  const release = await acquireLock(join(cacheDir(), `image-${lockName}.lock`), {
    onWait: (pid) => log(`docker: waiting for pid ${pid}, which is building ${tag}`),
  });
  const scratch = makeTempDir("deepfs-image");
  try {
    if (await imageExists(host, tag)) {
      log(`docker: image cached ${tag} (built by another process)`);
      return;
    }
    const started = Date.now();
    const rootfs = join(scratch, "rootfs");
    mkdirSync(rootfs);
    await buildRootfs(rootfs, log);
    const tarball = join(scratch, "rootfs.tar");
    await packRootfs(rootfs, tarball);
    await importImage(host, tag, createReadStream(tarball), cmd);
    log(`docker: built image ${tag} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await unmountLeftovers(scratch);
    removeDir(scratch);
    release();
  }
}

/**
 * Root-owned except /workspace, which belongs to the agent user. Ownership is set in the archive,
 * so packing needs no root.
 */
async function packRootfs(rootfs, tarball) {
  const common = ["--numeric-owner", "-C", rootfs];
  await run("tar", [...common, "--owner=0", "--group=0", "--exclude=./workspace", "-cf", tarball, "."]);
  await run("tar", [...common, `--owner=${AGENT_UID}`, `--group=${AGENT_UID}`, "-rf", tarball, "./workspace"]);
}

async function buildBusyboxRootfs(rootfs) {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));
  if (!busybox) throw new Error("busybox is not installed (apt-get install busybox-static)");
  mkdirSync(join(rootfs, "bin"));
  copyFileSync(busybox, join(rootfs, "bin", "busybox"));
  chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  // Same result as `busybox --install -s` inside the rootfs, without chroot.
  const { stdout } = await run(busybox, ["--list-full"]);
  for (const applet of stdout.split("\n").filter(Boolean)) {
    if (applet === "bin/busybox") continue;
    mkdirSync(join(rootfs, dirname(applet)), { recursive: true });
    symlinkSync("/bin/busybox", join(rootfs, applet));
  }
  for (const dir of ["etc", "root", "tmp", "workspace", "dev", "proc", "sys"]) {
    mkdirSync(join(rootfs, dir), { recursive: true });
  }
  chmodSync(join(rootfs, "tmp"), 0o1777);
  chmodSync(join(rootfs, "root"), 0o700);
  await writeFile(
    join(rootfs, "etc", "passwd"),
    `root:x:0:0:root:/root:/bin/sh\nagent:x:${AGENT_UID}:${AGENT_UID}:agent:/workspace:/bin/sh\n`,
  );
  await writeFile(join(rootfs, "etc", "group"), `root:x:0:\nagent:x:${AGENT_UID}:\n`);
}

/**
 * Debian bookworm minbase plus the preset's packages, installed with the very command of the
 * preset's recipe in @deepfs/docker: apt's resolver, unlike debootstrap's `--include`, handles the
 * alternatives and virtual packages of npm's dependencies.
 */
async function buildDebianRootfs(rootfs, image, packages, log) {
  if (!isRoot()) throw new Error(`building ${image} needs root (debootstrap, chroot)`);
  const mirror = await debianMirror();
  log(
    `docker: debootstrap ${SUITE} from ${mirror} + apt-get install ${packages.join(" ")} for ${image} (once per machine)`,
  );
  await run("debootstrap", ["--variant=minbase", SUITE, rootfs, mirror]).catch((error) => {
    throw error.code === "ENOENT" ? new Error("debootstrap is not installed (apt-get install debootstrap)") : error;
  });
  copyFileSync("/etc/resolv.conf", join(rootfs, "etc", "resolv.conf"));
  const proc = join(rootfs, "proc");
  await run("mount", ["-t", "proc", "proc", proc]);
  try {
    const install = 'apt-get update && apt-get install -y --no-install-recommends "$@"';
    await run("chroot", [rootfs, "/bin/sh", "-c", install, "sh", ...packages], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C", PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
  } finally {
    await run("umount", ["-l", proc]).catch(() => {});
  }
  appendFileSync(join(rootfs, "etc", "passwd"), `agent:x:${AGENT_UID}:${AGENT_UID}:agent:/workspace:/bin/bash\n`);
  appendFileSync(join(rootfs, "etc", "group"), `agent:x:${AGENT_UID}:\n`);
  appendFileSync(join(rootfs, "etc", "shadow"), "agent:*:19000:0:99999:7:::\n");
  mkdirSync(join(rootfs, "workspace"));
  chownSync(join(rootfs, "workspace"), AGENT_UID, AGENT_UID);
  // Downloaded packages and indexes are useless in a sandbox and double the image size.
  for (const dir of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
    for (const entry of await readdir(join(rootfs, dir), { withFileTypes: true })) {
      if (entry.isFile()) rmSync(join(rootfs, dir, entry.name));
    }
  }
}

/** The Debian mirror apt is configured with (deb822 or one-line format), else deb.debian.org. */
async function debianMirror() {
  if (process.env.DEEPFS_DEBIAN_MIRROR) return process.env.DEEPFS_DEBIAN_MIRROR;
  const files = ["/etc/apt/sources.list"];
  if (existsSync("/etc/apt/sources.list.d")) {
    for (const name of (await readdir("/etc/apt/sources.list.d")).sort()) {
      if (name.endsWith(".list") || name.endsWith(".sources")) files.push(join("/etc/apt/sources.list.d", name));
    }
  }
  for (const file of files) {
    const text = await readFile(file, "utf8").catch(() => "");
    const oneLine = text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m);
    if (oneLine) return oneLine[1];
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = stanza.match(/^URIs:\s*(\S+)/m);
      const suites = stanza.match(/^Suites:(.*)$/m);
      if (uri && suites?.[1].split(/\s+/).includes(SUITE)) return uri[1];
    }
  }
  return "http://deb.debian.org/debian";
}

/** An interrupted debootstrap leaves proc and sys mounted inside the rootfs; never delete through them. */
async function unmountLeftovers(scratch) {
  const mounts = await readFile("/proc/mounts", "utf8").catch(() => "");
  const inside = mounts
    .split("\n")
    .map((line) => line.split(" ")[1])
    .filter((point) => point?.startsWith(`${scratch}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of inside) await run("umount", ["-l", point]).catch(() => {});
}
