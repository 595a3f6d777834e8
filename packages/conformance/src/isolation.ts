import { comparePaths, encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";
import { seed } from "./fixtures.js";

/** Where each tenant keeps its files (relative to its root): the same names in both tenants. */
const SHARED_NAMES = ["/secret.txt", "/dir/nested/deep.md", "/dir/other.txt", "/bin/blob.bin"] as const;

function treeFor(token: string): Record<string, string | Uint8Array> {
  return {
    "/secret.txt": `${token}\n`,
    "/dir/nested/deep.md": `notes\n${token} deep\n`,
    "/dir/other.txt": `other ${token}`,
    "/bin/blob.bin": encodeUtf8(`${token}\u0000binary`),
  };
}

/**
 * Tenant names that a prefix match, a LIKE pattern or a glob would confuse: each is a prefix of,
 * or a pattern matching, another.
 */
const TENANT_NAMES = ["acme", "acme-corp", "acm_", "acme%", "ac\\me", "acmex"] as const;

/** Every file below the root, found by walking `ls` down every directory it reports. */
async function walk(env: RuleEnv, dir = env.root): Promise<string[]> {
  const listed = await env.backend.ls(dir);
  expectSuccess(listed, `ls ${dir}`);
  const files: string[] = [];
  for (const entry of listed.files ?? []) {
    if (entry.path.endsWith("/")) for (const file of await walk(env, entry.path.slice(0, -1))) files.push(file);
    else files.push(entry.path);
  }
  return files;
}

/** Everything one tenant can find by listing and searching, which must be exactly `expected`. */
async function expectSeesExactly(env: RuleEnv, expected: string[], ownToken: string, otherToken: string) {
  const paths = [...expected].sort(comparePaths);
  expect((await walk(env)).sort(comparePaths), "a recursive ls").toEqual(paths);
  const globbed = await env.backend.glob("**/*", env.root);
  expectSuccess(globbed, "glob **/*");
  expect(pathsOf(globbed.files), "glob **/*").toEqual(paths);
  const foreign = await env.backend.grep(otherToken, env.root);
  expectSuccess(foreign, "grep for the other tenant's token");
  expect(foreign.matches, "grep for the other tenant's token").toEqual([]);
  const foreignFiltered = await env.backend.grep(otherToken, env.root, "**/*.md");
  expect(foreignFiltered.matches ?? [], "grep with a glob filter for the other tenant's token").toEqual([]);
  const own = await env.backend.grep(ownToken, env.root);
  expectSuccess(own, "grep for the tenant's own token");
  // Binary files are skipped by grep: the text files only.
  const textPaths = paths.filter((p) => !p.endsWith(".bin"));
  expect([...new Set(own.matches?.map((m) => m.path))], "grep for the tenant's own token").toEqual(textPaths);
}

/** Every per-path method of `other` on the tenant's own relative paths finds nothing there. */
async function expectNothingAt(other: RuleEnv, names: readonly string[], foreignEtag: string | undefined) {
  for (const name of names) {
    const path = other.at(name);
    expectFailure(await other.backend.read(path), "file_not_found");
    expectFailure(await other.backend.readRaw(path), "file_not_found");
    expectFailure(await other.backend.edit(path, "x", "y"), "file_not_found");
    expectFailure(await other.backend.delete(path), "file_not_found");
    const [downloaded] = await other.backend.downloadFiles([path]);
    expect(downloaded, `downloadFiles ${path}`).toEqual(
      expect.objectContaining({ content: null, error: "file_not_found" }),
    );
    if (other.capabilities.conditionalWrites && foreignEtag !== undefined) {
      // The other tenant's etag names nothing here: the precondition fails and nothing is created.
      expectFailure(await other.backend.write(path, "x", { ifMatch: foreignEtag }), "conflict");
      expectFailure(await other.backend.read(path), "file_not_found");
    }
  }
  expectFailure(await other.backend.delete(other.at("/dir")), "file_not_found");
}

async function expectTree(env: RuleEnv, tree: Record<string, string | Uint8Array>): Promise<void> {
  const downloads = await env.backend.downloadFiles(Object.keys(tree).map((p) => env.at(p)));
  for (const [i, [name, content]] of Object.entries(tree).entries()) {
    const expected = typeof content === "string" ? encodeUtf8(content) : content;
    expectBytes(downloads[i]?.content, expected, env.at(name));
  }
}

export function registerIsolationRules(ctx: ContractContext): void {
  describe("tenant isolation", () => {
    ctx.pairRule(
      "two subjects never see each other's files: ls, glob, grep, read, edit, delete, download",
      async (a, b) => {
        const tokenA = `tenant-a-secret-${Math.random().toString(36).slice(2, 10)}`;
        const tokenB = `tenant-b-secret-${Math.random().toString(36).slice(2, 10)}`;
        const treeA = treeFor(tokenA);
        await seed(a, treeA);
        const written = await a.backend.write(a.at("/secret.txt"), `${tokenA}\n`);
        expectSuccess(written, "write in tenant A");

        // B is empty: nothing of A shows through any listing, search or per-path call.
        await expectSeesExactly(b, [], tokenB, tokenA);
        await expectNothingAt(b, SHARED_NAMES, written.etag);

        // B fills the same names with its own content; each tenant sees only its own.
        const treeB = treeFor(tokenB);
        await seed(b, treeB);
        await expectSeesExactly(
          a,
          SHARED_NAMES.map((n) => a.at(n)),
          tokenA,
          tokenB,
        );
        await expectSeesExactly(
          b,
          SHARED_NAMES.map((n) => b.at(n)),
          tokenB,
          tokenA,
        );
        await expectTree(a, treeA);
        await expectTree(b, treeB);

        // Mutations in one tenant leave the other's same-named files alone.
        expectSuccess(await b.backend.edit(b.at("/secret.txt"), tokenB, "edited by b"), "edit in tenant B");
        expectSuccess(await b.backend.delete(b.at("/dir")), "delete in tenant B");
        await expectTree(a, treeA);
        expectSuccess(await a.backend.delete(a.at("/bin/blob.bin")), "delete in tenant A");
        expect((await b.backend.read(b.at("/secret.txt"))).content).toBe("edited by b");
        await expectTree(b, { "/bin/blob.bin": treeB["/bin/blob.bin"] as Uint8Array });
        await expectNothingAt(b, ["/dir/other.txt", "/dir/nested/deep.md"], undefined);
        await expectSeesExactly(
          a,
          ["/secret.txt", "/dir/nested/deep.md", "/dir/other.txt"].map((n) => a.at(n)),
          tokenA,
          tokenB,
        );
      },
    );

    ctx.tenantRule(
      "tenants whose names trip prefix and pattern matching see and change only their own files",
      TENANT_NAMES,
      async (tenants) => {
        const etags: Array<string | undefined> = [];
        for (const [i, t] of tenants.entries()) {
          const name = TENANT_NAMES[i] as string;
          await seed(t, { [`/only/t${i}/notes.md`]: `note of ${name}\n`, "/dir%_/x_1%.txt": `odd name of ${name}\n` });
          const written = await t.backend.write(t.at("/shared.txt"), `secret of ${name}\n`);
          expectSuccess(written, `write in tenant ${name}`);
          etags.push(written.etag);
          // The first tenant has a directory where every other one has a file.
          expectSuccess(await t.backend.write(t.at(i === 0 ? "/dir/a.txt" : "/dir"), name), `write /dir in ${name}`);
        }
        for (const [i, t] of tenants.entries()) {
          const name = TENANT_NAMES[i] as string;
          const listed = await t.backend.ls(t.root);
          expectSuccess(listed, `ls in ${name}`);
          const dirEntry = i === 0 ? t.dirEntry("/dir") : t.at("/dir");
          const own = [t.dirEntry("/dir%_"), dirEntry, t.dirEntry("/only"), t.at("/shared.txt")];
          expect(pathsOf(listed.files), `ls in ${name}`).toEqual(own.sort(comparePaths));
          expect(pathsOf((await t.backend.ls(t.at("/only"))).files), `ls /only in ${name}`).toEqual([
            t.dirEntry(`/only/t${i}`),
          ]);
          expect((await t.backend.read(t.at("/shared.txt"))).content).toBe(`secret of ${name}`);
          expect((await t.backend.read(t.at("/dir%_/x_1%.txt"))).content).toBe(`odd name of ${name}`);
          expect((await t.backend.grep("secret of", t.root)).matches, `grep in ${name}`).toEqual([
            { path: t.at("/shared.txt"), line: 1, text: `secret of ${name}` },
          ]);
          expect((await t.backend.grep("of", t.root, "*.md")).matches, `grep *.md in ${name}`).toEqual([
            { path: t.at(`/only/t${i}/notes.md`), line: 1, text: `note of ${name}` },
          ]);
          expect(pathsOf((await t.backend.glob("**/*.md", t.root)).files), `glob in ${name}`).toEqual([
            t.at(`/only/t${i}/notes.md`),
          ]);
          for (const j of tenants.keys()) {
            if (j === i) continue;
            const foreign = t.at(`/only/t${j}/notes.md`);
            expectFailure(await t.backend.read(foreign), "file_not_found");
            expectFailure(await t.backend.edit(foreign, "note", "x"), "file_not_found");
            expectFailure(await t.backend.delete(t.at(`/only/t${j}`)), "file_not_found");
            const [download] = await t.backend.downloadFiles([foreign]);
            expect(download?.error, `download of another tenant's file in ${name}`).toBe("file_not_found");
            if (t.capabilities.conditionalWrites && etags[j] !== undefined && etags[j] !== etags[i]) {
              expectFailure(await t.backend.write(t.at("/shared.txt"), "x", { ifMatch: etags[j] }), "conflict");
            }
          }
        }
        // The first tenant changes and deletes its tree; every other tenant keeps all of its files.
        const [first, ...others] = tenants as [RuleEnv, ...RuleEnv[]];
        expectSuccess(
          await first.backend.edit(first.at("/shared.txt"), "secret", "public"),
          "edit in the first tenant",
        );
        expectSuccess(await first.backend.write(first.at("/dir/b.txt"), "b"), "write below the first tenant's /dir");
        for (const dir of ["/only", "/dir", "/dir%_"]) expectSuccess(await first.backend.delete(first.at(dir)));
        for (const [k, t] of others.entries()) {
          const name = TENANT_NAMES[k + 1] as string;
          expect((await t.backend.read(t.at("/shared.txt"))).content).toBe(`secret of ${name}`);
          expect((await t.backend.read(t.at(`/only/t${k + 1}/notes.md`))).content).toBe(`note of ${name}`);
          expect((await t.backend.read(t.at("/dir"))).content).toBe(name);
          expect((await t.backend.read(t.at("/dir%_/x_1%.txt"))).content).toBe(`odd name of ${name}`);
        }
      },
    );
  });
}
