import type { ErrorFields } from "@deepfs/core";
import type { BoardRecord } from "./soak-boards.js";

/** How many violation and error messages a soak keeps to show (all are counted). */
const KEPT_MESSAGES = 20;

/** What one shared ledger file was asked to append, by outcome. */
export interface LedgerRecord {
  /** Tokens whose edit was acknowledged: each must be in the final file exactly once. */
  acknowledged: Set<string>;
  /** Tokens whose edit returned `conflict`: none may be in the file. */
  refused: Set<string>;
  /** Tokens whose edit failed otherwise (already an unexplained error): either outcome is allowed. */
  uncertain: Set<string>;
}

/** The compare-and-swap history of one shared register file. */
export interface RegisterRecord {
  initial: string;
  /** Acknowledged writes as `[predecessor read, value written]`. */
  acknowledged: Array<[string, string]>;
  /** Values written with a stale etag (`conflict`): none may ever be read. */
  refused: Set<string>;
  /** Values whose write failed otherwise: may or may not have landed. */
  uncertain: Set<string>;
  /** Every value a read returned during the run. */
  observed: Set<string>;
}

/** What an agent's private file must hold: its last acknowledged content, or `null` once deleted. */
export interface PrivateRecord {
  content: string | null;
  /** False after an unexplained failure of a mutation (the file may hold either version). */
  certain: boolean;
}

/**
 * The log of a soak: every operation by kind and outcome, and what the audit needs to compare the
 * final state with (acknowledged ledger tokens, register chains, private files' last writes).
 */
export class SoakLog {
  readonly ops = new Map<string, number>();
  readonly conflicts = new Map<string, number>();
  /** Unexplained errors by `kind: code` (`threw` for an exception). */
  readonly errors = new Map<string, number>();
  readonly errorMessages: string[] = [];
  readonly violationMessages: string[] = [];
  violations = 0;
  acknowledgedWrites = 0;
  readonly ledgers = new Map<string, LedgerRecord>();
  readonly registers = new Map<string, RegisterRecord>();
  readonly privateFiles = new Map<string, PrivateRecord>();
  /** Shared files replaced by uploads and appended to by edits (see soak-boards.ts). */
  readonly boards = new Map<string, BoardRecord>();

  count(kind: string): void {
    this.ops.set(kind, (this.ops.get(kind) ?? 0) + 1);
  }

  conflict(kind: string): void {
    this.conflicts.set(kind, (this.conflicts.get(kind) ?? 0) + 1);
  }

  /** An outcome the contract does not allow here (a failure, or an exception). */
  error(kind: string, result: ErrorFields | { thrown: unknown }): void {
    const code = "thrown" in result ? "threw" : (result.code ?? "no code");
    const key = `${kind}: ${code}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    if (this.errorMessages.length < KEPT_MESSAGES) {
      const message = "thrown" in result ? String(result.thrown) : result.error;
      this.errorMessages.push(`${key}: ${message}`);
    }
  }

  /** Data that contradicts the acknowledged history (a wrong read, a listing that lies, a lost write). */
  violation(message: string): void {
    this.violations++;
    if (this.violationMessages.length < KEPT_MESSAGES) this.violationMessages.push(message);
  }

  get errorCount(): number {
    let total = 0;
    for (const n of this.errors.values()) total += n;
    return total;
  }

  get opCount(): number {
    let total = 0;
    for (const n of this.ops.values()) total += n;
    return total;
  }

  get conflictCount(): number {
    let total = 0;
    for (const n of this.conflicts.values()) total += n;
    return total;
  }

  ledger(path: string): LedgerRecord {
    let record = this.ledgers.get(path);
    if (!record) {
      record = { acknowledged: new Set(), refused: new Set(), uncertain: new Set() };
      this.ledgers.set(path, record);
    }
    return record;
  }
}
