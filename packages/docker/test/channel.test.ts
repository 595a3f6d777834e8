import { randomBytes } from "node:crypto";
import { decodeUtf8Strict, encodeUtf8, shellQuote } from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import { ChannelFailure, ShellChannel } from "../src/channel.js";
import { startAttached } from "../src/exec.js";
import { type DockerSandbox, SANDBOX_LABEL } from "../src/index.js";
import { KILL_SCRIPT } from "../src/scripts.js";
import {
  BUSYBOX_IMAGE,
  containersLabelled,
  engineEvents,
  engineTime,
  fileTag,
  PYTHON_IMAGE,
  skipReason,
  testDocker,
  testSandbox,
} from "./helpers.js";

// File transfers go through long-lived shells in the container (channel.ts) instead of an exec each.
const tag = fileTag("channel");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const images = [
  ["busybox", BUSYBOX_IMAGE],
  ["debian (GNU)", PYTHON_IMAGE],
].filter((entry): entry is [string, string] => entry[1] !== undefined);

/** Pids of the sandbox's channel shells (each names its private directory after its pid). */
async function channelPids(sandbox: DockerSandbox): Promise<string[]> {
  const listed = await sandbox.execute("ls -a /tmp | sed -n 's/^\\.deepfs-ch-//p'");
  return listed.output.split("\n").filter(Boolean);
}

/** Open connections of this process (to the engine, among others) that keep it alive. */
function connections(): number {
  return process.getActiveResourcesInfo().filter((resource) => /Pipe|TCP/.test(resource)).length;
}

function randomText(i: number): string {
  return `file ${i}\r\n${randomBytes(200 + i * 37).toString("base64")}\n\u00e9\u65e5\n`;
}

describe.skipIf(Boolean(skipReason))("the file channel", () => {
  afterAll(async () => {
    expect(await containersLabelled("deepfs.test-file", tag)).toEqual([]);
  });

  for (const [name, image] of images) {
    describe(name, () => {
      it("moves exact bytes (binary, NUL, CRLF, empty, odd names, both sides of the 8 MiB limit)", async () => {
        await using sandbox = testSandbox(tag, { image });
        const every = new Uint8Array(512).map((_, i) => i % 256);
        const files: Array<[string, Uint8Array]> = [
          ["/workspace/c/every.bin", every],
          ["/workspace/c/empty.txt", new Uint8Array()],
          ["/workspace/c/crlf.txt", encodeUtf8("a\r\nb\r\n\u0000\n")],
          ['/workspace/c/with space/it\'s "q" $x `y` *; &|.txt', encodeUtf8("odd name")],
          ["/workspace/c/-dash", encodeUtf8("dash")],
          ["/workspace/c/日本語 ü.md", encodeUtf8("unicode")],
          ["/workspace/c/under.bin", randomBytes(8 * 1024 * 1024 - 10)],
          ["/workspace/c/over.bin", randomBytes(8 * 1024 * 1024 + 10)],
        ];
        for (const [path, bytes] of files) {
          expect(await sandbox.uploadFiles([[path, bytes]])).toEqual([{ path, error: null }]);
          const [entry] = await sandbox.downloadFiles([path]);
          expect(entry?.error).toBeNull();
          expect(Buffer.compare(Buffer.from(entry?.content ?? []), bytes)).toBe(0);
        }
        // Several files in one call, and one call for all of them.
        const small = files.slice(0, 6);
        expect((await sandbox.uploadFiles(small)).map((r) => r.error)).toEqual(small.map(() => null));
        const again = await sandbox.downloadFiles(small.map(([path]) => path));
        expect(again.map((d) => Buffer.from(d.content ?? []).toString("base64"))).toEqual(
          small.map(([, bytes]) => Buffer.from(bytes).toString("base64")),
        );
        const listing = await sandbox.execute("stat -c '%U %s %n' /workspace/c/every.bin /workspace/c/-dash");
        expect(listing.output).toBe("agent 512 /workspace/c/every.bin\nagent 4 /workspace/c/-dash\n");
      });

      it("replaces a file by a rename (channel and exec paths): whole versions only, mode kept, temp files unlisted", async () => {
        await using sandbox = testSandbox(tag, { image });
        const path = "/workspace/r/ledger.txt";
        // Large enough that an in-place rewrite takes several writes, which a reader would catch.
        const versions = ["a", "b", "c", "d"].map((letter) => letter.repeat(512 * 1024));
        await sandbox.write(path, versions[0] as string);
        expect(await sandbox.execute(`chmod 640 ${path}`)).toMatchObject({ exitCode: 0 });
        const inode = async () => (await sandbox.execute(`stat -c %i ${path}`)).output;
        const first = await inode();
        let writing = true;
        const seen: string[] = [];
        const writer = (async () => {
          for (let i = 1; i <= 12; i++) await sandbox.write(path, versions[i % 4] as string);
          writing = false;
        })();
        const readers = [0, 1].map(async () => {
          while (writing) {
            const read = await sandbox.read(path, 0, 1);
            seen.push(versions.includes(read.content as string) ? "whole" : `torn (${String(read.content).length})`);
            const listed = await sandbox.ls("/workspace/r");
            seen.push(listed.files?.map((f) => f.path).join() === path ? "whole" : `listed ${listed.files?.length}`);
          }
        });
        await Promise.all([writer, ...readers]);
        expect(seen.length).toBeGreaterThan(4);
        expect(seen.filter((entry) => entry !== "whole")).toEqual([]);
        // Past 8 MiB the exec path replaces the file the same way.
        const large = randomBytes(8 * 1024 * 1024 + 10);
        expect(await sandbox.uploadFiles([[path, large]])).toEqual([{ path, error: null }]);
        expect(Buffer.compare(Buffer.from((await sandbox.downloadFiles([path]))[0]?.content ?? []), large)).toBe(0);
        expect(await inode()).not.toBe(first);
        expect(await sandbox.execute(`stat -c '%a %U' ${path}; ls -A /workspace/r`)).toMatchObject({
          output: "640 agent\nledger.txt\n",
          exitCode: 0,
        });
        // A temporary file left by a killed upload is never listed nor searched; other dot files are,
        // even one named like the temporary files of old versions.
        await sandbox.execute(
          "cd /workspace/r && echo needle > '.deepfs\\0123456789ab-1.tmp' && echo needle > .deepfs-0123456789ab-1.tmp",
        );
        const old = "/workspace/r/.deepfs-0123456789ab-1.tmp";
        expect((await sandbox.ls("/workspace/r")).files?.map((f) => f.path)).toEqual([old, path]);
        expect((await sandbox.glob("**/.*", "/workspace")).files?.map((f) => f.path)).toEqual([old]);
        expect((await sandbox.grep("needle", "/workspace/r")).matches).toEqual([
          { path: old, line: 1, text: "needle" },
        ]);
      });

      it("answers each failure with its code, and no temporary file is left behind", async () => {
        await using sandbox = testSandbox(tag, { image });
        await sandbox.write("/workspace/f/file.txt", "x");
        const up = await sandbox.uploadFiles([
          ["/etc/x", encodeUtf8("x")],
          ["/workspace/f", encodeUtf8("x")],
          ["/workspace/f/file.txt/below", encodeUtf8("x")],
          ["/workspace/f/ok.txt", encodeUtf8("ok")],
        ]);
        expect(up.map((r) => r.code ?? null)).toEqual(["permission_denied", "is_directory", "not_a_directory", null]);
        const down = await sandbox.downloadFiles(["/workspace/f/missing", "/workspace/f", "/workspace/f/ok.txt"]);
        expect(down.map((r) => r.code ?? null)).toEqual(["file_not_found", "is_directory", null]);
        expect(await sandbox.execute("chmod 000 /workspace/f/ok.txt")).toMatchObject({ exitCode: 0 });
        expect((await sandbox.downloadFiles(["/workspace/f/ok.txt"]))[0]?.code).toBe("permission_denied");
        // A FIFO is not a file to read, and must not block the channel (cat would wait forever).
        expect(await sandbox.execute("mkfifo /workspace/f/pipe")).toMatchObject({ exitCode: 0 });
        expect((await sandbox.downloadFiles(["/workspace/f/pipe"]))[0]?.code).toBe("file_not_found");
        expect((await sandbox.execute("ls -A /workspace/f")).output).toBe("file.txt\nok.txt\npipe\n");
        // A newline in a name never reaches the container (it is not a valid path).
        expect((await sandbox.write("/workspace/f/a\nb", "x")).code).toBe("invalid_path");
      });
    });
  }

  it("20 concurrent write/read pairs are exact, through at most 3 channels and no exec per call", async () => {
    await using sandbox = testSandbox(tag);
    await sandbox.start();
    const since = engineTime();
    const texts = Array.from({ length: 20 }, (_, i) => randomText(i));
    const read = await Promise.all(
      texts.map(async (text, i) => {
        const path = `/workspace/p/${i}/file ${i}.txt`;
        const written = await sandbox.write(path, text);
        if (written.error) return written.error;
        const [download] = await sandbox.downloadFiles([path]);
        return download?.content ? decodeUtf8Strict(download.content) : download?.error;
      }),
    );
    expect(read).toEqual(texts);
    const events = await engineEvents(sandbox, since);
    const execs = events.filter((action) => action.startsWith("exec_create"));
    expect(execs.length).toBeGreaterThan(0);
    expect(execs.length).toBeLessThanOrEqual(3);
    expect(execs.every((action) => action.includes("/tmp/.deepfs-ch-"))).toBe(true);
    expect(await channelPids(sandbox)).toHaveLength(execs.length);
  });

  it("ls, glob, grep, delete, readRaw and conditional writes run through the channels, a listing past the output cap too", async () => {
    // 40 listing records are about 2 KB: past the cap, so the listing is spooled to a file and read back.
    await using sandbox = testSandbox(tag, { maxOutputBytes: 1000 });
    const paths = Array.from({ length: 40 }, (_, i) => `/workspace/many/file-${String(i).padStart(3, "0")}.txt`);
    await sandbox.uploadFiles(paths.map((path, i) => [path, encodeUtf8(`needle ${i}\n`)]));
    const since = engineTime();
    expect((await sandbox.ls("/workspace/many")).files?.map((f) => f.path)).toEqual(paths);
    expect((await sandbox.glob("*.txt", "/workspace/many")).files).toHaveLength(40);
    expect((await sandbox.grep("needle 3", "/workspace/many")).matches?.map((m) => m.path)).toEqual([
      paths[3],
      ...paths.slice(30, 40),
    ]);
    expect(await sandbox.readRaw(paths[0] as string)).toMatchObject({ data: { content: "needle 0\n" } });
    expect(await sandbox.write(paths[0] as string, "x", { ifNoneMatch: "*" })).toMatchObject({ code: "conflict" });
    expect(await sandbox.write("/workspace/many/new.txt", "x", { ifNoneMatch: "*" })).toMatchObject({
      path: "/workspace/many/new.txt",
    });
    expect(await sandbox.delete("/workspace/many")).toEqual({ path: "/workspace/many" });
    expect(await sandbox.delete("/workspace/many")).toMatchObject({ code: "file_not_found" });
    expect(await sandbox.ls("/workspace/many")).toEqual({ files: [] });
    const execs = (await engineEvents(sandbox, since)).filter((action) => action.startsWith("exec_create"));
    expect(execs.every((action) => action.includes("/tmp/.deepfs-ch-"))).toBe(true);
    // No spooled listing is left behind.
    expect((await sandbox.execute("ls /tmp")).output).toBe("");
  });

  it("a channel killed mid-request: the call still returns the right answer, the next one opens a new channel", async () => {
    await using sandbox = testSandbox(tag);
    await sandbox.write("/workspace/k/a.txt", "first");
    const [pid] = await channelPids(sandbox);
    expect(pid).toMatch(/^\d+$/);
    // Stopped, the shell holds the next request unread; killed, it never answers it.
    expect(await sandbox.execute(`kill -STOP ${pid}`)).toMatchObject({ exitCode: 0 });
    const reading = sandbox.read("/workspace/k/a.txt");
    await sleep(300);
    expect(await sandbox.execute(`kill -KILL ${pid}`)).toMatchObject({ exitCode: 0 });
    expect(await reading).toMatchObject({ content: "first" });
    expect(await sandbox.write("/workspace/k/a.txt", "second")).toMatchObject({ path: "/workspace/k/a.txt" });
    expect(await sandbox.read("/workspace/k/a.txt")).toMatchObject({ content: "second" });
    // The new channel removed the dead one's private directory.
    const pids = await channelPids(sandbox);
    expect(pids).toHaveLength(1);
    expect(pids).not.toContain(pid);
  });

  it("a channel killed between calls (kill -9 -1 by a command) is replaced on the next call", async () => {
    await using sandbox = testSandbox(tag);
    await sandbox.write("/workspace/k/b.txt", "one");
    await sandbox.execute("kill -9 -1");
    expect(await sandbox.read("/workspace/k/b.txt")).toMatchObject({ content: "one" });
    expect(await sandbox.write("/workspace/k/b.txt", "two")).toMatchObject({ path: "/workspace/k/b.txt" });
    expect(await sandbox.read("/workspace/k/b.txt")).toMatchObject({ content: "two" });
    expect(await channelPids(sandbox)).toHaveLength(1);
  });

  it("a channel that stops answering is killed, with what it runs, once its stall time passes", async () => {
    await using sandbox = testSandbox(tag);
    await sandbox.start();
    const container = testDocker().getContainer(sandbox.id);
    const killed: string[] = [];
    const kill = async (token: string) => {
      killed.push(token);
      await sandbox.execute(`sh -c ${shellQuote(KILL_SCRIPT)} sh ${token}`);
    };
    const channel = await ShellChannel.open(
      container,
      { user: "1000:1000", workdir: "/workspace", env: [] },
      { stallMs: 500, kill },
    );
    expect(await channel.run("echo hi; cat; echo err >&2; exit 3", Buffer.from("in"), 100)).toEqual({
      status: 3,
      stdout: Buffer.from("hi\nin"),
      stderr: Buffer.from("err\n"),
    });
    const error = await channel.run("sleep 31", Buffer.alloc(0), 100).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelFailure);
    expect(killed).toHaveLength(1);
    expect(channel.dead).toBe(true);
    await expect(channel.run("true", Buffer.alloc(0), 100)).rejects.toBeInstanceOf(ChannelFailure);
    expect((await sandbox.execute("ps -o args")).output).not.toContain("sleep 31");
  });

  it("a shell that cannot start (unknown user) fails to open at once: the engine's complaint is no answer", async () => {
    await using sandbox = testSandbox(tag);
    await sandbox.start();
    const opening = ShellChannel.open(
      testDocker().getContainer(sandbox.id),
      { user: "no-such-user", workdir: "/workspace", env: [] },
      { stallMs: 20_000, kill: async () => {} },
    );
    const error = await Promise.race([opening.catch((e: unknown) => e), sleep(10_000).then(() => "hung")]);
    expect(error).toBeInstanceOf(ChannelFailure);
    expect((error as ChannelFailure).unsupported).toBe(false);
  });

  it("an exec with stdin that the engine refuses to start leaves no connection open", async () => {
    await using sandbox = testSandbox(tag);
    await sandbox.start();
    const container = testDocker().getContainer(sandbox.id);
    const exec = await container.exec({ Cmd: ["cat"], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    await container.kill();
    const before = connections();
    await expect(startAttached(exec)).rejects.toMatchObject({ statusCode: 404 });
    for (let i = 0; i < 20 && connections() > before; i++) await sleep(50);
    expect(connections()).toBe(before);
  });

  it("a container removed while a transfer opens or uses a channel: every call settles, none hangs", async () => {
    const before = connections();
    for (const delay of [0, 20, 60, 150]) {
      const sandbox = testSandbox(tag);
      try {
        await sandbox.execute("echo x > /workspace/x.txt");
        const downloading = sandbox.downloadFiles(["/workspace/x.txt"]);
        await sleep(delay);
        const [info] = await containersLabelled(SANDBOX_LABEL, sandbox.id);
        await testDocker()
          .getContainer(info?.Id ?? "missing")
          .remove({ force: true });
        const [result] = (await Promise.race([downloading, sleep(20_000).then(() => ["hung"])])) as Awaited<
          typeof downloading
        >;
        // The download may have won the race; either way it settles with a definite answer.
        if (result?.error) expect(result).toMatchObject({ content: null, code: "backend_unavailable" });
        else expect(result?.content).toEqual(encodeUtf8("x\n"));
      } finally {
        await sandbox.stop();
      }
    }
    for (let i = 0; i < 50 && connections() > before; i++) await sleep(100);
    expect(connections()).toBe(before);
  });

  it("stop() closes the channels with the container, and the sandbox starts afresh", async () => {
    const sandbox = testSandbox(tag);
    try {
      await Promise.all([1, 2, 3, 4].map((i) => sandbox.write(`/workspace/s/${i}.txt`, `${i}`)));
      await sandbox.stop();
      expect(await containersLabelled(SANDBOX_LABEL, sandbox.id)).toEqual([]);
      expect(await sandbox.read("/workspace/s/1.txt")).toMatchObject({ code: "file_not_found" });
      expect(await sandbox.write("/workspace/s/1.txt", "new")).toMatchObject({ path: "/workspace/s/1.txt" });
      expect(await sandbox.read("/workspace/s/1.txt")).toMatchObject({ content: "new" });
    } finally {
      await sandbox.stop();
    }
  });
});
