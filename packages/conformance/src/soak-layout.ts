import { comparePaths } from "@deepfs/core";
import { boardContent, initialBoardId } from "./soak-boards.js";

/** The soak's tree: shared ledgers, registers and boards, and each agent's private files. */

/** Shared append-only files all agents edit; a new generation every 1/GENERATIONS of the run bounds their size. */
export const LEDGER_SLOTS = 4;
export const GENERATIONS = 12;
/** Shared files every agent compare-and-swaps. */
export const REGISTERS = 4;
/** Shared files agents replace whole with uploads while others edit and read them. */
export const BOARDS = 4;
/** Files each agent alone writes, reads and deletes. */
export const PRIVATE_FILES = 3;

/** Lines a ledger may hold: its frame and the tokens agents appended. */
export const LEDGER_LINE = /^(BEGIN|END|L:a\d+:\d+)$/;

/** Where the soak's files live under the subject's root. */
export interface SoakLayout {
  root: string;
  ledgerDir: string;
  /** `ledgers[slot][generation]`. */
  ledgers: string[][];
  /** Every ledger path, sorted. */
  allLedgers: string[];
  registers: string[];
  boards: string[];
  agentDir(agent: number): string;
  privatePath(agent: number, file: number): string;
  /** Every private path any agent may use, agent by agent. */
  allPrivate: string[];
}

/** The tree of a soak with `agents` agents under `root`. */
export function soakLayout(root: string, agents: number): SoakLayout {
  const at = (path: string) => (root === "/" ? path : `${root}${path}`);
  const ledgers = Array.from({ length: LEDGER_SLOTS }, (_, slot) =>
    Array.from({ length: GENERATIONS }, (_, gen) => at(`/ledger/l${slot}-g${String(gen).padStart(2, "0")}.txt`)),
  );
  const agentDir = (agent: number) => at(`/agents/${agentTag(agent)}`);
  const privatePath = (agent: number, file: number) => `${agentDir(agent)}/p${file}.txt`;
  return {
    root,
    ledgerDir: at("/ledger"),
    ledgers,
    allLedgers: ledgers.flat().sort(comparePaths),
    registers: Array.from({ length: REGISTERS }, (_, k) => at(`/register/r${k}.txt`)),
    boards: Array.from({ length: BOARDS }, (_, k) => at(`/board/b${k}.txt`)),
    agentDir,
    privatePath,
    allPrivate: Array.from({ length: agents }, (_, a) =>
      Array.from({ length: PRIVATE_FILES }, (_, f) => privatePath(a, f)),
    ).flat(),
  };
}

/** `a007`: an agent's name in tokens and paths. */
export function agentTag(agent: number): string {
  return `a${String(agent).padStart(3, "0")}`;
}

/** The initial tree: empty ledgers (`BEGIN`/`END`), registers and boards holding their initial value. */
export function initialTree(layout: SoakLayout): Array<[string, string]> {
  return [
    ...layout.allLedgers.map((path) => [path, "BEGIN\nEND\n"] as [string, string]),
    ...layout.registers.map((path, k) => [path, `reg-init-${k}`] as [string, string]),
    ...layout.boards.map((path, k) => [path, boardContent(initialBoardId(k))] as [string, string]),
  ];
}
