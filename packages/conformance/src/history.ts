import type { BackendProtocol, FileVersion, HistoryProtocol, SnapshotChange, VersionOp } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";
import { seed } from "./fixtures.js";

/** What the history rules may expect of the backend under test (created with history on). */
export interface HistoryRuleOptions {
  /** The `maxVersions` the backend was created with: registers the retention rule. */
  maxVersions?: number;
  /**
   * How the backend records an `edit` (default `edit`). A member reached through a router by its
   * public methods (StateBackend) sees the router's edit as a conditional write: `write`.
   */
  editOp?: VersionOp;
  /**
   * `create()` returns subjects with a `peer` (another process on the same files, history on too):
   * registers the rule for restores in one instance racing edits in the other.
   */
  peers?: boolean;
}

type Subject = BackendProtocol & HistoryProtocol;

function subject(env: RuleEnv): Subject {
  const b = env.backend as Partial<Subject>;
  expect(typeof b.history, "the backend must have the history methods").toBe("function");
  return env.backend as Subject;
}

async function versionsOf(b: Subject, path: string, limit?: number): Promise<FileVersion[]> {
  const got = await b.history(path, limit === undefined ? undefined : { limit });
  expectSuccess(got, `the history of ${path}`);
  return got.versions ?? [];
}

async function textOf(b: Subject, path: string): Promise<string | undefined> {
  const raw = await b.readRaw(path);
  expectSuccess(raw, `reading ${path}`);
  return raw.data?.content as string;
}

/** Changes under the test's root (a store shared with other files may report theirs too). */
async function changesUnder(b: Subject, env: RuleEnv, snapshot: string): Promise<string[]> {
  const got = await b.changesSince(snapshot);
  expectSuccess(got, "changesSince");
  return (got.changes ?? []).filter((c) => c.path.startsWith(`${env.root}/`) || env.root === "/").map(show);
}

const show = (c: SnapshotChange) => `${c.change} ${c.path}`;

/** Tenant names a prefix or a LIKE pattern would confuse (see the tenant isolation rules). */
const HISTORY_TENANTS = ["acme", "acm_", "acme%", "ac\\me"] as const;

/**
 * Version history of the backend under test, created with `history` on: every acknowledged
 * mutation is exactly one version, deletes are tombstones, `restore` is a version and honours
 * `ifMatch`, a restore racing edits loses nothing, snapshots compare and restore (dry run first),
 * and retention keeps at most `maxVersions` per file.
 */
export function registerHistoryRules(ctx: ContractContext, options: HistoryRuleOptions = {}): void {
  const editOp = options.editOp ?? "edit";
  describe("history", () => {
    ctx.rule("every acknowledged mutation is exactly one version, newest first, with its op", async (env) => {
      const b = subject(env);
      const p = env.at("/h/a.txt");
      const created = await b.write(p, "one\n");
      const overwritten = await b.write(p, "two\n");
      const edited = await b.edit(p, "two", "three");
      // Refused or empty changes are no versions.
      expectFailure(await b.edit(p, "absent", "x"), "string_not_found");
      expectFailure(await b.write(p, "stale", { ifMatch: "not-the-etag" }), "conflict");
      expectSuccess(await b.edit(p, "three", "three"));
      const [up] = await b.uploadFiles([[p, new TextEncoder().encode("uploaded\n")]]);
      expect(up?.error).toBeNull();
      expectSuccess(await b.delete(p));

      const versions = await versionsOf(b, p);
      expect(versions.map((v) => v.op)).toEqual(["delete", "upload", editOp, "write", "write"]);
      expect(new Set(versions.map((v) => v.version)).size).toBe(5);
      expect(versions[4]?.etag).toBe(created.etag);
      expect(versions[3]?.etag).toBe(overwritten.etag);
      expect(versions[2]?.etag).toBe(edited.etag);
      expect(versions[2]?.size).toBe(6);
      expect(versions[0]).toMatchObject({ op: "delete", etag: "", size: 0 });
      for (const v of versions) expect(Number.isNaN(Date.parse(v.modified_at))).toBe(false);
      expect((await versionsOf(b, p, 2)).map((v) => v.op)).toEqual(["delete", "upload"]);
      expect(await versionsOf(b, env.at("/h/never.txt"))).toEqual([]);
    });

    ctx.rule("deleting a directory makes a tombstone of every file below it, each restorable", async (env) => {
      const b = subject(env);
      await seed(env, { "/dir/a.txt": "a\n", "/dir/sub/b.txt": "b\n" });
      expectSuccess(await b.delete(env.at("/dir")));
      for (const [path, text] of [
        ["/dir/a.txt", "a\n"],
        ["/dir/sub/b.txt", "b\n"],
      ] as const) {
        const [tomb, before] = await versionsOf(b, env.at(path));
        expect(tomb).toMatchObject({ op: "delete", etag: "", size: 0 });
        expectSuccess(await b.restore(env.at(path), before?.version as string));
        expect(await textOf(b, env.at(path))).toBe(text);
      }
    });

    ctx.rule("readVersion gives each version's exact content; a tombstone or unknown id is not found", async (env) => {
      const b = subject(env);
      const p = env.at("/v/doc.md");
      const bin = env.at("/v/blob.bin");
      await b.write(p, "first\n");
      await b.write(p, "second\n");
      await seed(env, { "/v/blob.bin": new Uint8Array([0, 255, 128, 10]) });
      await b.delete(p);
      const [, second, first] = await versionsOf(b, p);
      const old = await b.readVersion(p, first?.version as string);
      expectSuccess(old);
      expect(old.data?.content).toBe("first\n");
      expect(old.etag).toBe(first?.etag);
      expect((await b.readVersion(p, second?.version as string)).data?.content).toBe("second\n");
      const [blob] = await versionsOf(b, bin);
      expectBytes((await b.readVersion(bin, blob?.version as string)).data?.content, new Uint8Array([0, 255, 128, 10]));
      const [tomb] = await versionsOf(b, p);
      expectFailure(await b.readVersion(p, tomb?.version as string), "file_not_found");
      expectFailure(await b.readVersion(p, "no-such-version"), "file_not_found");
      expectFailure(await b.readVersion(p, ""), "invalid_argument");
      expectFailure(await b.history(env.at("/v/../x")), "invalid_path");
    });

    ctx.rule("restore brings a deleted file back as a new version and honours ifMatch", async (env) => {
      const b = subject(env);
      const p = env.at("/r/notes.txt");
      await b.write(p, "kept\n");
      await b.edit(p, "kept", "changed");
      // Undo of the last edit: restore the version before it.
      const [, beforeEdit] = await versionsOf(b, p);
      const undone = await b.restore(p, beforeEdit?.version as string);
      expectSuccess(undone);
      expect(undone.path).toBe(p);
      expect(await textOf(b, p)).toBe("kept\n");
      expect((await b.read(p)).etag).toBe(undone.etag);

      await b.delete(p);
      expectFailure(await b.read(p), "file_not_found");
      const stale = await b.restore(p, beforeEdit?.version as string, { ifMatch: "not-the-etag" });
      expectFailure(stale, "conflict");
      expectFailure(await b.read(p), "file_not_found");
      const [tomb] = await versionsOf(b, p);
      expectFailure(await b.restore(p, tomb?.version as string), "file_not_found");
      const back = await b.restore(p, beforeEdit?.version as string);
      expectSuccess(back);
      expect(await textOf(b, p)).toBe("kept\n");
      const pinned = await b.restore(p, beforeEdit?.version as string, { ifMatch: back.etag as string });
      expectSuccess(pinned);
      expect((await versionsOf(b, p)).map((v) => v.op)).toEqual([
        "restore",
        "restore",
        "delete",
        "restore",
        editOp,
        "write",
      ]);
    });

    ctx.rule("a restore racing edits loses nothing: every acknowledged change is a version", async (env) => {
      const b = subject(env);
      const p = env.at("/race/file.txt");
      await b.write(p, "base\nEND\n");
      const [v1] = await versionsOf(b, p);
      const calls: Array<Promise<{ error?: string; etag?: string }>> = [];
      for (let i = 0; i < 8; i++) {
        calls.push(Promise.resolve(b.edit(p, "END", `line ${i}\nEND`)));
        if (i % 3 === 0) calls.push(b.restore(p, v1?.version as string));
      }
      const answers = await Promise.all(calls);
      const acknowledged = answers.filter((a) => a.error === undefined);
      const versions = await versionsOf(b, p);
      expect(versions).toHaveLength(acknowledged.length + 1);
      const etags = new Set(versions.map((v) => v.etag));
      for (const a of acknowledged) expect(etags.has(a.etag as string)).toBe(true);
      // The newest version is what the file holds.
      const now = await b.readRaw(p);
      expect(now.etag).toBe(versions[0]?.etag);
      expect((await b.readVersion(p, versions[0]?.version as string)).data?.content).toBe(now.data?.content);
    });

    ctx.rule("changesSince and restoreSnapshot (dry run first) cover the whole store", async (env) => {
      const b = subject(env);
      await seed(env, { "/s/a.txt": "a\n", "/s/b.txt": "b\n", "/s/c.bin": new Uint8Array([1, 2]) });
      const taken = await b.snapshot();
      expectSuccess(taken);
      const snap = taken.snapshot as string;
      expect(await changesUnder(b, env, snap)).toEqual([]);
      await b.edit(env.at("/s/a.txt"), "a", "A");
      await b.delete(env.at("/s/b.txt"));
      await b.write(env.at("/s/d.txt"), "new\n");
      // Changed and changed back is no change.
      await b.write(env.at("/s/c.bin"), "AwQ=");
      await seed(env, { "/s/c.bin": new Uint8Array([1, 2]) });
      const expected = [
        `modified ${env.at("/s/a.txt")}`,
        `deleted ${env.at("/s/b.txt")}`,
        `added ${env.at("/s/d.txt")}`,
      ];
      expect(await changesUnder(b, env, snap)).toEqual(expected);

      const dry = await b.restoreSnapshot(snap, { dryRun: true });
      expectSuccess(dry);
      expect(dry.dryRun).toBe(true);
      expect((dry.changes ?? []).filter((c) => c.path.startsWith(env.at("/s/"))).map(show)).toEqual(expected);
      expect(await textOf(b, env.at("/s/a.txt"))).toBe("A\n");

      const done = await b.restoreSnapshot(snap);
      expectSuccess(done);
      expect((done.changes ?? []).filter((c) => c.path.startsWith(env.at("/s/"))).map(show)).toEqual(expected);
      expect(await textOf(b, env.at("/s/a.txt"))).toBe("a\n");
      expect(await textOf(b, env.at("/s/b.txt"))).toBe("b\n");
      expectFailure(await b.read(env.at("/s/d.txt")), "file_not_found");
      expect(await changesUnder(b, env, snap)).toEqual([]);
      // The restore is history too: the deleted file came back as a version.
      expect((await versionsOf(b, env.at("/s/b.txt")))[0]?.op).toBe("restore");
      expectFailure(await b.changesSince("not-a-snapshot"), "invalid_argument");
      expectFailure(await b.restoreSnapshot("not-a-snapshot"), "invalid_argument");
    });

    ctx.tenantRule(
      "tenants never see, read or restore each other's versions or snapshots",
      HISTORY_TENANTS,
      async (tenants) => {
        const subjects = tenants.map((t) => subject(t));
        const own: string[][] = [];
        for (const [i, t] of tenants.entries()) {
          const b = subjects[i] as Subject;
          expectSuccess(await b.write(t.at("/h/same.txt"), `tenant ${i} first\n`));
          expectSuccess(await b.write(t.at("/h/same.txt"), `tenant ${i} second\n`));
          own.push((await versionsOf(b, t.at("/h/same.txt"))).map((v) => v.version));
        }
        const snapshots: string[] = [];
        for (const b of subjects) {
          const taken = await b.snapshot();
          expectSuccess(taken);
          snapshots.push(taken.snapshot as string);
        }
        // Another tenant's change after the snapshot is no change here.
        expectSuccess(await (subjects[1] as Subject).write((tenants[1] as RuleEnv).at("/h/late.txt"), "late\n"));
        for (const [i, t] of tenants.entries()) {
          const b = subjects[i] as Subject;
          const path = t.at("/h/same.txt");
          expect(await versionsOf(b, path), `the versions of tenant ${i}`).toHaveLength(2);
          if (i !== 1) expect(await changesUnder(b, t, snapshots[i] as string)).toEqual([]);
          for (const [j, ids] of own.entries()) {
            if (j === i) continue;
            // Another tenant's snapshot id is refused; its version ids name nothing of theirs here.
            expectFailure(await b.changesSince(snapshots[j] as string), "invalid_argument");
            for (const id of ids) {
              const read = await b.readVersion(path, id);
              if (read.error === undefined) expect(read.data?.content).toMatch(new RegExp(`^tenant ${i} `));
              const restored = await b.restore(path, id);
              if (restored.error === undefined) expect(await textOf(b, path)).toMatch(new RegExp(`^tenant ${i} `));
            }
          }
          expect(await textOf(b, path)).toMatch(new RegExp(`^tenant ${i} `));
        }
      },
    );

    if (options.peers) {
      ctx.rule("a restore in one process racing edits in another loses nothing", async (env) => {
        const b = subject(env);
        if (!env.peer) throw new Error("peers: true needs create() to return a subject with `peer`");
        const other = (await env.peer()) as Subject;
        const p = env.at("/race2/file.txt");
        await b.write(p, "base\nEND\n");
        const [v1] = await versionsOf(b, p);
        const calls: Array<Promise<{ error?: string; etag?: string }>> = [];
        for (let i = 0; i < 8; i++) {
          const [editor, restorer] = i % 2 === 0 ? [b, other] : [other, b];
          calls.push(Promise.resolve(editor.edit(p, "END", `line ${i}\nEND`)));
          if (i % 3 === 0) calls.push(restorer.restore(p, v1?.version as string));
        }
        const answers = await Promise.all(calls);
        const acknowledged = answers.filter((a) => a.error === undefined);
        for (const viewer of [b, other]) {
          const versions = await versionsOf(viewer, p);
          expect(versions).toHaveLength(acknowledged.length + 1);
          const etags = new Set(versions.map((v) => v.etag));
          for (const a of acknowledged) expect(etags.has(a.etag as string)).toBe(true);
          const now = await viewer.readRaw(p);
          expect(now.etag).toBe(versions[0]?.etag);
        }
      });
    }

    const max = options.maxVersions;
    if (max !== undefined) {
      ctx.rule(`retention keeps the newest ${max} versions of each file`, async (env) => {
        const b = subject(env);
        const p = env.at("/keep/f.txt");
        const etags: string[] = [];
        for (let i = 0; i < max + 3; i++) etags.push((await b.write(p, `v${i}\n`)).etag as string);
        const versions = await versionsOf(b, p);
        expect(versions.map((v) => v.etag)).toEqual(etags.reverse().slice(0, max));
        const oldest = versions[versions.length - 1];
        expect((await b.readVersion(p, oldest?.version as string)).data?.content).toBe(`v${3}\n`);
      });
    }
  });
}
