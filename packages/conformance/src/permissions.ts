import type { BackendProtocol, PermissionOptions, PermissionRule } from "@deepfs/core";
import { isWithin, withPermissions } from "@deepfs/core";
import { describe, expect } from "vitest";
import { type BackendContractOptions, type ContractContext, createContractContext, type RuleEnv } from "./context.js";
import { bytesOf, seed, type Tree } from "./fixtures.js";
import { CLIMBING_PATTERNS } from "./glob-security.js";
import { ENCODED_TRAVERSAL, LOOK_ALIKES } from "./hostile.js";

/** Options of {@link definePermissionContract}. */
export interface PermissionContractOptions<B extends BackendProtocol = BackendProtocol>
  extends BackendContractOptions<B> {
  /**
   * The subject's files behind permission `options` (default: `withPermissions(backend, options)`).
   * Rule paths are absolute paths of `backend` (the subject's root included); a guard that mounts
   * the layer elsewhere (a route of a router) translates them.
   */
  guard?: (backend: B, options: PermissionOptions) => BackendProtocol;
}

const SECRET_TEXT = "needle SECRET-KEY";
const DEEP_TEXT = "needle SECRET-DEEP";

/** The tree every rule seeds: two protected files, and neighbours whose names start alike. */
const TREE: Tree = {
  "/secret/key.txt": SECRET_TEXT,
  "/secret/sub/deep.txt": DEEP_TEXT,
  "/secretive.txt": "needle open sibling",
  "/pub/a.txt": "needle public",
};

/** Spellings of the protected file the facade makes canonical: the rule must still apply. */
const CANONICAL_SPELLINGS = ["//secret/key.txt", "/secret//key.txt", "/secret/key.txt/", "//secret///key.txt//"];

/** Spellings refused as paths before any rule is consulted. */
const REFUSED_SPELLINGS = [
  "/./secret/key.txt",
  "/secret/./key.txt",
  "/pub/../secret/key.txt",
  "/secret/sub/../key.txt",
  "/secret\\key.txt",
  "\\secret\\key.txt",
  "/secret/key.txt\u0000",
  "/secret/key.txt/.",
];

/**
 * Spellings that name other files on every deepfs store (percent-encoding is not decoded, case
 * differs): they never read or change the protected file. Deny rules match case-insensitively, so
 * the case variants are refused too.
 */
const OTHER_SPELLINGS = [
  "/%73ecret/key.txt",
  "/secret%2Fkey.txt",
  "/%2573ecret/key.txt",
  "/secre%74/key.txt",
  // The hostile corpus: encoded traversal and look-alikes of `.`, `..` and `/` are plain names.
  ...ENCODED_TRAVERSAL.map((name) => `/pub/${name}/secret/key.txt`),
  ...LOOK_ALIKES.map((name) => `/pub/${name}/secret/key.txt`),
  "/secret\u2215key.txt",
  "/secret\uff0fkey.txt",
];
const CASE_SPELLINGS = [
  "/SECRET/key.txt",
  "/Secret/KEY.TXT",
  "/sEcReT/sub/DEEP.txt",
  // Letters a case-insensitive filesystem folds to `s` and `k` (long s, Kelvin sign).
  "/\u017fecret/key.txt",
  "/secret/\u212aey.txt",
];

/** Glob patterns (relative to the root, and anchored) that would reach the protected files. */
const REACHING_PATTERNS = [
  "**",
  "**/*",
  "*/**",
  "*/*",
  "secre?/**",
  "secret/**",
  "secret/*",
  "[s]ecret/**",
  "{secret,pub}/**",
  "{pub,{secret}}/*",
  "**/key.txt",
  "**/*.txt",
  "*/sub/*",
  "**/sub/**",
  "@(secret)/**",
  "SECRET/**",
  "s*/**",
];

/** grep `glob` filters that would select them. */
const REACHING_FILTERS = [
  null,
  "*.txt",
  "key.txt",
  "*",
  "**",
  "secret/**",
  "secre?/**",
  "{secret,pub}/**",
  "**/deep.txt",
  "sub/*",
  "[kd]*",
];

/**
 * Registers the rules of `withPermissions`: a `deny` on the subject's `/secret/**` holds however a
 * caller spells a path, whatever the glob or grep filter, through uploads, recursive deletes and
 * the router's prefixes, and the files it protects stay unchanged.
 */
export function registerPermissionRules<B extends BackendProtocol>(
  ctx: ContractContext,
  guard: (backend: B, options: PermissionOptions) => BackendProtocol = withPermissions,
): void {
  /** Seeds the tree and answers the guarded backend with a deny on `/secret/**` for `ops`. */
  async function guarded(env: RuleEnv, ops: PermissionRule["operations"] = ["read", "write", "delete"]) {
    await seed(env, TREE);
    const rules: PermissionRule[] = [{ action: "deny", operations: ops, paths: [`${env.at("/secret")}/**`] }];
    return guard(env.backend as B, { rules });
  }

  /** The protected files are exactly as seeded, and nothing new appeared below `/secret`. */
  async function expectUntouched(env: RuleEnv): Promise<void> {
    expect((await env.backend.read(env.at("/secret/key.txt"))).content).toBe(SECRET_TEXT);
    expect((await env.backend.read(env.at("/secret/sub/deep.txt"))).content).toBe(DEEP_TEXT);
    const below = (await env.backend.glob("**", env.at("/secret"))).files ?? [];
    expect(below.map((f) => f.path).sort()).toEqual([env.at("/secret/key.txt"), env.at("/secret/sub/deep.txt")]);
  }

  const leaks = (value: unknown) =>
    /SECRET-(KEY|DEEP)/.test(
      JSON.stringify(value ?? null, (_k, v) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : v)),
    );

  describe("permissions", () => {
    ctx.rule(
      "a deny answers permission_denied for every operation on a protected file and changes nothing",
      async (env) => {
        const backend = await guarded(env);
        const key = env.at("/secret/key.txt");
        const answers = [
          await backend.read(key),
          await backend.readRaw(key),
          await backend.write(key, "overwritten"),
          await backend.write(env.at("/secret/new.txt"), "new"),
          // Preconditions answer only for a write the rules allow: a refused write's `conflict`
          // would tell whether a protected file exists, or whether a guessed etag is its own.
          await backend.write(key, "x", { ifNoneMatch: "*" }),
          await backend.write(env.at("/secret/new.txt"), "x", { ifMatch: '"guess"' }),
          await backend.write(key, "x", { ifMatch: '"guess"' }),
          await backend.edit(key, "needle", "pin"),
          await backend.delete(key),
          await backend.ls(env.at("/secret/sub")),
        ];
        for (const answer of answers) {
          expect(answer.code).toBe("permission_denied");
          expect(answer.error).toMatch(/rule #0/);
          expect(leaks(answer)).toBe(false);
        }
        const [down] = await backend.downloadFiles([key]);
        expect(down?.error).toBe("permission_denied");
        expect(down?.content).toBeNull();
        await expectUntouched(env);
      },
    );

    ctx.rule("spellings of a protected path are refused or made canonical before the rule applies", async (env) => {
      const backend = await guarded(env);
      for (const spelling of CANONICAL_SPELLINGS) {
        const path = env.at(spelling);
        expect((await backend.read(path)).code, spelling).toBe("permission_denied");
        expect((await backend.write(path, "x")).code, spelling).toBe("permission_denied");
        expect((await backend.edit(path, "needle", "x")).code, spelling).toBe("permission_denied");
        expect((await backend.delete(path)).code, spelling).toBe("permission_denied");
      }
      for (const spelling of REFUSED_SPELLINGS) {
        const path = env.at(spelling);
        expect((await backend.read(path)).code, JSON.stringify(spelling)).toBe("invalid_path");
        expect((await backend.write(path, "x")).code, JSON.stringify(spelling)).toBe("invalid_path");
        expect((await backend.delete(path)).code, JSON.stringify(spelling)).toBe("invalid_path");
      }
      for (const spelling of CASE_SPELLINGS) {
        const path = env.at(spelling);
        expect((await backend.read(path)).code, spelling).toBe("permission_denied");
        expect((await backend.write(path, "x")).code, spelling).toBe("permission_denied");
      }
      for (const spelling of OTHER_SPELLINGS) {
        const path = env.at(spelling);
        const read = await backend.read(path);
        expect(read.code, spelling).toBe("file_not_found");
        expect(leaks(await backend.downloadFiles([path])), spelling).toBe(false);
        await backend.write(path, "elsewhere");
        await backend.delete(path);
      }
      await expectUntouched(env);
    });

    ctx.rule("uploadFiles refuses each protected entry and stores the others", async (env) => {
      const backend = await guarded(env);
      const entries: Array<[string, Uint8Array]> = [
        [env.at("/pub/u.bin"), bytesOf("ok")],
        [env.at("/secret/u.bin"), bytesOf("no")],
        [env.at("//secret//v.bin"), bytesOf("no")],
        [env.at("/SECRET/w.bin"), bytesOf("no")],
        [env.at("/secret/key.txt"), bytesOf("overwritten")],
        [env.at("/./secret/x.bin"), bytesOf("no")],
      ];
      const answers = await backend.uploadFiles(entries);
      expect(answers.map((a) => a.error)).toEqual([
        null,
        "permission_denied",
        "permission_denied",
        "permission_denied",
        "permission_denied",
        "invalid_path",
      ]);
      expect((await env.backend.read(env.at("/pub/u.bin"))).error).toBeUndefined();
      expect((await env.backend.read(env.at("/SECRET/w.bin"))).code).toBe("file_not_found");
      await expectUntouched(env);
    });

    ctx.rule("ls of a parent hides a protected directory; ls inside it shows nothing", async (env) => {
      const backend = await guarded(env);
      const root = (await backend.ls(env.at("/"))).files?.map((f) => f.path) ?? [];
      expect(root).toEqual([env.dirEntry("/pub"), env.at("/secretive.txt")]);
      const inside = await backend.ls(env.at("/secret"));
      expect(inside.files ?? []).toEqual([]);
      expect(leaks(inside)).toBe(false);
    });

    ctx.rule("glob never returns a protected file, whatever the pattern or search path", async (env) => {
      const backend = await guarded(env);
      const secret = env.at("/secret");
      const anchored = REACHING_PATTERNS.map((p) => `${env.at("/")}/${p}`.replace(/^\/\//, "/"));
      for (const pattern of [...REACHING_PATTERNS, ...anchored]) {
        for (const dir of [env.at("/"), secret, env.at("/secret/sub")]) {
          const found = await backend.glob(pattern, dir);
          const hits = (found.files ?? []).filter((f) => isWithin(f.path.replace(/\/$/, ""), secret));
          expect(hits, `${pattern} in ${dir}`).toEqual([]);
        }
      }
      const all = (await backend.glob("**", env.at("/"))).files?.map((f) => f.path);
      expect(all).toEqual([env.at("/pub/a.txt"), env.at("/secretive.txt")]);
      for (const pattern of CLIMBING_PATTERNS) expect((await backend.glob(pattern, secret)).code).toBe("invalid_path");
    });

    ctx.rule("grep never returns a protected file's lines, whatever the filter, search path or cap", async (env) => {
      const backend = await guarded(env);
      for (const dir of [env.at("/"), env.at("/secret"), env.at("/secret/sub"), env.at("/secret/key.txt")]) {
        for (const filter of REACHING_FILTERS) {
          const found = await backend.grep("needle", dir, filter);
          expect(leaks(found), `${dir} ${filter}`).toBe(false);
          expect(
            found.matches?.every((m) => !isWithin(m.path, env.at("/secret"))),
            `${dir} ${filter}`,
          ).toBe(true);
        }
        expect((await backend.grep("SECRET", dir)).matches ?? []).toEqual([]);
      }
      const capped = await backend.grep("needle", env.at("/"), null, 1);
      expect(capped.matches?.map((m) => m.path)).toEqual([env.at("/pub/a.txt")]);
      expect(capped.truncated).toBe(true);
      const everything = await backend.grep("needle", env.at("/"), null, 2);
      expect(everything.matches?.map((m) => m.path)).toEqual([env.at("/pub/a.txt"), env.at("/secretive.txt")]);
      expect(everything.truncated).toBeUndefined();
    });

    ctx.rule("a recursive delete that would take a protected file is refused and deletes nothing", async (env) => {
      const backend = await guarded(env, ["delete"]);
      expect((await backend.delete(env.at("/secret"))).code).toBe("permission_denied");
      if (env.root !== "/") expect((await backend.delete(env.root)).code).toBe("permission_denied");
      await expectUntouched(env);
      expect((await env.backend.read(env.at("/pub/a.txt"))).content).toBe("needle public");
      expect((await backend.delete(env.at("/pub"))).error).toBeUndefined();
    });

    ctx.rule("a read-only deny still lets writes through, and an edit needs read as well", async (env) => {
      const backend = await guarded(env, ["read"]);
      expect((await backend.write(env.at("/secret/new.txt"), "x")).error).toBeUndefined();
      const edit = await backend.edit(env.at("/secret/key.txt"), "needle", "pin");
      expect(edit.code).toBe("permission_denied");
      expect((await env.backend.read(env.at("/secret/key.txt"))).content).toBe(SECRET_TEXT);
    });
  });
}

/**
 * Registers the permission rules for one backend: each rule seeds the subject and wraps it with
 * `guard` (default `withPermissions`).
 *
 * @example
 * ```ts
 * definePermissionContract({ name: "S3Backend", create: () => new S3Backend({ client, bucket, prefix }) });
 * ```
 */
export function definePermissionContract<B extends BackendProtocol>(options: PermissionContractOptions<B>): void {
  const title = `${options.name} behind withPermissions keeps its rules`;
  const register = () => registerPermissionRules<B>(createContractContext(options), options.guard);
  if (options.skip !== undefined) describe.skip(`${title} (skipped: ${options.skip})`, register);
  else describe(title, register);
}
