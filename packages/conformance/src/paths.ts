import type { BackendProtocol, ErrorFields } from "@deepfs/core";
import { comparePaths, encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";

/** Paths every method must refuse with `invalid_path`, whatever the root. */
const HOSTILE_PATHS = [
  "/a/../../etc/passwd",
  "../x",
  "..",
  "/..",
  "/a/..",
  "/./a",
  "/a/./b",
  "/a/.",
  "./a",
  ".",
  "/s\uD800.md",
  "/s\uDFFF.md",
  "/s\uDC00\uD800.md",
  "~",
  "~/x",
  "~root/x",
  "/a\u0000b",
  "/a\nb",
  "/a\rb",
  "/a\tb",
  "/a\u001bb",
  "/a\u007fb",
  "C:\\x",
  "C:/x",
  "c:x",
  "/a\\b",
  "\\x",
];

/** Hostile paths built under the root: traversal out of it, control characters, backslashes. */
function hostilePaths(env: RuleEnv): string[] {
  return [
    ...HOSTILE_PATHS,
    env.at("/x/../../y"),
    env.at("/.."),
    env.at("/./x"),
    env.at("/x/."),
    env.at("/x\u0000y"),
    env.at("/x\\y"),
  ];
}

/** File names that must round-trip unchanged. */
export const TRICKY_NAMES = [
  "with space.txt",
  "two  spaces .txt",
  "é-accent.txt",
  "中文.md",
  "emoji-😀.txt",
  "plus+sign.txt",
  "percent%20.txt",
  "slash%2Fencoded.txt",
  "under_score.txt",
  "hash#.txt",
  "question?.txt",
  "[brackets].txt",
  "{braces}.txt",
  "(parens).txt",
  "it's.txt",
  'double"quote.txt',
  "back`tick`.txt",
  "dollar$HOME.txt",
  "$(echo x).txt",
  "-leading-dash.txt",
  "amp&semi;.txt",
  "star*.txt",
  "bang!.txt",
  "a~tilde.txt",
  "eq=at@comma,.txt",
  "no-extension",
  ".dotfile",
];
/** A directory whose name needs quoting too. */
const TRICKY_DIR = "/names/dir [x] (y) é #1";

type Call = (backend: BackendProtocol, path: string) => Promise<ErrorFields>;

const METHODS: Array<[string, Call]> = [
  ["ls", async (b, p) => b.ls(p)],
  ["read", async (b, p) => b.read(p)],
  ["readRaw", async (b, p) => b.readRaw(p)],
  ["write", async (b, p) => b.write(p, "x")],
  ["edit", async (b, p) => b.edit(p, "x", "y")],
  ["grep (path argument)", async (b, p) => b.grep("x", p)],
  ["glob (path argument)", async (b, p) => b.glob("**", p)],
  ["delete", async (b, p) => b.delete(p)],
];

/** Writes one file per tricky name (and one in a tricky directory); returns path → text. */
async function writeTrickyNames(env: RuleEnv): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const all = [...TRICKY_NAMES.map((n) => env.at(`/names/${n}`)), env.at(`${TRICKY_DIR}/inner file.txt`)];
  for (const path of all) {
    const text = `needle in ${path.slice(path.lastIndexOf("/") + 1)}\n`;
    const written = await env.backend.write(path, text);
    expectSuccess(written, `write ${JSON.stringify(path)}`);
    expect(written.path).toBe(path);
    files.set(path, text);
  }
  return files;
}

async function expectNothingStored(env: RuleEnv): Promise<void> {
  const listed = await env.backend.glob("**", env.at("/"));
  expectSuccess(listed);
  expect(pathsOf(listed.files), "a refused path must not create anything").toEqual([]);
}

export function registerPathRules(ctx: ContractContext): void {
  describe("paths", () => {
    describe("invalid_path on every method", () => {
      for (const [method, call] of METHODS) {
        ctx.rule(`${method} refuses traversal, ~, control characters, drive letters and backslashes`, async (env) => {
          for (const path of hostilePaths(env)) {
            const result = await call(env.backend, path);
            expect(result?.code, `${method}(${JSON.stringify(path)})`).toBe("invalid_path");
            expect(result.error).toBeTypeOf("string");
          }
          await expectNothingStored(env);
        });
      }

      ctx.rule("uploadFiles refuses each hostile entry with invalid_path", async (env) => {
        const paths = hostilePaths(env);
        const responses = await env.backend.uploadFiles(paths.map((p) => [p, encodeUtf8("x")]));
        expect(responses).toHaveLength(paths.length);
        responses.forEach((r, i) => {
          expect(r.error, `uploadFiles entry ${JSON.stringify(paths[i])}`).toBe("invalid_path");
          if (r.code !== undefined) expect(r.code).toBe("invalid_path");
        });
        await expectNothingStored(env);
      });

      ctx.rule("downloadFiles refuses each hostile entry with invalid_path", async (env) => {
        const paths = hostilePaths(env);
        const responses = await env.backend.downloadFiles(paths);
        expect(responses).toHaveLength(paths.length);
        responses.forEach((r, i) => {
          expect(r.error, `downloadFiles entry ${JSON.stringify(paths[i])}`).toBe("invalid_path");
          expect(r.content).toBeNull();
        });
      });
    });

    ctx.rule("'a..b', 'x..' and '...' are legal names", async (env) => {
      const paths = [env.at("/a..b/c..d.txt"), env.at("/x../y.txt"), env.at("/.../z.txt")];
      for (const path of paths) {
        const written = await env.backend.write(path, `text of ${path}`);
        expectSuccess(written, `write ${path}`);
        expect(written.path).toBe(path);
      }
      for (const path of paths) {
        const read = await env.backend.read(path);
        expectSuccess(read, `read ${path}`);
        expect(read.content).toBe(`text of ${path}`);
      }
      const listed = await env.backend.glob("**", env.at("/"));
      expect(pathsOf(listed.files)).toEqual([...paths].sort(comparePaths));
    });

    ctx.rule("'//a//b/' and a trailing '/' reach the same file; '/a/./b' is refused naming '/a/b'", async (env) => {
      const written = await env.backend.write(env.at("/n/b.txt"), "same file");
      expectSuccess(written);
      for (const alias of ["//n//b.txt", "/n//b.txt/", "/n//b.txt//"]) {
        const read = await env.backend.read(env.at(alias));
        expectSuccess(read, `read ${alias}`);
        expect(read.content, `read ${alias}`).toBe("same file");
      }
      // deepagents matches permission rules on the path as written: a resolved '.' would pass a deny.
      for (const dotted of ["/n/./b.txt", "/./n/b.txt/", "//n//./b.txt"]) {
        const read = await env.backend.read(env.at(dotted));
        expectFailure(read, "invalid_path");
        expect(read.error, `the message names the canonical form of ${dotted}`).toContain(env.at("/n/b.txt"));
        expectFailure(await env.backend.edit(env.at(dotted), "same", "one"), "invalid_path");
        expectFailure(await env.backend.delete(env.at(dotted)), "invalid_path");
      }
      const edited = await env.backend.edit(env.at("//n//b.txt"), "same", "one");
      expectSuccess(edited);
      expect(edited.path).toBe(env.at("/n/b.txt"));
      const viaAlias = await env.backend.write(env.at("//n//c.txt/"), "c");
      expectSuccess(viaAlias);
      expect(viaAlias.path, "write returns the normalised path").toBe(env.at("/n/c.txt"));
      const listed = await env.backend.ls(env.at("//n/"));
      expect(pathsOf(listed.files)).toEqual([env.at("/n/b.txt"), env.at("/n/c.txt")]);
      const [download] = await env.backend.downloadFiles([env.at("/n//b.txt")]);
      expectBytes(download?.content, encodeUtf8("one file"));
      const deleted = await env.backend.delete(env.at("//n//b.txt/"));
      expectSuccess(deleted);
      expect(deleted.path).toBe(env.at("/n/b.txt"));
      expectFailure(await env.backend.read(env.at("/n/b.txt")), "file_not_found");
    });

    describe("names with spaces, unicode, punctuation and quotes round-trip", () => {
      ctx.rule("through write and read", async (env) => {
        const files = await writeTrickyNames(env);
        for (const [path, text] of files) {
          const read = await env.backend.read(path);
          expectSuccess(read, `read ${JSON.stringify(path)}`);
          expect(read.content, `read ${JSON.stringify(path)}`).toBe(text.slice(0, -1));
          const raw = await env.backend.readRaw(path);
          expectSuccess(raw, `readRaw ${JSON.stringify(path)}`);
          expect(raw.data?.content).toBe(text);
        }
      });

      ctx.rule("through ls", async (env) => {
        const files = await writeTrickyNames(env);
        const direct = [...files.keys()].filter((p) => !p.startsWith(env.at(`${TRICKY_DIR}/`)));
        const expected = [...direct, env.dirEntry(TRICKY_DIR)].sort(comparePaths);
        const listed = await env.backend.ls(env.at("/names"));
        expectSuccess(listed);
        expect(pathsOf(listed.files)).toEqual(expected);
        const inner = await env.backend.ls(env.at(TRICKY_DIR));
        expect(pathsOf(inner.files)).toEqual([env.at(`${TRICKY_DIR}/inner file.txt`)]);
      });

      ctx.rule("through glob", async (env) => {
        const files = await writeTrickyNames(env);
        const globbed = await env.backend.glob("**", env.at("/names"));
        expectSuccess(globbed);
        expect(pathsOf(globbed.files)).toEqual([...files.keys()].sort(comparePaths));
      });

      ctx.rule("through grep", async (env) => {
        const files = await writeTrickyNames(env);
        const found = await env.backend.grep("needle in", env.at("/names"));
        expectSuccess(found);
        const expected = [...files]
          .map(([path, text]) => ({ path, line: 1, text: text.slice(0, -1) }))
          .sort((a, b) => comparePaths(a.path, b.path));
        expect(found.matches).toEqual(expected);
      });

      ctx.rule("through downloadFiles", async (env) => {
        const files = await writeTrickyNames(env);
        const paths = [...files.keys()];
        const downloaded = await env.backend.downloadFiles(paths);
        expect(downloaded.map((d) => d.path)).toEqual(paths);
        downloaded.forEach((d, i) => {
          expect(d.error, `download ${JSON.stringify(paths[i])}`).toBeNull();
          expectBytes(d.content, encodeUtf8(files.get(paths[i] as string) as string), paths[i]);
        });
      });
    });
  });
}
