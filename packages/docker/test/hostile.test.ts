import { encodeUtf8 } from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import { ChannelFailure, ShellChannel } from "../src/channel.js";
import type { DockerSandbox } from "../src/index.js";
import {
  containersLabelled,
  engineEvents,
  engineTime,
  fileTag,
  skipReason,
  testDocker,
  testSandbox,
} from "./helpers.js";

// What a command of the agent's (running as the sandbox user, like the channels and transfers)
// can do to the host through the sandbox's own machinery, and what it must not achieve.
const tag = fileTag("hostile");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;

/** `promise`, or a marker if it has not settled after `ms` (a hang, not a slow call). */
function orHang<T>(promise: Promise<T>, ms = 20_000): Promise<T | "hung"> {
  return Promise.race([promise, sleep(ms).then(() => "hung" as const)]);
}

/** Runs `work` and reports how far this process's resident memory rose meanwhile. */
async function peakGrowth<T>(work: () => Promise<T>): Promise<{ result: T; grewBy: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    const result = await work();
    return { result, grewBy: Math.max(peak, process.memoryUsage().rss) - before };
  } finally {
    clearInterval(timer);
  }
}

/** The `ps -o args` lines of the sandbox's processes. */
async function processes(sandbox: DockerSandbox): Promise<string> {
  return (await sandbox.execute("ps -o args")).output;
}

describe.skipIf(Boolean(skipReason))("a hostile command in the sandbox", () => {
  afterAll(async () => {
    expect(await containersLabelled("deepfs.test-file", tag)).toEqual([]);
  });

  it("cannot make a channel's answer larger than its request allows: the channel fails at the header", async () => {
    await using sandbox = testSandbox(tag);
    await sandbox.start();
    const kills: string[] = [];
    const channel = await ShellChannel.open(
      testDocker().getContainer(sandbox.id),
      { user: "1000:1000", workdir: "/workspace", env: [] },
      { stallMs: 20_000, kill: async (token) => void kills.push(token) },
    );
    // The command's stdout is the channel's staged output file, which it can grow at will.
    const { result, grewBy } = await peakGrowth(() =>
      orHang(channel.run('echo hi; truncate -s 256M "$d/o"', Buffer.alloc(0), 1000).catch((e: unknown) => e)),
    );
    expect(result).toBeInstanceOf(ChannelFailure);
    expect((result as ChannelFailure).message).toContain("268435456 bytes of answer, over the 1000 asked for");
    expect(channel.dead).toBe(true);
    expect(kills).toHaveLength(1);
    expect(grewBy).toBeLessThan(64 * MiB);
  });

  it("cannot make the host buffer a huge answer by tampering with a channel's staged output: ls still answers", async () => {
    await using sandbox = testSandbox(tag, { memoryMb: 256 });
    await sandbox.write("/workspace/a.txt", "hello");
    // The channel's staging directory belongs to the sandbox user, like everything of the agent's.
    // Its output file, made a link to a large file the shell may not truncate, is what the next
    // internal command "answers".
    const tampered = await sandbox.execute(
      "truncate -s 256M /tmp/big && chmod 444 /tmp/big && for d in /tmp/.deepfs-ch-*; do ln -sf /tmp/big $d/o; done",
    );
    expect(tampered).toMatchObject({ exitCode: 0 });
    const { result, grewBy } = await peakGrowth(() => orHang(sandbox.ls("/workspace")));
    expect(result).toEqual({ files: [expect.objectContaining({ path: "/workspace/a.txt", size: 5 })] });
    expect(grewBy).toBeLessThan(128 * MiB);
    // The tampered channel was replaced.
    expect(await sandbox.read("/workspace/a.txt")).toMatchObject({ content: "hello" });
  });

  it("cannot make read, readRaw or edit transfer (or throw on) a file over maxFileSizeMb: too_large; grep skips it", async () => {
    await using sandbox = testSandbox(tag);
    const made = await sandbox.execute(
      [
        "mkdir -p /workspace/big",
        "yes 'needle in text' | head -c 11534336 > /workspace/big/eleven.txt",
        "printf 'needle\\n' > /workspace/big/small.txt",
        "truncate -s 1G /workspace/big/sparse.txt",
      ].join(" && "),
    );
    expect(made).toMatchObject({ exitCode: 0 });
    const eleven = "/workspace/big/eleven.txt";
    // Past 8 MiB a file would go through an exec of its own: none is made, nothing is sent.
    const since = engineTime();
    const read = await sandbox.read(eleven, 0, 10);
    expect(read).toMatchObject({ code: "too_large" });
    expect(read.error).toContain("11534336 bytes, over this sandbox's read limit of 10 MiB");
    expect(await sandbox.readRaw(eleven)).toMatchObject({ code: "too_large" });
    expect(await sandbox.edit(eleven, "needle", "pin")).toMatchObject({ code: "too_large" });
    const execs = (await engineEvents(sandbox, since)).filter((action) => action.startsWith("exec_create"));
    // The channels themselves (opened on first use) are the only execs.
    expect(execs.filter((action) => !action.includes("/tmp/.deepfs-ch-"))).toEqual([]);
    // A sparse gigabyte answers at once, returned rather than thrown (a string that long cannot exist).
    const { result, grewBy } = await peakGrowth(() => orHang(sandbox.read("/workspace/big/sparse.txt", 0, 10)));
    expect(result).toMatchObject({ code: "too_large" });
    expect(grewBy).toBeLessThan(64 * MiB);
    expect((await sandbox.grep("needle", "/workspace/big")).matches).toEqual([
      { path: "/workspace/big/small.txt", line: 1, text: "needle" },
    ]);
    // The file is unchanged, and a download (bytes asked for by the application) is whole.
    const [download] = await sandbox.downloadFiles([eleven]);
    expect(download?.content?.byteLength).toBe(11534336);
    expect(Buffer.from(download?.content?.subarray(0, 15) ?? []).toString()).toBe("needle in text\n");
  });

  it("maxFileSizeMb sets the limit (a conditional write of a larger file still checks it exists)", async () => {
    await using sandbox = testSandbox(tag, { maxFileSizeMb: 0.001 });
    await sandbox.uploadFiles([
      ["/workspace/l/under.txt", encodeUtf8(`${"u".repeat(999)}o`)],
      ["/workspace/l/over.txt", encodeUtf8("o".repeat(1100))],
    ]);
    expect(await sandbox.read("/workspace/l/under.txt")).toMatchObject({ content: `${"u".repeat(999)}o` });
    expect(await sandbox.read("/workspace/l/over.txt")).toMatchObject({ code: "too_large" });
    expect((await sandbox.grep("o", "/workspace/l")).matches?.map((m) => m.path)).toEqual(["/workspace/l/under.txt"]);
    expect(await sandbox.write("/workspace/l/over.txt", "x", { ifNoneMatch: "*" })).toMatchObject({ code: "conflict" });
    expect(await sandbox.write("/workspace/l/over.txt", "x")).toMatchObject({ path: "/workspace/l/over.txt" });
    expect(await sandbox.read("/workspace/l/over.txt")).toMatchObject({ content: "x" });
  });

  it("an edit never makes a file over maxFileSizeMb; maxGrepMatches and maxGrepTextLength bound grep", async () => {
    await using sandbox = testSandbox(tag, { maxFileSizeMb: 0.01, maxGrepMatches: 10, maxGrepTextLength: 1000 });
    const text = `${"a".repeat(10_000)}\n`;
    await sandbox.write("/workspace/b/a.txt", text);
    // 20,001 bytes, over the read limit of 10,485.
    expect(await sandbox.edit("/workspace/b/a.txt", "a", "aa", true)).toMatchObject({ code: "too_large" });
    expect((await sandbox.readRaw("/workspace/b/a.txt")).data?.content).toBe(text);
    const made = await sandbox.execute(
      [
        "mkdir -p /workspace/b/lines /workspace/b/wide",
        "for i in $(seq 100 140); do printf 'hit\\n' > /workspace/b/lines/f$i.txt; done",
        `for i in 1 2 3; do printf 'hit %0400d\\n' 0 >> /workspace/b/wide/w.txt; done`,
      ].join(" && "),
    );
    expect(made).toMatchObject({ exitCode: 0 });
    const lines = await sandbox.grep("hit", "/workspace/b/lines");
    expect(lines).toMatchObject({ code: "too_large" });
    expect(lines.error).toContain("more than 10 matching lines");
    const capped = await sandbox.grep("hit", "/workspace/b/lines", null, 10);
    expect([capped.matches?.length, capped.truncated]).toEqual([10, true]);
    const wide = await sandbox.grep("hit", "/workspace/b/wide");
    expect(wide).toMatchObject({ code: "too_large" });
    expect(wide.error).toContain("more than 1,000 characters of matching lines");
    expect((await sandbox.grep("hit", "/workspace/b/wide", null, 1)).matches).toHaveLength(1);
  });

  it("cannot lose acknowledged edits by editing one file through a linked directory", async () => {
    await using sandbox = testSandbox(tag);
    const count = 20;
    const tokens = Array.from({ length: count }, (_, i) => `tok${i}`);
    await sandbox.write("/workspace/real/f.txt", tokens.map((t) => `${t}-old`).join("\n"));
    expect(await sandbox.execute("ln -s real /workspace/alias")).toMatchObject({ exitCode: 0 });
    const edits = await Promise.all(
      tokens.map((t, i) =>
        sandbox.edit(i % 2 ? "/workspace/alias/f.txt" : "/workspace/real/f.txt", `${t}-old`, `${t}-new`),
      ),
    );
    expect(edits.map((e) => e.code ?? null)).toEqual(tokens.map(() => null));
    const { content } = await sandbox.read("/workspace/real/f.txt");
    expect(content).toBe(tokens.map((t) => `${t}-new`).join("\n"));
  });

  it("cannot outlive an execute's timeout by dropping its environment (env -i); other commands' processes stay", async () => {
    await using sandbox = testSandbox(tag);
    // Left running on purpose by an earlier command: not the next command's to kill.
    await sandbox.execute("(sleep 300 >/dev/null 2>&1 &)");
    await sandbox.write("/workspace/t.txt", "before");
    const loop = "env -i sh -c 'while :; do sleep 1; done; : leftover-loop'; echo done";
    const result = await sandbox.execute(loop, { timeoutMs: 1500 });
    expect(result).toMatchObject({ exitCode: 124 });
    expect(result.output).toContain("timed out after 1500 ms");
    const left = await processes(sandbox);
    expect(left).not.toContain("leftover-loop");
    expect(left).toContain("sleep 300");
    // The channels (exec sessions of their own) were not touched either.
    expect(await sandbox.read("/workspace/t.txt")).toMatchObject({ content: "before" });
    expect(left).toContain("/tmp/.deepfs-ch-");
  });
});
