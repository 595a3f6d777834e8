// The board audit of the soaks must catch an undone upload and a lost edit, accept what a serial
// order explains, on the scale a 60 s soak records (~10^5 edits and reads).
import { describe, expect, it } from "vitest";
import { auditBoard, type BoardRecord, boardContent, boardRecords, initialBoardId } from "../src/soak-boards.js";
import { SoakLog } from "../src/soak-log.js";

const PATH = "/boards/b0.txt";

function board(upload: string, tokens: string[]): string {
  return boardContent(upload).replace("END\n", `${tokens.map((t) => `${t}\n`).join("")}END\n`);
}

function fresh(): BoardRecord {
  return boardRecords([PATH]).get(PATH) as BoardRecord;
}

function audit(record: BoardRecord, final: string, at = 1_000) {
  const log = new SoakLog();
  const lost = auditBoard(PATH, final, record, at, log);
  return { lost, violations: log.violationMessages };
}

describe("board audit", () => {
  it("accepts edits after the upload they follow, and an edit that raced the read", () => {
    const record = fresh();
    record.edits.set("E:a1:1", { start: 10, end: 20 });
    record.edits.set("E:a2:2", { start: 30, end: 40 });
    record.edits.set("E:a3:3", { start: 45, end: 60 }); // still running when the read began
    record.observations.push({ start: 50, end: 55, upload: initialBoardId(0), tokens: ["E:a1:1", "E:a2:2"] });
    expect(audit(record, board(initialBoardId(0), ["E:a1:1", "E:a2:2", "E:a3:3"]))).toEqual({
      lost: 0,
      violations: [],
    });
  });

  it("reports an acknowledged edit missing from a later read", () => {
    const record = fresh();
    record.edits.set("E:a1:1", { start: 10, end: 20 });
    record.edits.set("E:a2:2", { start: 30, end: 40 });
    record.observations.push({ start: 50, end: 55, upload: initialBoardId(0), tokens: ["E:a2:2"] });
    const { lost, violations } = audit(record, board(initialBoardId(0), ["E:a1:1", "E:a2:2"]));
    expect(lost).toBe(1);
    expect(violations).toEqual([`board ${PATH}: an acknowledged edit is missing (lost write)`]);
  });

  it("reports an upload undone by a later one that ended before the read began", () => {
    const record = fresh();
    record.uploads.set("U:a1:1", { start: 10, end: 20 });
    record.uploads.set("U:a2:2", { start: 30, end: 40 });
    const { lost, violations } = audit(record, boardContent("U:a1:1"));
    expect(lost).toBe(1);
    expect(violations[0]).toContain("an acknowledged upload was undone");
  });

  it("reports a token nobody wrote and one refused with conflict", () => {
    const record = fresh();
    record.refused.add("E:a1:1");
    const { violations } = audit(record, board(initialBoardId(0), ["E:a1:1", "E:a9:9"]));
    expect(violations).toEqual([
      `board ${PATH}: an edit that answered conflict was applied`,
      `board ${PATH} holds a token nobody wrote`,
    ]);
  });

  it("checks 20,000 reads across 200 uploads, each against the edits since its upload", () => {
    const record = fresh();
    let upload = initialBoardId(0);
    let tokens: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const t = i * 10;
      if (i % 100 === 0) {
        upload = `U:a0:${i}`;
        record.uploads.set(upload, { start: t, end: t + 1 });
        tokens = [];
      }
      const token = `E:a1:${i}`;
      record.edits.set(token, { start: t + 2, end: t + 3 });
      tokens.push(token);
      record.observations.push({ start: t + 4, end: t + 5, upload, tokens: [...tokens] });
    }
    const result = audit(record, board(upload, tokens), 1e9);
    expect(result).toEqual({ lost: 0, violations: [] });
  });
});
