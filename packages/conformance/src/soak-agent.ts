import type { BackendProtocol, ErrorFields } from "@deepfs/core";
import { comparePaths } from "@deepfs/core";
import { createRandom } from "./fixtures.js";
import { agentTag, GENERATIONS, PRIVATE_FILES, type SoakLayout } from "./soak-layout.js";
import type { SoakLog } from "./soak-log.js";

/** One simulated agent of the soak, and what all of them share. */

/** What every agent shares. */
export interface SoakRun {
  backend: BackendProtocol;
  layout: SoakLayout;
  log: SoakLog;
  /** Distinguishes this run's private tokens from any other run's. */
  runTag: string;
  seed: number;
  start: number;
  deadline: number;
  /** The backend honours `ifMatch` (the register operations need it). */
  conditionalWrites: boolean;
}

export type Operation = (agent: Agent) => Promise<void>;

/** Relative frequencies: writes to overlapping files dominate, reads and searches check along the way. */
const MIX: Array<[string, number]> = [
  ["ledger-edit", 22],
  ["register-cas", 16],
  ["board-upload", 6],
  ["board-edit", 6],
  ["board-read", 4],
  ["private-write", 12],
  ["private-read", 10],
  ["private-edit", 6],
  ["private-delete", 4],
  ["private-ls", 4],
  ["private-glob", 3],
  ["private-grep", 3],
  ["shared-read", 10],
  ["shared-ls", 3],
  ["shared-glob", 3],
  ["shared-grep", 2],
  ["tree-grep", 2],
];

export const isOk = (result: ErrorFields) => result.error === undefined && result.code === undefined;

/** One simulated agent: a loop of operations, back to back, until the deadline. */
export class Agent {
  readonly tag: string;
  /** The line each of this agent's private files starts with, and what its greps look for. */
  readonly secret: string;
  private sequence = 0;
  readonly next: () => number;

  constructor(
    readonly run: SoakRun,
    readonly index: number,
  ) {
    this.tag = agentTag(index);
    this.secret = `priv#${this.tag}#${run.runTag}`;
    this.next = createRandom(run.seed + index * 7919);
  }

  get backend(): BackendProtocol {
    return this.run.backend;
  }

  get log(): SoakLog {
    return this.run.log;
  }

  serial(): number {
    return this.sequence++;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  privatePath(file: number): string {
    return this.run.layout.privatePath(this.index, file);
  }

  /** This agent's files that exist now (or may: an uncertain file counts as existing only if it was last seen so). */
  existingPrivate(): { sure: string[]; unsure: Set<string> } {
    const sure: string[] = [];
    const unsure = new Set<string>();
    for (let f = 0; f < PRIVATE_FILES; f++) {
      const path = this.privatePath(f);
      const record = this.log.privateFiles.get(path);
      if (record && !record.certain) unsure.add(path);
      else if (record?.content != null) sure.push(path);
    }
    return { sure: sure.sort(comparePaths), unsure };
  }

  /** Checks a listing of this agent's files: exactly the existing ones (uncertain ones either way). */
  checkOwnListing(what: string, listed: string[]): void {
    const { sure, unsure } = this.existingPrivate();
    const seen = listed.filter((p) => !unsure.has(p));
    if (seen.join("\n") !== sure.join("\n")) {
      this.log.violation(`${this.tag} ${what}: listed [${seen.join(", ")}], expected [${sure.join(", ")}]`);
    }
  }

  async loop(operations: Record<string, Operation>): Promise<void> {
    const total = MIX.reduce((sum, [kind, weight]) => sum + (this.applies(kind) ? weight : 0), 0);
    while (Date.now() < this.run.deadline) {
      let roll = this.next() * total;
      let kind = MIX[0]?.[0] as string;
      for (const [candidate, weight] of MIX) {
        if (!this.applies(candidate)) continue;
        roll -= weight;
        if (roll < 0) {
          kind = candidate;
          break;
        }
      }
      this.log.count(kind);
      try {
        await (operations[kind] as Operation)(this);
      } catch (thrown) {
        this.log.error(kind, { thrown });
      }
      // Lets timers and I/O run between operations of a backend that answers synchronously.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private applies(kind: string): boolean {
    return kind !== "register-cas" || this.run.conditionalWrites;
  }

  /** The ledger generation of this moment of the run. */
  generation(): number {
    const { start, deadline } = this.run;
    return Math.min(GENERATIONS - 1, Math.floor(((Date.now() - start) / (deadline - start)) * GENERATIONS));
  }
}

/** A private mutation whose outcome is unknown: the audit must accept either version. */
export function markUncertain(agent: Agent, path: string): void {
  const record = agent.log.privateFiles.get(path) ?? { content: null, certain: false };
  record.certain = false;
  agent.log.privateFiles.set(path, record);
}
