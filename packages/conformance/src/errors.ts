import type { ErrorFields } from "@deepfs/core";
import { encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";

/** Arguments a typed caller cannot pass but an agent's tool call (parsed JSON) can. */
// biome-ignore lint/suspicious/noExplicitAny: the point is to pass what the types forbid.
type Loose = any;

/** Calls `fn`, turning a throw or a rejection into a recorded problem instead of a test crash. */
async function settle<T>(problems: string[], label: string, fn: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    problems.push(`${label} threw: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return undefined;
  }
}

/** A resolved result: if it failed, it must carry a code. */
function checkCoded(problems: string[], label: string, result: ErrorFields | undefined): void {
  if (result === undefined) return;
  if (typeof result !== "object" || result === null) problems.push(`${label} resolved to ${String(result)}`);
  else if (result.error !== undefined && typeof result.code !== "string")
    problems.push(`${label} failed without a code`);
}

type Probe = [label: string, call: (b: Loose, env: RuleEnv) => unknown, expected?: string];

/** Hostile calls and, where the contract fixes it, the code they must return. */
const PROBES: Probe[] = [
  ["ls(123)", (b) => b.ls(123), "invalid_path"],
  ["ls({})", (b) => b.ls({}), "invalid_path"],
  ["read(undefined)", (b) => b.read(undefined), "invalid_path"],
  ["read(null)", (b) => b.read(null), "invalid_path"],
  ["read(42)", (b) => b.read(42), "invalid_path"],
  ["read('')", (b) => b.read(""), "invalid_path"],
  ["read(path, '2', 'x')", (b, env) => b.read(env.at("/f.txt"), "2", "x")],
  ["read(path, NaN, Infinity)", (b, env) => b.read(env.at("/f.txt"), Number.NaN, Number.POSITIVE_INFINITY)],
  ["read(path, null, null)", (b, env) => b.read(env.at("/f.txt"), null, null)],
  ["read(path, 1e15, 1e15)", (b, env) => b.read(env.at("/f.txt"), 1e15, 1e15)],
  ["readRaw(null)", (b) => b.readRaw(null), "invalid_path"],
  ["readRaw([])", (b) => b.readRaw([]), "invalid_path"],
  ["write(path, null)", (b, env) => b.write(env.at("/w.txt"), null), "invalid_argument"],
  ["write(path, 42)", (b, env) => b.write(env.at("/w.txt"), 42), "invalid_argument"],
  ["write(path, {})", (b, env) => b.write(env.at("/w.txt"), {}), "invalid_argument"],
  ["write(null, 'x')", (b) => b.write(null, "x"), "invalid_path"],
  ["write(path, 'x', null)", (b, env) => b.write(env.at("/w2.txt"), "x", null)],
  ["edit(null, 'a', 'b')", (b) => b.edit(null, "a", "b"), "invalid_path"],
  ["edit(path, null, 'b')", (b, env) => b.edit(env.at("/f.txt"), null, "b")],
  ["edit(path, 42, 'b')", (b, env) => b.edit(env.at("/f.txt"), 42, "b")],
  ["edit(path, 'a', null)", (b, env) => b.edit(env.at("/f.txt"), "a", null)],
  ["edit(path, 'a', 'b', 'yes', null)", (b, env) => b.edit(env.at("/f.txt"), "a", "b", "yes", null)],
  ["edit(missing, null, null)", (b, env) => b.edit(env.at("/nope.txt"), null, null)],
  ["grep(123)", (b) => b.grep(123), "invalid_argument"],
  ["grep(null)", (b) => b.grep(null), "invalid_argument"],
  ["grep(undefined)", (b) => b.grep(undefined), "invalid_argument"],
  ["grep('x', 42)", (b) => b.grep("x", 42), "invalid_path"],
  ["grep('x', root, 42)", (b, env) => b.grep("x", env.at("/"), 42)],
  ["grep('x', root, {})", (b, env) => b.grep("x", env.at("/"), {})],
  ["grep('x', root, null, '3')", (b, env) => b.grep("x", env.at("/"), null, "3")],
  ["grep('x', root, null, NaN)", (b, env) => b.grep("x", env.at("/"), null, Number.NaN), "invalid_argument"],
  ["grep('x', root, '[')", (b, env) => b.grep("x", env.at("/"), "[")],
  ["glob(null)", (b, env) => b.glob(null, env.at("/")), "invalid_argument"],
  ["glob(42)", (b, env) => b.glob(42, env.at("/")), "invalid_argument"],
  ["glob({})", (b, env) => b.glob({}, env.at("/")), "invalid_argument"],
  ["glob('*', 42)", (b) => b.glob("*", 42), "invalid_path"],
  ["glob('[', root)", (b, env) => b.glob("[", env.at("/"))],
  ["glob('{a,', root)", (b, env) => b.glob("{a,", env.at("/"))],
  ["delete(null)", (b) => b.delete(null), "invalid_path"],
  ["delete(undefined)", (b) => b.delete(undefined), "invalid_path"],
  ["delete(42)", (b) => b.delete(42), "invalid_path"],
  ["very long path", (b, env) => b.read(env.at(`/${"x/".repeat(3000)}f.txt`))],
  ["a name over 255 bytes", (b, env) => b.write(env.at(`/${"é".repeat(200)}.txt`), "x")],
];

export function registerErrorRules(ctx: ContractContext): void {
  describe("errors", () => {
    ctx.rule("hostile arguments on every method resolve (never throw) and failures carry a code", async (env) => {
      await env.backend.write(env.at("/f.txt"), "alpha\nbeta\n");
      const problems: string[] = [];
      for (const [label, call, expected] of PROBES) {
        const result = (await settle(problems, label, () => call(env.backend, env))) as ErrorFields | undefined;
        checkCoded(problems, label, result);
        if (expected !== undefined && result !== undefined && result?.code !== expected) {
          problems.push(`${label} gave code ${String(result?.code)}, expected ${expected}`);
        }
      }
      expect(problems).toEqual([]);
      expectSuccess(await env.backend.readRaw(env.at("/f.txt")), "the file is still readable");
    });

    ctx.rule("null and undefined directory arguments mean the root", async (env) => {
      const b = env.backend as Loose;
      const calls: Array<[string, () => Promise<ErrorFields>]> = [
        ["ls(null)", () => b.ls(null)],
        ["ls(undefined)", () => b.ls(undefined)],
      ];
      // Searching the whole of a sandbox's filesystem proves nothing more and can take minutes.
      if (env.root === "/") {
        calls.push(["grep(p, null)", () => b.grep("zz-no-such-text-zz", null)]);
        calls.push(["grep(p, undefined)", () => b.grep("zz-no-such-text-zz", undefined)]);
        calls.push(["glob(p, null)", () => b.glob("*.zz-none", null)]);
      }
      const problems: string[] = [];
      for (const [label, call] of calls) {
        const result = await settle(problems, label, call);
        if (result && result.error !== undefined) problems.push(`${label} failed: ${result.code} ${result.error}`);
      }
      expect(problems).toEqual([]);
      if (env.root === "/") {
        await env.backend.write("/top.txt", "x");
        const listed = (await b.ls(null)) as { files?: Array<{ path: string }> };
        expect(pathsOf(listed.files)).toContain("/top.txt");
      }
    });

    ctx.rule("uploadFiles and downloadFiles report hostile entries per entry", async (env) => {
      const problems: string[] = [];
      const ok = env.at("/ok.txt");
      const uploaded = await settle(problems, "uploadFiles", () =>
        (env.backend as Loose).uploadFiles([
          [123, encodeUtf8("x")],
          [null, encodeUtf8("x")],
          [env.at("/s.txt"), "a string, not bytes"],
          [env.at("/n.txt"), null],
          [ok, encodeUtf8("fine")],
        ]),
      );
      const downloaded = await settle(problems, "downloadFiles", () =>
        (env.backend as Loose).downloadFiles([null, 123, ok]),
      );
      expect(problems).toEqual([]);
      const up = uploaded as Array<{ path: unknown; error: unknown }>;
      expect(up).toHaveLength(5);
      expect(up[0]?.error).toBe("invalid_path");
      expect(up[1]?.error).toBe("invalid_path");
      expect(up[3]?.error, "null content cannot be stored").not.toBeNull();
      expect(up[4]).toEqual(expect.objectContaining({ path: ok, error: null }));
      // A string instead of bytes may be refused, or stored as its UTF-8; never anything else.
      if (up[2]?.error === null) {
        const [stored] = await env.backend.downloadFiles([env.at("/s.txt")]);
        expectBytes(stored?.content, encodeUtf8("a string, not bytes"), "string content stored as UTF-8");
      }
      const down = downloaded as Array<{ error: unknown; content: unknown }>;
      expect(down.map((d) => d.error)).toEqual(["invalid_path", "invalid_path", null]);
      expectFailure(await env.backend.read(env.at("/n.txt")), "file_not_found");
    });

    ctx.rule("failure messages name the path", async (env) => {
      await env.backend.write(env.at("/present.txt"), "x");
      const name = "absent-name.txt";
      for (const result of [
        await env.backend.read(env.at(`/${name}`)),
        await env.backend.readRaw(env.at(`/${name}`)),
        await env.backend.edit(env.at(`/${name}`), "a", "b"),
        await env.backend.delete(env.at(`/${name}`)),
      ]) {
        expectFailure(result, "file_not_found");
        expect(result.error).toContain(name);
      }
      const notFound = await env.backend.edit(env.at("/present.txt"), "zzz", "y");
      expectFailure(notFound, "string_not_found");
      expect(notFound.error).toContain("present.txt");
      expectSuccess(await env.backend.read(env.at("/present.txt")));
    });
  });
}
