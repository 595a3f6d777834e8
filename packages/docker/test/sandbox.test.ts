import { DeepfsError, decodeUtf8Strict, encodeUtf8 } from "@deepfs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerSandbox, MANAGED_LABEL, SANDBOX_LABEL } from "../src/index.js";
import {
  BUSYBOX_IMAGE,
  containersLabelled,
  fileTag,
  PYTHON_IMAGE,
  skipReason,
  testDocker,
  testLabels,
  testSandbox,
} from "./helpers.js";

const tag = fileTag("sandbox");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it is true (up to `ms`); for effects Docker applies asynchronously. */
async function eventually(probe: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    if (await probe()) return true;
  }
  return probe();
}

describe.skipIf(Boolean(skipReason))("DockerSandbox", () => {
  // Most tests share one container; lifecycle tests make their own.
  let shared: DockerSandbox;

  beforeAll(async () => {
    shared = testSandbox(tag, { env: { DEEPFS_GREETING: "hello world" } });
    await shared.start();
  });

  afterAll(async () => {
    await shared?.stop();
    expect(await containersLabelled("deepfs.test-file", tag)).toEqual([]);
  });

  describe("execute", () => {
    it("combines stdout and stderr in arrival order", async () => {
      const result = await shared.execute("echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three");
      expect(result).toEqual({ output: "one\ntwo\nthree\n", exitCode: 0, truncated: false });
    });

    it("returns exit codes, including death by signal, without an error", async () => {
      expect(await shared.execute("echo bad >&2; exit 7")).toEqual({ output: "bad\n", exitCode: 7, truncated: false });
      expect((await shared.execute("kill -9 $$")).exitCode).toBe(137);
      expect((await shared.execute("false")).exitCode).toBe(1);
    });

    it("kills a command past its timeout, with its background children, and returns 124", async () => {
      const result = await shared.execute("echo started; (sleep 77; echo leaked) & sleep 66", { timeoutMs: 500 });
      expect(result.exitCode).toBe(124);
      expect(result.output).toMatch(/^started\nError: command timed out after 500 ms/);
      const ps = await shared.execute("ps -o args");
      expect(ps.output).not.toContain("sleep 77");
      expect(ps.output).not.toContain("sleep 66");
    });

    it("applies the sandbox's default timeout", async () => {
      const quick = testSandbox(tag, { timeoutMs: 300 });
      try {
        const result = await quick.execute("sleep 30");
        expect(result.exitCode).toBe(124);
        expect(result.output).toContain("timed out after 300 ms");
      } finally {
        await quick.stop();
      }
    });

    it("kills a command when its signal aborts", async () => {
      const controller = new AbortController();
      const running = shared.execute("sleep 55", { signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      const result = await running;
      expect(result.exitCode).toBe(130);
      expect(result.output).toContain("aborted");
      expect((await shared.execute("ps -o args")).output).not.toContain("sleep 55");
    });

    it("caps output at 100,000 bytes by default and says truncated", async () => {
      const result = await shared.execute("head -c 250000 /dev/zero | tr '\\0' a");
      expect(result.truncated).toBe(true);
      expect(result.output).toBe("a".repeat(100_000));
      expect(result.exitCode).toBe(0);
    });

    it("never cuts a multi-byte character in half at the cap", async () => {
      const small = testSandbox(tag, { maxOutputBytes: 5 });
      try {
        // "é" is two bytes: the cap falls inside the third one.
        const result = await small.execute("printf 'ééé'");
        expect(result).toEqual({ output: "éé", exitCode: 0, truncated: true });
      } finally {
        await small.stop();
      }
    });

    it("closes stdin so a command waiting for input does not hang", async () => {
      expect(await shared.execute("cat; read line; echo done $?")).toEqual({
        output: "done 1\n",
        exitCode: 0,
        truncated: false,
      });
    });

    it("runs concurrent commands in one sandbox", async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => shared.execute(`sleep 0.$((${i} % 3)); echo job ${i}; exit ${i}`)),
      );
      results.forEach((result, i) => {
        expect(result).toEqual({ output: `job ${i}\n`, exitCode: i, truncated: false });
      });
    });

    it("runs as the non-root user in the workdir with the configured environment", async () => {
      const result = await shared.execute('id -u; id -g; pwd; echo "$DEEPFS_GREETING"');
      expect(result.output).toBe("1000\n1000\n/workspace\nhello world\n");
    });
  });

  describe("secure defaults", () => {
    it("has no network interface but loopback", async () => {
      const result = await shared.execute("ls /sys/class/net");
      expect(result.output.trim().split(/\s+/)).toEqual(["lo"]);
      // No route at all, so an outside address is unreachable rather than merely slow.
      const routes = await shared.execute("tail -n +2 /proc/net/route | wc -l");
      expect(routes.output.trim()).toBe("0");
      const nc = await shared.execute("nc -w 2 8.8.8.8 53 </dev/null 2>&1; echo rc=$?");
      expect(nc.output).toBe("nc: can't connect to remote host (8.8.8.8): Network is unreachable\nrc=1\n");
    });

    it("drops every capability and forbids new privileges", async () => {
      const result = await shared.execute("grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status");
      expect(result.output).toBe("CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\n");
    });

    it("sets memory, cpu and pids limits on the container, and they are in effect", async () => {
      const limited = testSandbox(tag, { memoryMb: 64, cpus: 0.5, pidsLimit: 24 });
      try {
        await limited.start();
        const [info] = await containersLabelled(SANDBOX_LABEL, limited.id);
        const inspect = await testDocker()
          .getContainer(info?.Id ?? "")
          .inspect();
        expect(inspect.HostConfig).toMatchObject({
          Memory: 64 * 1024 * 1024,
          MemorySwap: 64 * 1024 * 1024,
          NanoCpus: 500_000_000,
          PidsLimit: 24,
          NetworkMode: "none",
          CapDrop: ["ALL"],
          SecurityOpt: ["no-new-privileges"],
        });
        expect(inspect.Config.User).toBe("1000:1000");
        // cgroup v2 or v1, whichever the host has.
        const memory = await limited.execute(
          "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
        );
        expect(memory.output.trim()).toBe(String(64 * 1024 * 1024));
        // pidsLimit + 16 short sleeps from a subshell, which dies at the first fork that fails;
        // fewer than the limit run at once (counted with shell builtins: a pipe could not fork).
        const forks = await limited.execute(
          "(for i in $(seq 40); do sleep 3 & done) 2>&1; n=0; for f in /proc/[0-9]*/comm; do read c < $f && [ $c = sleep ] && n=$((n+1)); done; echo $n",
        );
        expect(forks.output).toMatch(/can't fork|Resource temporarily unavailable/);
        const running = Number(forks.output.trim().split("\n").at(-1));
        expect(running).toBeGreaterThan(0);
        expect(running).toBeLessThan(24);
      } finally {
        await limited.stop();
      }
    });
  });

  describe("files", () => {
    it("stores exact bytes, owned by the sandbox user, creating parents that the user owns", async () => {
      const every = new Uint8Array(256).map((_, i) => i);
      const path = "/workspace/files/new dir/every byte.bin";
      expect(await shared.uploadFiles([[path, every]])).toEqual([{ path, error: null }]);
      const [downloaded] = await shared.downloadFiles([path]);
      expect(downloaded?.content).toEqual(every);
      const owners = await shared.execute(`stat -c '%u:%g %a' '${path}' '/workspace/files/new dir'`);
      expect(owners.output).toBe("1000:1000 644\n1000:1000 755\n");
    });

    it("keeps the mode of a file it overwrites", async () => {
      const path = "/workspace/files/run.sh";
      await shared.uploadFiles([[path, encodeUtf8("echo one\n")]]);
      await shared.execute(`chmod 750 ${path}`);
      await shared.uploadFiles([[path, encodeUtf8("echo two\n")]]);
      expect(await shared.execute(`stat -c %a ${path}; ${path}`)).toMatchObject({ output: "750\ntwo\n", exitCode: 0 });
    });

    it("answers permission_denied for a write or read the user has no right to make", async () => {
      const [etc] = await shared.uploadFiles([["/etc/x", encodeUtf8("nope")]]);
      expect(etc).toMatchObject({ path: "/etc/x", error: "permission_denied", code: "permission_denied" });
      expect((await shared.execute("test -e /etc/x; echo $?")).output).toBe("1\n");
      const [nested] = await shared.uploadFiles([["/opt/deep/x", encodeUtf8("nope")]]);
      expect(nested).toMatchObject({ error: "permission_denied", code: "permission_denied" });
      await shared.execute("echo secret > /workspace/files/locked && chmod 000 /workspace/files/locked");
      const [locked] = await shared.downloadFiles(["/workspace/files/locked"]);
      expect(locked).toMatchObject({ content: null, error: "permission_denied", code: "permission_denied" });
    });

    it("writes /tmp and reports a file in the way of a parent as not_a_directory", async () => {
      const results = await shared.uploadFiles([
        ["/tmp/scratch.txt", encodeUtf8("tmp")],
        ["/tmp/scratch.txt/below", encodeUtf8("x")],
      ]);
      expect(results).toEqual([
        { path: "/tmp/scratch.txt", error: null },
        expect.objectContaining({ path: "/tmp/scratch.txt/below", error: "invalid_path", code: "not_a_directory" }),
      ]);
    });

    it("reads through symlinks and hard links with one call", async () => {
      await shared.execute(
        "mkdir -p /workspace/links && echo target > /workspace/links/t && ln -sf t /workspace/links/s && ln -f /workspace/links/t /workspace/links/h",
      );
      const downloaded = await shared.downloadFiles([
        "/workspace/links/t",
        "/workspace/links/s",
        "/workspace/links/h",
        "/workspace/links/t",
      ]);
      expect(downloaded.map((d) => (d.content ? decodeUtf8Strict(d.content) : d.error))).toEqual([
        "target\n",
        "target\n",
        "target\n",
        "target\n",
      ]);
    });

    it("handles names with spaces, quotes, newlines and unicode", async () => {
      const names = [
        "/workspace/odd/a b.txt",
        '/workspace/odd/it\'s "q".txt',
        "/workspace/odd/日本語 ü.md",
        "/workspace/odd/-dash",
      ];
      const up = await shared.uploadFiles(names.map((n, i) => [n, encodeUtf8(`file ${i}`)]));
      expect(up.map((u) => u.error)).toEqual([null, null, null, null]);
      const down = await shared.downloadFiles(names);
      expect(down.map((d) => (d.content ? decodeUtf8Strict(d.content) : d.error))).toEqual([
        "file 0",
        "file 1",
        "file 2",
        "file 3",
      ]);
    });
  });

  describe("lifecycle", () => {
    it("starts lazily, once for concurrent first calls, and stop removes the container", async () => {
      const sandbox = testSandbox(tag);
      const id = sandbox.id;
      expect(await containersLabelled(SANDBOX_LABEL, id)).toEqual([]);
      const results = await Promise.all([
        sandbox.execute("echo a"),
        sandbox.execute("echo b"),
        sandbox.start(),
        sandbox.uploadFiles([["/tmp/x", new Uint8Array([1])]]),
      ]);
      expect(results[0]).toMatchObject({ output: "a\n", exitCode: 0 });
      expect(results[1]).toMatchObject({ output: "b\n", exitCode: 0 });
      const containers = await containersLabelled(SANDBOX_LABEL, id);
      expect(containers).toHaveLength(1);
      expect(containers[0]?.Labels).toMatchObject({ ...testLabels(tag), [MANAGED_LABEL]: "1", [SANDBOX_LABEL]: id });
      expect(containers[0]?.Names).toEqual([`/${id}`]);
      await sandbox.start();
      expect(await containersLabelled(SANDBOX_LABEL, id)).toHaveLength(1);
      await sandbox.stop();
      await sandbox.stop();
      expect(await containersLabelled(SANDBOX_LABEL, id)).toEqual([]);
      expect(sandbox.id).toBe(id);
    });

    it("Symbol.asyncDispose removes the container", async () => {
      let id = "";
      {
        await using sandbox = testSandbox(tag);
        id = sandbox.id;
        await sandbox.execute("true");
        expect(await containersLabelled(SANDBOX_LABEL, id)).toHaveLength(1);
      }
      expect(await containersLabelled(SANDBOX_LABEL, id)).toEqual([]);
    });

    it("removes the container after idleTimeoutMs without calls", async () => {
      const sandbox = testSandbox(tag, { idleTimeoutMs: 200 });
      try {
        await sandbox.execute("true");
        expect(await eventually(async () => (await containersLabelled(SANDBOX_LABEL, sandbox.id)).length === 0)).toBe(
          true,
        );
      } finally {
        await sandbox.stop();
      }
    });

    it("a missing local image fails start() clearly and calls with backend_unavailable", async () => {
      const sandbox = testSandbox(tag, { image: "deepfs/does-not-exist:1" });
      const error = await sandbox.start().catch((e: unknown) => e);
      expect(DeepfsError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: "backend_unavailable" });
      expect((error as Error).message).toContain("deepfs/does-not-exist:1");
      expect(await sandbox.execute("true")).toMatchObject({ code: "backend_unavailable", exitCode: null });
      expect(await containersLabelled(SANDBOX_LABEL, sandbox.id)).toEqual([]);
    });

    it("rejects bad options at construction", () => {
      expect(() => new DockerSandbox({ image: BUSYBOX_IMAGE, memoryMb: -1 })).toThrow(/memoryMb/);
      expect(() => new DockerSandbox({ runtime: "cobol" as "node" })).toThrow(/Unknown runtime/);
      expect(() => new DockerSandbox({ image: BUSYBOX_IMAGE, workdir: "relative" })).toThrow(/workdir/);
    });
  });

  describe.skipIf(!PYTHON_IMAGE)("python runtime", () => {
    it("runs a script written with write(), and an overwrite keeps created_at (GNU stat)", async () => {
      const sandbox = new DockerSandbox({
        runtime: "python-minimal",
        image: PYTHON_IMAGE,
        docker: testDocker(),
        labels: testLabels(tag),
      });
      try {
        const written = await sandbox.write("/workspace/app.py", "import sys\nprint('py', sys.version_info[0])\n");
        expect(written).toMatchObject({ path: "/workspace/app.py" });
        expect(await sandbox.execute("python3 /workspace/app.py")).toEqual({
          output: "py 3\n",
          exitCode: 0,
          truncated: false,
        });
        const before = await sandbox.readRaw("/workspace/app.py");
        await sleep(1100);
        await sandbox.write("/workspace/app.py", "print('v2')\n");
        const after = await sandbox.readRaw("/workspace/app.py");
        expect(after.data?.content).toBe("print('v2')\n");
        expect(after.data?.created_at).toBe(before.data?.created_at);
        expect(after.data?.modified_at).not.toBe(before.data?.modified_at);
      } finally {
        await sandbox.stop();
      }
    });
  });
});
