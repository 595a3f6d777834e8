// The version-chain audit of history soaks must fail when a version is missing, duplicated, of the
// wrong operation, or made by a refused write.
import { type AuditEvent, StateBackend, withAudit } from "@deepfs/core";
import { describe, expect, it } from "vitest";
import { SoakLog } from "../src/soak-log.js";
import { auditTrailAgainstJournal, auditVersionChains, journaled, MutationJournal } from "../src/soak-versions.js";

async function audit(act: (backend: StateBackend, raw: StateBackend) => Promise<void>) {
  const raw = new StateBackend({ history: true });
  const journal = new MutationJournal();
  await act(journaled(raw, journal), raw);
  const log = new SoakLog();
  const counts = await auditVersionChains(raw, journal, log);
  return { counts, violations: log.violationMessages };
}

describe("version-chain audit", () => {
  it("passes when every acknowledged mutation is one version", async () => {
    const { counts, violations } = await audit(async (b) => {
      await b.write("/a.txt", "one");
      await b.edit("/a.txt", "one", "two");
      await b.uploadFiles([["/a.txt", new TextEncoder().encode("three")]]);
      expect((await b.write("/a.txt", "x", { ifNoneMatch: "*" })).code).toBe("conflict");
      await b.delete("/a.txt");
    });
    expect(violations).toEqual([]);
    expect(counts).toEqual({ paths: 1, versions: 4 });
  });

  it("reports a version no acknowledged mutation made", async () => {
    const { violations } = await audit(async (b, raw) => {
      await b.write("/a.txt", "one");
      await raw.write("/a.txt", "behind the journal's back");
    });
    expect(violations).toEqual(["/a.txt: 2 write version(s) for 1 acknowledged, 1 at most"]);
  });

  it("reports an acknowledged mutation with no version", async () => {
    const journal = new MutationJournal();
    journal.record("/lost.txt", "edit", undefined);
    const log = new SoakLog();
    await auditVersionChains(new StateBackend({ history: true }), journal, log);
    expect(log.violationMessages).toEqual(["/lost.txt: 1 acknowledged edit(s) but 0 edit version(s)"]);
  });

  it("reports an acknowledged etag that no version has", async () => {
    const raw = new StateBackend({ history: true });
    await raw.write("/a.txt", "one");
    const journal = new MutationJournal();
    journal.record("/a.txt", "write", undefined, "not-its-etag");
    const log = new SoakLog();
    await auditVersionChains(raw, journal, log);
    expect(log.violationMessages).toEqual(["/a.txt: an acknowledged write answered an etag no write version has"]);
  });

  it("allows at most one version for a mutation whose outcome is unknown", async () => {
    const raw = new StateBackend({ history: true });
    await raw.write("/a.txt", "one");
    const journal = new MutationJournal();
    journal.record("/a.txt", "write", "backend_unavailable");
    const log = new SoakLog();
    await auditVersionChains(raw, journal, log);
    expect(log.violationMessages).toEqual([]);
    journal.record("/b.txt", "write", "conflict");
    await raw.write("/b.txt", "made by a refused write");
    await auditVersionChains(raw, journal, log);
    expect(log.violationMessages).toEqual(["/b.txt: 1 write version(s) for 0 acknowledged, 0 at most"]);
  });

  it("checks an audit trail against the journal: one done event per acknowledged change", async () => {
    const events: AuditEvent[] = [];
    const journal = new MutationJournal();
    const backend = journaled(withAudit(new StateBackend(), { onAudit: (e) => void events.push(e) }), journal);
    await backend.write("/a.txt", "one");
    await backend.edit("/a.txt", "one", "two");
    expect((await backend.write("/a.txt", "x", { ifNoneMatch: "*" })).code).toBe("conflict");
    await backend.uploadFiles([["/b.bin", new Uint8Array(2)]]);
    await backend.delete("/b.bin");
    const log = new SoakLog();
    expect(auditTrailAgainstJournal(events, journal, log)).toEqual({ paths: 2, events: 4 });
    expect(log.violationMessages).toEqual([]);
    // An event lost, and one for a path nobody changed, are both violations.
    const tampered = [...events.slice(1), { ...(events[0] as AuditEvent), path: "/ghost.txt" }];
    const second = new SoakLog();
    auditTrailAgainstJournal(tampered, journal, second);
    expect(second.violationMessages).toEqual([
      "/ghost.txt: audit events for a path no agent changed",
      "/a.txt: 1 acknowledged write(s) but 0 write audit event(s)",
      "/a.txt: an acknowledged write answered an etag no write audit event has",
    ]);
  });
});
