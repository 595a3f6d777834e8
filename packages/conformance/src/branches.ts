import { type BackendProtocol, type BranchBackend, branch } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext } from "./context.js";
import { seed } from "./fixtures.js";

async function textOf(backend: BackendProtocol, path: string): Promise<string | undefined> {
  const raw = await backend.readRaw(path);
  expectSuccess(raw, `reading ${path}`);
  return raw.data?.content as string;
}

/** Paths of `changes()` with their kind, in order. */
async function changeList(b: BranchBackend): Promise<string[]> {
  const listed = await b.changes({ diffs: false });
  expect(listed.error).toBeUndefined();
  return listed.changes.map((c) => `${c.change} ${c.path}`);
}

/**
 * Copy-on-write branches of the backend under test (the base): what a branch shows, what a commit
 * applies and refuses, and that nothing anybody wrote is lost. Run it with any backend as base:
 * `registerBranchRules(createContractContext({ name, create }))`.
 */
export function registerBranchRules(ctx: ContractContext): void {
  describe("branches", () => {
    ctx.rule("a branch shows the base, keeps its changes to itself, and commit applies them", async (env) => {
      await seed(env, { "/p/a.txt": "alpha\nbeta\n", "/p/b.txt": "bee\n", "/p/img.bin": new Uint8Array([0, 1, 2]) });
      const b = branch(env.backend);
      expect(await textOf(b, env.at("/p/a.txt"))).toBe("alpha\nbeta\n");
      expect(b.recordedEtag(env.at("/p/a.txt"))).toBe((await env.backend.read(env.at("/p/a.txt"))).etag);

      expectSuccess(await b.edit(env.at("/p/a.txt"), "beta", "BETA"));
      expectSuccess(await b.write(env.at("/p/new.txt"), "fresh\n"));
      const [up] = await b.uploadFiles([[env.at("/p/img.bin"), new Uint8Array([9, 9, 9, 9])]]);
      expect(up?.error).toBeNull();
      expect(b.recordedEtag(env.at("/p/new.txt"))).toBeNull();

      // The base is untouched; the branch shows its own versions.
      expect(await textOf(env.backend, env.at("/p/a.txt"))).toBe("alpha\nbeta\n");
      expectFailure(await env.backend.read(env.at("/p/new.txt")), "file_not_found");
      expect(await textOf(b, env.at("/p/a.txt"))).toBe("alpha\nBETA\n");
      expect(pathsOf((await b.ls(env.at("/p"))).files)).toEqual([
        env.at("/p/a.txt"),
        env.at("/p/b.txt"),
        env.at("/p/img.bin"),
        env.at("/p/new.txt"),
      ]);

      const listed = await b.changes();
      expect(listed.changes.map((c) => `${c.change} ${c.path}`)).toEqual([
        `modified ${env.at("/p/a.txt")}`,
        `modified ${env.at("/p/img.bin")}`,
        `added ${env.at("/p/new.txt")}`,
      ]);
      const [a, img, added] = listed.changes;
      expect(a?.diff).toContain("-beta\n+BETA\n");
      expect(a?.diff).toContain(`--- a${env.at("/p/a.txt")}`);
      expect(img?.diff).toBe("binary, 3 → 4 bytes");
      expect(added?.diff).toContain("+fresh\n");

      const committed = await b.commit();
      expect(committed).toEqual({
        committed: [env.at("/p/a.txt"), env.at("/p/img.bin"), env.at("/p/new.txt")],
        conflicts: [],
      });
      expect(await textOf(env.backend, env.at("/p/a.txt"))).toBe("alpha\nBETA\n");
      expect(await textOf(env.backend, env.at("/p/new.txt"))).toBe("fresh\n");
      const [img2] = await env.backend.downloadFiles([env.at("/p/img.bin")]);
      expect(Array.from(img2?.content ?? [])).toEqual([9, 9, 9, 9]);
      expect(await changeList(b)).toEqual([]);
      // Committed files left the branch: it reads them from the base, and follows its changes.
      expectSuccess(await env.backend.write(env.at("/p/new.txt"), "changed in the base\n"));
      expect(await textOf(b, env.at("/p/new.txt"))).toBe("changed in the base\n");
    });

    ctx.rule("a file the base changed after the branch read it is a conflict, never overwritten", async (env) => {
      await seed(env, { "/c/doc.md": "one\ntwo\n", "/c/other.md": "x\n" });
      const b = branch(env.backend);
      expectSuccess(await b.edit(env.at("/c/doc.md"), "one", "ONE"));
      expectSuccess(await b.edit(env.at("/c/other.md"), "x", "X"));
      expectSuccess(await env.backend.edit(env.at("/c/doc.md"), "two", "TWO"));

      const result = await b.commit();
      expect(result.committed).toEqual([env.at("/c/other.md")]);
      expect(result.conflicts.map((c) => c.path)).toEqual([env.at("/c/doc.md")]);
      expect(result.conflicts[0]?.reason).toContain(env.at("/c/doc.md"));
      expect(await textOf(env.backend, env.at("/c/doc.md"))).toBe("one\nTWO\n");
      expect(await textOf(env.backend, env.at("/c/other.md"))).toBe("X\n");
      // The branch keeps its version, to merge by hand or discard.
      expect(await textOf(b, env.at("/c/doc.md"))).toBe("ONE\ntwo\n");
      expect(await changeList(b)).toEqual([`modified ${env.at("/c/doc.md")}`]);
    });

    ctx.rule("a file the branch added that appeared in the base meanwhile is a conflict", async (env) => {
      await seed(env, { "/n/keep.txt": "k" });
      const b = branch(env.backend);
      expectSuccess(await b.write(env.at("/n/new.txt"), "from the branch"));
      expectSuccess(await env.backend.write(env.at("/n/new.txt"), "from someone else"));
      const result = await b.commit();
      expect(result.committed).toEqual([]);
      expect(result.conflicts.map((c) => c.path)).toEqual([env.at("/n/new.txt")]);
      expect(await textOf(env.backend, env.at("/n/new.txt"))).toBe("from someone else");
      expect(await textOf(b, env.at("/n/new.txt"))).toBe("from the branch");
    });

    ctx.rule("deletes hide files and directories and are committed unless the base changed them", async (env) => {
      await seed(env, {
        "/d/x/a.txt": "a",
        "/d/x/y/b.txt": "b",
        "/d/gone.txt": "g",
        "/d/raced.txt": "r",
        "/d/keep.txt": "k",
      });
      const b = branch(env.backend);
      for (const path of ["/d/x", "/d/gone.txt", "/d/raced.txt"]) expectSuccess(await b.delete(env.at(path)));
      expectFailure(await b.read(env.at("/d/x/y/b.txt")), "file_not_found");
      expectFailure(await b.delete(env.at("/d/x")), "file_not_found");
      expect(pathsOf((await b.ls(env.at("/d"))).files)).toEqual([env.at("/d/keep.txt")]);
      expect(pathsOf((await b.glob("**", env.at("/d"))).files)).toEqual([env.at("/d/keep.txt")]);
      expect((await b.grep("a", env.at("/d"))).matches).toEqual([]);
      expect(await textOf(env.backend, env.at("/d/x/y/b.txt"))).toBe("b");
      expect(await changeList(b)).toEqual([
        `deleted ${env.at("/d/gone.txt")}`,
        `deleted ${env.at("/d/raced.txt")}`,
        `deleted ${env.at("/d/x/a.txt")}`,
        `deleted ${env.at("/d/x/y/b.txt")}`,
      ]);

      expectSuccess(await env.backend.write(env.at("/d/raced.txt"), "changed meanwhile"));
      const result = await b.commit();
      expect(result.committed).toEqual([env.at("/d/gone.txt"), env.at("/d/x/a.txt"), env.at("/d/x/y/b.txt")]);
      expect(result.conflicts.map((c) => c.path)).toEqual([env.at("/d/raced.txt")]);
      for (const path of ["/d/gone.txt", "/d/x/a.txt", "/d/x/y/b.txt"]) {
        expectFailure(await env.backend.read(env.at(path)), "file_not_found");
      }
      expect(await textOf(env.backend, env.at("/d/raced.txt"))).toBe("changed meanwhile");
      expect(await textOf(env.backend, env.at("/d/keep.txt"))).toBe("k");
    });

    ctx.rule("a directory the branch deleted and wrote again commits as its new files", async (env) => {
      await seed(env, { "/r/old.txt": "old", "/r/sub/deep.txt": "deep" });
      const b = branch(env.backend);
      expectSuccess(await b.delete(env.at("/r")));
      expectSuccess(await b.write(env.at("/r/new.txt"), "new"));
      expect(pathsOf((await b.glob("**", env.at("/r"))).files)).toEqual([env.at("/r/new.txt")]);
      const result = await b.commit();
      expect(result.conflicts).toEqual([]);
      expect(pathsOf((await env.backend.glob("**", env.at("/r"))).files)).toEqual([env.at("/r/new.txt")]);
      expect(pathsOf((await b.glob("**", env.at("/r"))).files)).toEqual([env.at("/r/new.txt")]);
    });

    ctx.rule("a base file the branch replaced by a directory commits as its delete and the new file", async (env) => {
      await seed(env, { "/f/thing": "a file" });
      const b = branch(env.backend);
      expectSuccess(await b.delete(env.at("/f/thing")));
      expectSuccess(await b.write(env.at("/f/thing/inner.txt"), "inside"));
      expect(pathsOf((await b.ls(env.at("/f"))).files)).toEqual([env.dirEntry("/f/thing")]);
      expect(await changeList(b)).toEqual([`deleted ${env.at("/f/thing")}`, `added ${env.at("/f/thing/inner.txt")}`]);
      expect(await b.commit()).toEqual({
        committed: [env.at("/f/thing"), env.at("/f/thing/inner.txt")],
        conflicts: [],
      });
      expect(await textOf(env.backend, env.at("/f/thing/inner.txt"))).toBe("inside");
      expect(await changeList(b)).toEqual([]);
    });

    ctx.rule("commit with paths applies only the changes at or below them", async (env) => {
      await seed(env, { "/s/a/1.txt": "1", "/s/b/2.txt": "2" });
      const b = branch(env.backend);
      expectSuccess(await b.write(env.at("/s/a/1.txt"), "one"));
      expectSuccess(await b.write(env.at("/s/b/2.txt"), "two"));
      const result = await b.commit({ paths: [env.at("/s/a")] });
      expect(result).toEqual({ committed: [env.at("/s/a/1.txt")], conflicts: [] });
      expect(await textOf(env.backend, env.at("/s/b/2.txt"))).toBe("2");
      expect(await changeList(b)).toEqual([`modified ${env.at("/s/b/2.txt")}`]);
    });

    ctx.rule("discard drops every change and shows the base again", async (env) => {
      await seed(env, { "/t/a.txt": "a", "/t/b.txt": "b" });
      const b = branch(env.backend);
      expectSuccess(await b.write(env.at("/t/a.txt"), "A"));
      expectSuccess(await b.delete(env.at("/t/b.txt")));
      expectSuccess(await b.write(env.at("/t/c.txt"), "c"));
      await b.discard();
      expect(await changeList(b)).toEqual([]);
      expect(pathsOf((await b.ls(env.at("/t"))).files)).toEqual([env.at("/t/a.txt"), env.at("/t/b.txt")]);
      expect(await textOf(b, env.at("/t/a.txt"))).toBe("a");
      expect(await b.commit()).toEqual({ committed: [], conflicts: [] });
      expect(pathsOf((await env.backend.ls(env.at("/t"))).files)).toEqual([env.at("/t/a.txt"), env.at("/t/b.txt")]);
    });

    ctx.rule(
      "two branches of one base: both commit, the overlap conflicts for the second, nothing is lost",
      async (env) => {
        await seed(env, { "/w/shared.md": "intro\nbody\n", "/w/base.txt": "base" });
        const first = branch(env.backend);
        const second = branch(env.backend);
        expectSuccess(await first.edit(env.at("/w/shared.md"), "intro", "INTRO by first"));
        expectSuccess(await first.write(env.at("/w/first.txt"), "first's file"));
        expectSuccess(await second.edit(env.at("/w/shared.md"), "body", "BODY by second"));
        expectSuccess(await second.write(env.at("/w/second.txt"), "second's file"));
        expectSuccess(await second.delete(env.at("/w/base.txt")));

        const [one, two] = await Promise.all([first.commit(), second.commit()]);
        const results = [one, two] as const;
        // Whichever commits its shared.md first wins it; the other gets a conflict for it only.
        const winner = results.findIndex((r) => r?.committed.includes(env.at("/w/shared.md")));
        expect(winner).toBeGreaterThanOrEqual(0);
        const loser = results[1 - winner];
        expect(loser?.conflicts.map((c) => c.path)).toEqual([env.at("/w/shared.md")]);
        expect(one?.committed).toContain(env.at("/w/first.txt"));
        expect(two?.committed).toEqual(expect.arrayContaining([env.at("/w/second.txt"), env.at("/w/base.txt")]));

        const winnerText = winner === 0 ? "INTRO by first\nbody\n" : "intro\nBODY by second\n";
        const loserText = winner === 0 ? "intro\nBODY by second\n" : "INTRO by first\nbody\n";
        expect(await textOf(env.backend, env.at("/w/shared.md"))).toBe(winnerText);
        expect(await textOf(winner === 0 ? second : first, env.at("/w/shared.md"))).toBe(loserText);
        expect(await textOf(env.backend, env.at("/w/first.txt"))).toBe("first's file");
        expect(await textOf(env.backend, env.at("/w/second.txt"))).toBe("second's file");
        expectFailure(await env.backend.read(env.at("/w/base.txt")), "file_not_found");
      },
    );

    ctx.rule("a three-way commit merges edits of different lines of one file; the default refuses it", async (env) => {
      const lines = (...changed: Array<[number, string]>) => {
        const out = ["one", "two", "three", "four", "five", "six", "seven"];
        for (const [at, text] of changed) out[at] = text;
        return `${out.join("\n")}\n`;
      };
      await seed(env, { "/m/doc.md": lines() });
      const first = branch(env.backend);
      const second = branch(env.backend);
      expectSuccess(await first.edit(env.at("/m/doc.md"), "two", "TWO by first"));
      expectSuccess(await second.edit(env.at("/m/doc.md"), "six", "SIX by second"));
      expect((await first.commit()).committed).toEqual([env.at("/m/doc.md")]);

      const refused = await second.commit();
      expect(refused.conflicts.map((c) => c.path)).toEqual([env.at("/m/doc.md")]);
      expect(refused.conflicts[0]?.regions).toBeUndefined();
      expect(await textOf(env.backend, env.at("/m/doc.md"))).toBe(lines([1, "TWO by first"]));

      const merged = await second.commit({ merge: "three-way" });
      expect(merged.conflicts).toEqual([]);
      expect(merged.committed).toEqual([env.at("/m/doc.md")]);
      expect(merged.merged).toEqual([env.at("/m/doc.md")]);
      const both = lines([1, "TWO by first"], [5, "SIX by second"]);
      expect(await textOf(env.backend, env.at("/m/doc.md"))).toBe(both);
      // The file left the branch: it shows the base's merged text.
      expect(await textOf(second, env.at("/m/doc.md"))).toBe(both);
      expect(await changeList(second)).toEqual([]);
    });

    ctx.rule(
      "a three-way commit of overlapping edits is a conflict with both sides, and changes nothing",
      async (env) => {
        await seed(env, {
          "/o/doc.md": "title\nshared line\nend\n",
          "/o/data.bin": new Uint8Array([0, 1, 2, 3]),
        });
        const first = branch(env.backend);
        const second = branch(env.backend);
        expectSuccess(await first.edit(env.at("/o/doc.md"), "shared line", "first's line"));
        expectSuccess(await second.edit(env.at("/o/doc.md"), "shared line", "second's line"));
        await first.uploadFiles([[env.at("/o/data.bin"), new Uint8Array([0, 1])]]);
        await second.uploadFiles([[env.at("/o/data.bin"), new Uint8Array([0, 2])]]);
        expect((await first.commit()).committed).toEqual([env.at("/o/data.bin"), env.at("/o/doc.md")]);

        const got = await second.commit({ merge: "three-way" });
        expect(got.committed).toEqual([]);
        expect(got.merged).toBeUndefined();
        expect(got.conflicts.map((c) => c.path)).toEqual([env.at("/o/data.bin"), env.at("/o/doc.md")]);
        const [binary, text] = got.conflicts;
        expect(binary?.regions).toBeUndefined();
        expect(text?.regions).toEqual([
          { line: 2, base: "shared line\n", ours: "second's line\n", theirs: "first's line\n" },
        ]);
        // Nothing was merged: the base keeps the first branch's text, the second keeps its own.
        expect(await textOf(env.backend, env.at("/o/doc.md"))).toBe("title\nfirst's line\nend\n");
        expect(await textOf(second, env.at("/o/doc.md"))).toBe("title\nsecond's line\nend\n");
      },
    );

    ctx.rule("grep and glob see the base and the branch's changes alike", async (env) => {
      await seed(env, { "/g/clean/a.txt": "needle in the base\n", "/g/dirty/b.txt": "needle too\n" });
      const b = branch(env.backend);
      expectSuccess(await b.write(env.at("/g/dirty/c.txt"), "a needle from the branch\n"));
      expectSuccess(await b.edit(env.at("/g/dirty/b.txt"), "needle too", "no match now"));
      const clean = await b.grep("needle", env.at("/g/clean"));
      expect(clean.matches?.map((m) => m.path)).toEqual([env.at("/g/clean/a.txt")]);
      const all = await b.grep("needle", env.at("/g"));
      expect(all.matches?.map((m) => m.path)).toEqual([env.at("/g/clean/a.txt"), env.at("/g/dirty/c.txt")]);
      expect(pathsOf((await b.glob("**/*.txt", env.at("/g"))).files)).toEqual([
        env.at("/g/clean/a.txt"),
        env.at("/g/dirty/b.txt"),
        env.at("/g/dirty/c.txt"),
      ]);
    });
  });
}
