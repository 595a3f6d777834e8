import type { BackendProtocol } from "@deepfs/core";
import { auditBoard, type BoardRecord } from "./soak-boards.js";
import type { LedgerRecord, RegisterRecord, SoakLog } from "./soak-log.js";
import type { SoakLayout } from "./soak-workload.js";

/** What the audit compared and found. */
export interface AuditResult {
  /** Acknowledged writes whose effect is missing from the final state (must be 0). */
  lost: number;
  /** Acknowledged ledger tokens found in the final ledgers. */
  ledgerTokens: number;
  /** Acknowledged compare-and-swap writes, all on one chain per register when nothing was lost. */
  registerWrites: number;
  /** Acknowledged uploads that replaced a shared board while other agents edited it. */
  boardUploads: number;
  /** Files whose final content was compared. */
  filesChecked: number;
}

const DOWNLOAD_BATCH = 100;

/** Final content of every path (`null` when the backend answers file_not_found). */
async function finalContents(backend: BackendProtocol, paths: string[], log: SoakLog) {
  const contents = new Map<string, string | null>();
  const decoder = new TextDecoder();
  for (let i = 0; i < paths.length; i += DOWNLOAD_BATCH) {
    const batch = paths.slice(i, i + DOWNLOAD_BATCH);
    const answers = await backend.downloadFiles(batch);
    for (const [j, path] of batch.entries()) {
      const answer = answers[j];
      if (answer?.path !== path) {
        log.violation(`downloadFiles answered ${answer?.path} in place of ${path}`);
      } else if (answer.error === null && answer.content) {
        contents.set(path, decoder.decode(answer.content));
      } else if (answer.error === "file_not_found") {
        contents.set(path, null);
      } else {
        log.error("audit-download", { error: answer.message ?? answer.error ?? "no content", code: answer.code });
      }
    }
  }
  return contents;
}

function auditLedger(path: string, text: string | null | undefined, record: LedgerRecord, log: SoakLog): number {
  if (typeof text !== "string") {
    log.violation(`ledger ${path} is gone`);
    return record.acknowledged.size;
  }
  const lines = text.split("\n");
  if (lines[0] !== "BEGIN" || lines.at(-2) !== "END" || lines.at(-1) !== "") {
    log.violation(`ledger ${path} lost its BEGIN/END frame`);
  }
  const tokens = lines.slice(1, -2);
  const present = new Set(tokens);
  if (present.size !== tokens.length)
    log.violation(`ledger ${path} holds ${tokens.length - present.size} duplicate token(s)`);
  let lost = 0;
  for (const token of record.acknowledged) if (!present.has(token)) lost++;
  if (lost > 0) log.violation(`ledger ${path}: ${lost} acknowledged edit(s) missing (lost writes)`);
  const refusedApplied = tokens.filter((t) => record.refused.has(t)).length;
  if (refusedApplied > 0) log.violation(`ledger ${path}: ${refusedApplied} edit(s) answered conflict but applied`);
  const phantoms = tokens.filter(
    (t) => !record.acknowledged.has(t) && !record.uncertain.has(t) && !record.refused.has(t),
  );
  if (phantoms.length > 0) log.violation(`ledger ${path}: ${phantoms.length} line(s) nobody wrote`);
  return lost;
}

/**
 * A register's acknowledged writes must form one chain from its initial value: no two acknowledged
 * writes read the same predecessor (that would be a lost update), and the final content is the head.
 */
function auditRegister(path: string, text: string | null | undefined, record: RegisterRecord, log: SoakLog): number {
  let lost = 0;
  const successors = new Map<string, string>();
  for (const [predecessor, value] of record.acknowledged) {
    if (successors.has(predecessor)) {
      lost++;
      log.violation(`register ${path}: two acknowledged writes replaced the same version (lost update)`);
    } else {
      successors.set(predecessor, value);
    }
  }
  let head = record.initial;
  let length = 0;
  for (let next = successors.get(head); next !== undefined; next = successors.get(head)) {
    head = next;
    length++;
    if (length > record.acknowledged.length) break;
  }
  if (length !== successors.size) {
    log.violation(`register ${path}: ${successors.size - length} acknowledged write(s) are not on the chain`);
  }
  if (text !== head && !(typeof text === "string" && record.uncertain.has(text))) {
    lost++;
    log.violation(`register ${path} does not hold the head of its acknowledged chain`);
  }
  const readRefused = [...record.observed].filter((v) => record.refused.has(v)).length;
  if (readRefused > 0) log.violation(`register ${path}: ${readRefused} value(s) refused with conflict were read`);
  return lost;
}

/** Compares the backend's final state with the log of acknowledged operations. */
export async function auditFinalState(
  backend: BackendProtocol,
  layout: SoakLayout,
  log: SoakLog,
): Promise<AuditResult> {
  const paths = [...layout.allLedgers, ...layout.registers, ...layout.boards, ...layout.allPrivate];
  const auditStart = performance.now();
  const contents = await finalContents(backend, paths, log);
  let lost = 0;
  let ledgerTokens = 0;
  for (const path of layout.allLedgers) {
    const record = log.ledger(path);
    lost += auditLedger(path, contents.get(path), record, log);
    ledgerTokens += record.acknowledged.size;
  }
  let registerWrites = 0;
  for (const path of layout.registers) {
    const record = log.registers.get(path) as RegisterRecord;
    lost += auditRegister(path, contents.get(path), record, log);
    registerWrites += record.acknowledged.length;
  }
  let boardUploads = 0;
  for (const path of layout.boards) {
    const record = log.boards.get(path) as BoardRecord;
    lost += auditBoard(path, contents.get(path), record, auditStart, log);
    for (const upload of record.uploads.values()) if (upload.start > 0 && Number.isFinite(upload.end)) boardUploads++;
  }
  const expectedFiles = new Set([...layout.allLedgers, ...layout.registers, ...layout.boards]);
  const maybeFiles = new Set<string>();
  for (const path of layout.allPrivate) {
    const record = log.privateFiles.get(path) ?? { content: null, certain: true };
    if (!record.certain) {
      maybeFiles.add(path);
      continue;
    }
    if (record.content !== null) expectedFiles.add(path);
    if (contents.get(path) !== record.content) {
      lost++;
      log.violation(`${path} does not hold its last acknowledged ${record.content === null ? "delete" : "write"}`);
    }
  }
  // Nothing else may exist: no stray temp file, no half-written copy, no file outside the plan.
  const listed = await backend.glob("**/*", layout.root);
  if (listed.error !== undefined) log.error("audit-glob", listed);
  const found = new Set((listed.files ?? []).map((f) => f.path));
  const unexpected = [...found].filter((p) => !expectedFiles.has(p) && !maybeFiles.has(p));
  const missing = [...expectedFiles].filter((p) => !found.has(p));
  if (unexpected.length > 0)
    log.violation(`the final tree holds unexpected files: ${unexpected.slice(0, 5).join(", ")}`);
  if (missing.length > 0) log.violation(`glob of the final tree misses ${missing.length} file(s)`);
  return { lost, ledgerTokens, registerWrites, boardUploads, filesChecked: contents.size };
}
