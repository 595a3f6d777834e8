import type { BackendProtocol, ErrorFields, GlobResult, GrepResult, MaybePromise } from "@deepfs/core";
import { comparePaths, decodeUtf8Lossy, encodeUtf8, getMimeType, isTextMimeType, parentDir } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";
import { numberedLines, seed, timed } from "./fixtures.js";

/** Percent-encoded traversal: literal names to a backend, which must never decode them. */
export const ENCODED_TRAVERSAL = [
  "%2e%2e",
  "%2E%2E",
  "%2e%2e%2f%2e%2e",
  "..%2f..",
  "%252e%252e",
  "..%5c..",
  ".%2e",
  "%2e.",
  "%00",
];

/** Names that look like `.`, `..` or `/` to a human but are ordinary characters. */
export const LOOK_ALIKES = [
  "\u2024\u2024", // one dot leader ×2
  "\u2025", // two dot leader
  "\uff0e\uff0e", // fullwidth full stop ×2
  "\ufe52\ufe52", // small full stop ×2
  "\u3002\u3002", // ideographic full stop ×2
  ".\u200b.", // '.', zero-width space, '.'
  "a\u2215b", // division slash
  "a\u2044b", // fraction slash
  "a\uff0fb", // fullwidth solidus
  "\u00e9", // é precomposed (NFC)
  "e\u0301", // é decomposed (NFD): a different name
];

/** Longest legal name (255 UTF-8 bytes) and the shortest illegal ones. */
const NAME_255_ASCII = `${"n".repeat(251)}.txt`;
const NAME_255_CJK = "中".repeat(85);
const NAME_256_ASCII = `${"n".repeat(252)}.txt`;
const NAME_258_CJK = "中".repeat(86);

const MB = 1024 * 1024;

/** Every method called with one path; the file methods also through uploadFiles/downloadFiles entries. */
async function everyMethod(backend: BackendProtocol, path: string): Promise<Array<[string, string | undefined]>> {
  const codes: Array<[string, string | undefined]> = [];
  const record = (method: string, result: ErrorFields) => codes.push([method, result.code]);
  record("ls", await backend.ls(path));
  record("read", await backend.read(path));
  record("readRaw", await backend.readRaw(path));
  record("write", await backend.write(path, "x"));
  record("edit", await backend.edit(path, "x", "y"));
  record("grep", await backend.grep("x", path));
  record("glob", await backend.glob("**", path));
  record("delete", await backend.delete(path));
  const [uploaded] = await backend.uploadFiles([[path, encodeUtf8("x")]]);
  codes.push(["uploadFiles", uploaded?.error ?? undefined]);
  const [downloaded] = await backend.downloadFiles([path]);
  codes.push(["downloadFiles", downloaded?.error ?? undefined]);
  return codes;
}

/** Asserts that every method refuses `path` with `invalid_path`. */
async function expectRefusedEverywhere(env: RuleEnv, path: string): Promise<void> {
  const shown = JSON.stringify(path.length > 80 ? `${path.slice(0, 80)}…` : path);
  for (const [method, code] of await everyMethod(env.backend, path)) {
    expect(code, `${method}(${shown})`).toBe("invalid_path");
  }
}

/** Asserts that files named `name` exist neither at the root nor above it (where an escape would land). */
async function expectNotEscaped(env: RuleEnv, names: string[]): Promise<void> {
  const outside = env.root === "/" ? [] : [parentDir(env.root)];
  for (const name of names) {
    for (const dir of [env.root, ...outside]) {
      const path = dir === "/" ? `/${name}` : `${dir}/${name}`;
      const read = await env.backend.read(path);
      expect(read.code, `nothing may appear at ${path}`).toBe("file_not_found");
    }
  }
}

/** Everything stored under the root, sorted. */
async function storedPaths(env: RuleEnv): Promise<string[]> {
  const listed = await env.backend.glob("**", env.at("/"));
  expectSuccess(listed, "glob('**') of the root");
  return pathsOf(listed.files);
}

export function registerHostileRules(ctx: ContractContext): void {
  describe("hostile input", () => {
    ctx.rule("percent-encoded traversal is a literal name or refused, never a way out", async (env) => {
      const accepted: string[] = [];
      for (const [i, name] of ENCODED_TRAVERSAL.entries()) {
        const path = env.at(`/${name}/enc-${i}.txt`);
        const written = await env.backend.write(path, `encoded ${i}`);
        if (written.error !== undefined) {
          expectFailure(written, "invalid_path");
          continue;
        }
        expect(written.path, "the name is stored as given, not decoded").toBe(path);
        const read = await env.backend.read(path);
        expect(read.content, `read ${path}`).toBe(`encoded ${i}`);
        accepted.push(path);
        const uploadPath = env.at(`/${name}/up-${i}.bin`);
        const [uploaded] = await env.backend.uploadFiles([[uploadPath, new Uint8Array([i, 0, 255])]]);
        expect(uploaded).toEqual(expect.objectContaining({ path: uploadPath, error: null }));
        const [downloaded] = await env.backend.downloadFiles([uploadPath]);
        expectBytes(downloaded?.content, new Uint8Array([i, 0, 255]), uploadPath);
        accepted.push(uploadPath);
      }
      expect(await storedPaths(env)).toEqual(accepted.sort(comparePaths));
      await expectNotEscaped(
        env,
        ENCODED_TRAVERSAL.flatMap((_, i) => [`enc-${i}.txt`, `up-${i}.bin`]),
      );
    });

    ctx.rule("doubled slashes collapse inside the root; '.' and '..' through them are refused", async (env) => {
      const aliases: Array<[string, string]> = [
        ["//dd//e//f.txt", "/dd/e/f.txt"],
        ["//dd//g.txt/", "/dd/g.txt"],
        ["/dd///e////h.txt//", "/dd/e/h.txt"],
      ];
      for (const [alias, normalised] of aliases) {
        const written = await env.backend.write(env.at(alias), normalised);
        expectSuccess(written, `write ${alias}`);
        expect(written.path).toBe(env.at(normalised));
      }
      for (const outward of [
        "/dd//..//..//x.txt",
        "/dd/./../../x.txt",
        "/dd/e/../../../x.txt",
        "/dd/.//..",
        "//../x.txt",
        "//dd//./e/.//x.txt",
        "/./dd/./x.txt/",
      ]) {
        await expectRefusedEverywhere(env, env.at(outward));
      }
      expect(await storedPaths(env)).toEqual(aliases.map(([, p]) => env.at(p)).sort(comparePaths));
      await expectNotEscaped(env, ["x.txt"]);
    });

    ctx.rule("unicode look-alikes of '.', '..' and '/' are ordinary names", async (env) => {
      const files = LOOK_ALIKES.map((name, i) => [env.at(`/uni/${name}/f.txt`), `look-alike ${i}\n`] as const);
      for (const [path, text] of files) {
        const written = await env.backend.write(path, text);
        expectSuccess(written, `write ${JSON.stringify(path)}`);
        expect(written.path).toBe(path);
      }
      for (const [path, text] of files) {
        const read = await env.backend.read(path);
        expectSuccess(read, `read ${JSON.stringify(path)}`);
        expect(read.content).toBe(text.slice(0, -1));
      }
      const listed = await env.backend.ls(env.at("/uni"));
      expectSuccess(listed);
      expect(pathsOf(listed.files)).toEqual(LOOK_ALIKES.map((name) => env.dirEntry(`/uni/${name}`)).sort(comparePaths));
      const sorted = files.map(([path]) => path).sort(comparePaths);
      expect(await storedPaths(env)).toEqual(sorted);
      const found = await env.backend.grep("look-alike", env.at("/uni"));
      expectSuccess(found);
      expect(found.matches?.map((m) => m.path)).toEqual(sorted);
      await expectNotEscaped(env, ["f.txt"]);
    });

    ctx.rule("names over 255 bytes and paths over 4096 characters are invalid_path", async (env) => {
      await expectRefusedEverywhere(env, env.at(`/long/${NAME_256_ASCII}`));
      await expectRefusedEverywhere(env, env.at(`/long/${NAME_258_CJK}/x.txt`));
      await expectRefusedEverywhere(env, env.at(`/${"p/".repeat(2100)}x.txt`));
      await expectRefusedEverywhere(env, `/${"a".repeat(5000)}`);
      expect(await storedPaths(env)).toEqual([]);
    });

    ctx.rule("a name of exactly 255 bytes is legal", async (env) => {
      const paths = [env.at(`/long/${NAME_255_ASCII}`), env.at(`/long/${NAME_255_CJK}`)];
      for (const path of paths) {
        const written = await env.backend.write(path, "max");
        expectSuccess(written, "write a 255-byte name");
        expect(written.path).toBe(path);
        expect((await env.backend.read(path)).content).toBe("max");
      }
      expect(await storedPaths(env)).toEqual([...paths].sort(comparePaths));
    });

    ctx.rule("a deep path near 4096 characters is stored whole or refused with a code", async (env) => {
      // Legal for the contract; a store with a shorter key or path limit must answer a code.
      const path = env.at(`/deep/${Array.from({ length: 60 }, (_, i) => `${i}`.padStart(60, "d")).join("/")}.txt`);
      const written = await env.backend.write(path, "deep");
      if (written.error === undefined) {
        expect(written.path).toBe(path);
        expect((await env.backend.read(path)).content).toBe("deep");
        expect(await storedPaths(env)).toEqual([path]);
      } else {
        expect(written.code, written.error).toBeTypeOf("string");
        expect(await storedPaths(env)).toEqual([]);
      }
    });

    ctx.rule("NUL anywhere in a path is invalid_path, even at the end or alone", async (env) => {
      for (const path of [
        env.at("/x.txt\u0000"),
        "\u0000",
        "/\u0000/x.txt",
        env.at("/n\u0000.png"),
        env.at("/\u0000"),
      ]) {
        await expectRefusedEverywhere(env, path);
      }
      expect(await storedPaths(env)).toEqual([]);
    });

    ctx.rule("a 5 MB single-line file reads whole and grep finds a needle at its end", async (env) => {
      const needle = "NEEDLE-AT-THE-END";
      const text = "x".repeat(5 * MB - needle.length) + needle;
      const path = env.at("/huge/one-line.txt");
      await seed(env, { "/huge/one-line.txt": text });
      const read = await env.backend.read(path);
      expectSuccess(read);
      expect(read.totalLines).toBe(1);
      expect(typeof read.content === "string" && read.content.length, "read returns the whole line").toBe(text.length);
      expect((read.content as string).endsWith(needle)).toBe(true);
      const found = await env.backend.grep(needle, env.at("/huge"));
      expectSuccess(found);
      expect(found.matches?.map((m) => [m.path, m.line, m.text.length])).toEqual([[path, 1, text.length]]);
    });

    ctx.rule(
      "all 256 byte values round-trip; text paths read them as replaced text and grep skips them",
      async (env) => {
        const all = Uint8Array.from({ length: 256 }, (_, i) => i);
        const tree = { "/bin/all.bin": all, "/bin/all.txt": all, "/bin/all": all, "/bin/ok.txt": "ABC\n" };
        await seed(env, tree);
        const paths = ["/bin/all.bin", "/bin/all.txt", "/bin/all"].map((p) => env.at(p));
        const downloaded = await env.backend.downloadFiles(paths);
        downloaded.forEach((d, i) => {
          expectBytes(d.content, all, `download ${paths[i]}`);
        });
        for (const path of paths) {
          const read = await env.backend.read(path);
          expectSuccess(read, `read ${path}`);
          if (isTextMimeType(getMimeType(path))) {
            expect(read.content, `read ${path}`).toBe(decodeUtf8Lossy(all));
            expect(read.invalidUtf8, `read ${path}`).toBe(true);
          } else expectBytes(read.content, all, `read ${path}`);
        }
        expectFailure(await env.backend.edit(env.at("/bin/all.txt"), "ABC", "abc"), "invalid_argument");
        // The bytes hold "ABC" (65, 66, 67) and a newline, but only the text file may match.
        const found = await env.backend.grep("ABC", env.at("/bin"));
        expect(found.matches).toEqual([{ path: env.at("/bin/ok.txt"), line: 1, text: "ABC" }]);
      },
    );

    ctx.rule(
      "invalid UTF-8 uploads keep their bytes: read as replaced text, never searched, never edited",
      async (env) => {
        const needle = encodeUtf8("needle");
        const samples: Record<string, Uint8Array> = {
          "/utf/lone-continuation.txt": new Uint8Array([...needle, 0x80, 0x0a]),
          "/utf/bad-pair.md": new Uint8Array([...needle, 0xc3, 0x28, 0x0a]),
          "/utf/surrogate.json": new Uint8Array([0xed, 0xa0, 0x80, ...needle]),
          "/utf/overlong.txt": new Uint8Array([0xc0, 0xaf, ...needle]),
          "/utf/truncated.txt": new Uint8Array([...needle, 0xe2, 0x82]),
          "/utf/five-byte.txt": new Uint8Array([0xf8, 0x88, 0x80, 0x80, 0x80, ...needle]),
          "/utf/beyond-unicode.txt": new Uint8Array([0xf4, 0x90, 0x80, 0x80, ...needle]),
        };
        await seed(env, { ...samples, "/utf/valid.txt": "needle\n" });
        for (const [relative, bytes] of Object.entries(samples)) {
          const path = env.at(relative);
          const read = await env.backend.read(path);
          expectSuccess(read, `read ${path}`);
          expect(read.content, `read ${path}: U+FFFD in place of each invalid sequence`).toBe(
            decodeUtf8Lossy(bytes).replace(/\n$/, ""),
          );
          expect(read.invalidUtf8, `read ${path}`).toBe(true);
          const [downloaded] = await env.backend.downloadFiles([path]);
          expectBytes(downloaded?.content, bytes, `download ${path}`);
          expectFailure(await env.backend.edit(path, "needle", "pin"), "invalid_argument");
        }
        const found = await env.backend.grep("needle", env.at("/utf"));
        expect(found.matches).toEqual([{ path: env.at("/utf/valid.txt"), line: 1, text: "needle" }]);
      },
    );

    ctx.rule("patterns pathological for backtracking matchers finish quickly and answer right", async (env) => {
      const longA = "a".repeat(100);
      const target = env.at(`/redos/a/a/${"a".repeat(40)}b`);
      const lines = `${"a".repeat(9_999)}\n`.repeat(100);
      await seed(env, {
        [`/redos/${longA}`]: "a\n",
        [`/redos/${"a".repeat(64)}`]: "a\n",
        [`/redos/a/a/${"a".repeat(40)}b`]: "a\n",
        "/redos/as.txt": `${lines}${"a".repeat(30)}b\n`,
      });
      // What this backend needs for an ordinary search of the same tree: the yardstick for "quickly".
      const baseline = await timed(() => env.backend.glob("**/*.txt", env.at("/redos")));
      expect(pathsOf(baseline.result.files)).toEqual([env.at("/redos/as.txt")]);
      const bound = Math.max(5_000, 10 * baseline.ms);
      const calls: Array<[string, () => MaybePromise<GlobResult | GrepResult>, unknown]> = [
        [
          "glob('**/**/**/**/**/*a*a*a*a*a*b')",
          () => env.backend.glob("**/**/**/**/**/*a*a*a*a*a*b", env.at("/redos")),
          [target],
        ],
        ["glob('*a*a*a*a*a*b')", () => env.backend.glob("*a*a*a*a*a*b", env.at("/redos")), []],
        [
          "grep('a', glob '*a*a*a*a*a*b')",
          () => env.backend.grep("a", env.at("/redos"), "*a*a*a*a*a*b"),
          [{ path: target, line: 1, text: "a" }],
        ],
        [
          "grep('a'×30 + 'b')",
          () => env.backend.grep(`${"a".repeat(30)}b`, env.at("/redos")),
          [{ path: env.at("/redos/as.txt"), line: 101, text: `${"a".repeat(30)}b` }],
        ],
        ["grep('(a+)+$')", () => env.backend.grep("(a+)+$", env.at("/redos")), []],
        ["grep('a{1,99999}b')", () => env.backend.grep("a{1,99999}b", env.at("/redos")), []],
      ];
      for (const [label, call, expected] of calls) {
        const { result, ms } = await timed(call);
        expectSuccess(result, label);
        const actual = "files" in result ? pathsOf(result.files) : (result as GrepResult).matches;
        expect(actual, label).toEqual(expected);
        expect(
          ms,
          `${label} took ${Math.round(ms)} ms; an ordinary glob took ${Math.round(baseline.ms)} ms`,
        ).toBeLessThan(bound);
      }
    });

    ctx.rule("a 50,000-line file: windows at the end and grep line numbers are exact", async (env) => {
      const path = env.at("/lines/fifty-k.txt");
      await seed(env, { "/lines/fifty-k.txt": numberedLines(50_000) });
      const tail = await env.backend.read(path, 49_990, 100);
      expectSuccess(tail);
      expect(tail).toMatchObject({ totalLines: 50_000, startLine: 49_991, endLine: 50_000 });
      expect(tail.nextOffset).toBeUndefined();
      expect(tail.content).toBe(Array.from({ length: 10 }, (_, i) => `line${49_991 + i}`).join("\n"));
      const last = await env.backend.read(path, 49_999, 1);
      expect(last).toMatchObject({ content: "line50000", startLine: 50_000, endLine: 50_000, totalLines: 50_000 });
      const middle = await env.backend.read(path, 24_999, 2);
      expect(middle).toMatchObject({ content: "line25000\nline25001", nextOffset: 25_001 });
      expect(await env.backend.read(path, 50_000, 10)).toMatchObject({ content: "", totalLines: 50_000 });
      const found = await env.backend.grep("ine5000", path);
      expect(found.matches).toEqual([
        { path, line: 5_000, text: "line5000" },
        { path, line: 50_000, text: "line50000" },
      ]);
      const capped = await env.backend.grep("line4999", env.at("/lines"), null, 3);
      expect(capped.matches?.map((m) => m.line)).toEqual([4_999, 49_990, 49_991]);
      expect(capped.truncated).toBe(true);
    });

    ctx.rule("1 MB single lines: windows, grep and edit work on them", async (env) => {
      const first = "x".repeat(MB);
      const third = `${"y".repeat(MB)}needle`;
      const path = env.at("/wide/lines.txt");
      await seed(env, { "/wide/lines.txt": `${first}\nmiddle needle\n${third}\n` });
      expect(await env.backend.read(path, 1, 1)).toMatchObject({ content: "middle needle", totalLines: 3 });
      const last = await env.backend.read(path, 2, 1);
      expectSuccess(last);
      expect(last.content === third, "the third line comes back whole").toBe(true);
      const found = await env.backend.grep("needle", path);
      expect(found.matches?.map((m) => [m.line, m.text.length])).toEqual([
        [2, "middle needle".length],
        [3, third.length],
      ]);
      expectFailure(await env.backend.edit(path, "needle", "pin"), "multiple_occurrences");
      const edited = await env.backend.edit(path, "needle", "pin", true);
      expectSuccess(edited);
      expect(edited.occurrences).toBe(2);
      const raw = await env.backend.readRaw(path);
      expectSuccess(raw);
      expect(
        raw.data?.content === `${first}\nmiddle pin\n${"y".repeat(MB)}pin\n`,
        "the edit changed only the needles",
      ).toBe(true);
    });
  });
}
