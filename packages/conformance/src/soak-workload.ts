import type { BackendProtocol, ErrorFields } from "@deepfs/core";
import { comparePaths } from "@deepfs/core";
import { createRandom } from "./fixtures.js";
import {
  type BoardRecord,
  boardContent,
  boardEdit,
  boardRead,
  boardRecords,
  boardUpload,
  initialBoardId,
} from "./soak-boards.js";
import type { RegisterRecord, SoakLog } from "./soak-log.js";

/** Shared append-only files all agents edit; a new generation every 1/GENERATIONS of the run bounds their size. */
const LEDGER_SLOTS = 4;
const GENERATIONS = 12;
/** Shared files every agent compare-and-swaps. */
const REGISTERS = 4;
/** Shared files agents replace whole with uploads while others edit and read them. */
const BOARDS = 4;
/** Files each agent alone writes, reads and deletes. */
const PRIVATE_FILES = 3;

/** Lines a ledger may hold: its frame and the tokens agents appended. */
const LEDGER_LINE = /^(BEGIN|END|L:a\d+:\d+)$/;

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
function agentTag(agent: number): string {
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

type Operation = (agent: Agent) => Promise<void>;

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

const isOk = (result: ErrorFields) => result.error === undefined && result.code === undefined;

/** One simulated agent: a loop of operations, back to back, until the deadline. */
class Agent {
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

  async loop(): Promise<void> {
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
        await (OPERATIONS[kind] as Operation)(this);
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
function markUncertain(agent: Agent, path: string): void {
  const record = agent.log.privateFiles.get(path) ?? { content: null, certain: false };
  record.certain = false;
  agent.log.privateFiles.set(path, record);
}

const OPERATIONS: Record<string, Operation> = {
  /** Appends a unique token to a shared ledger through its `END` line. */
  async "ledger-edit"(agent) {
    const path = agent.run.layout.ledgers[Math.floor(agent.next() * LEDGER_SLOTS)]?.[agent.generation()] as string;
    const token = `L:${agent.tag}:${agent.serial()}`;
    const record = agent.log.ledger(path);
    const result = await agent.backend.edit(path, "END", `${token}\nEND`);
    if (isOk(result)) {
      record.acknowledged.add(token);
      agent.log.acknowledgedWrites++;
      if (result.occurrences !== 1) agent.log.violation(`edit of ${path} reported ${result.occurrences} occurrences`);
    } else if (result.code === "conflict") {
      record.refused.add(token);
      agent.log.conflict("ledger-edit");
    } else {
      record.uncertain.add(token);
      agent.log.error("ledger-edit", result);
    }
  },

  /** Replaces a shared board whole with an upload, racing the edits of other agents. */
  async "board-upload"(agent) {
    const path = agent.pick(agent.run.layout.boards);
    await boardUpload(agent, path, agent.log.boards.get(path) as BoardRecord);
  },

  /** Appends a token to a shared board, racing uploads that replace it. */
  async "board-edit"(agent) {
    const path = agent.pick(agent.run.layout.boards);
    await boardEdit(agent, path, agent.log.boards.get(path) as BoardRecord);
  },

  /** Reads a shared board; the audit checks that no acknowledged upload or edit was undone. */
  async "board-read"(agent) {
    const path = agent.pick(agent.run.layout.boards);
    await boardRead(agent, path, agent.log.boards.get(path) as BoardRecord);
  },

  /** Reads a shared register and writes a new value only if it is still the version read. */
  async "register-cas"(agent) {
    const k = Math.floor(agent.next() * REGISTERS);
    const path = agent.run.layout.registers[k] as string;
    const record = agent.log.registers.get(path) as RegisterRecord;
    const read = await agent.backend.read(path);
    if (!isOk(read)) return agent.log.error("register-cas", read);
    const current = read.content;
    if (typeof current !== "string" || read.etag === undefined) {
      return agent.log.violation(`read of ${path} gave no text or no etag`);
    }
    record.observed.add(current);
    const value = `R:${agent.tag}:${agent.serial()}`;
    const written = await agent.backend.write(path, value, { ifMatch: read.etag });
    if (isOk(written)) {
      record.acknowledged.push([current, value]);
      agent.log.acknowledgedWrites++;
    } else if (written.code === "conflict") {
      record.refused.add(value);
      agent.log.conflict("register-cas");
    } else {
      record.uncertain.add(value);
      agent.log.error("register-cas", written);
    }
  },

  /** Creates or overwrites one of the agent's files. */
  async "private-write"(agent) {
    const path = agent.privatePath(Math.floor(agent.next() * PRIVATE_FILES));
    const content = `${agent.secret}\nv${agent.serial()}\n`;
    const result = await agent.backend.write(path, content);
    if (isOk(result)) {
      agent.log.privateFiles.set(path, { content, certain: true });
      agent.log.acknowledgedWrites++;
      if (result.path !== path) agent.log.violation(`write of ${path} answered path ${result.path}`);
    } else {
      markUncertain(agent, path);
      agent.log.error("private-write", result);
    }
  },

  /** Reads one of the agent's files: its last acknowledged content, or file_not_found. */
  async "private-read"(agent) {
    const path = agent.privatePath(Math.floor(agent.next() * PRIVATE_FILES));
    const record = agent.log.privateFiles.get(path);
    const result = await agent.backend.read(path);
    if (record && !record.certain) return;
    const expected = record?.content ?? null;
    if (expected === null) {
      if (result.code !== "file_not_found") {
        if (isOk(result)) agent.log.violation(`read of deleted/absent ${path} returned content`);
        else agent.log.error("private-read", result);
      }
      return;
    }
    if (!isOk(result)) return agent.log.error("private-read", result);
    if (result.content !== expected.slice(0, -1)) {
      agent.log.violation(`read of ${path} returned a value that is not its last acknowledged write`);
    }
  },

  /** Replaces the version line of one of the agent's files (file_not_found when it has none). */
  async "private-edit"(agent) {
    const path = agent.privatePath(Math.floor(agent.next() * PRIVATE_FILES));
    const record = agent.log.privateFiles.get(path);
    if (record && !record.certain) return;
    const current = record?.content ?? null;
    const old = current === null ? "\nv0\n" : (/\nv\d+\n$/.exec(current)?.[0] as string);
    const replacement = `\nv${agent.serial()}\n`;
    const result = await agent.backend.edit(path, old, replacement);
    if (current === null) {
      if (result.code !== "file_not_found") {
        if (isOk(result)) agent.log.violation(`edit of absent ${path} succeeded`);
        else agent.log.error("private-edit", result);
      }
      return;
    }
    if (isOk(result)) {
      agent.log.privateFiles.set(path, { content: current.replace(old, replacement), certain: true });
      agent.log.acknowledgedWrites++;
    } else {
      markUncertain(agent, path);
      agent.log.error("private-edit", result);
    }
  },

  /** Deletes one of the agent's files that exists. */
  async "private-delete"(agent) {
    const { sure } = agent.existingPrivate();
    if (sure.length === 0) return;
    const path = agent.pick(sure);
    const result = await agent.backend.delete(path);
    if (isOk(result)) {
      agent.log.privateFiles.set(path, { content: null, certain: true });
      agent.log.acknowledgedWrites++;
    } else {
      markUncertain(agent, path);
      agent.log.error("private-delete", result);
    }
  },

  /** Lists the agent's directory: exactly its existing files. */
  async "private-ls"(agent) {
    const result = await agent.backend.ls(agent.run.layout.agentDir(agent.index));
    if (!isOk(result)) return agent.log.error("private-ls", result);
    agent.checkOwnListing(
      "ls",
      (result.files ?? []).filter((f) => !f.is_dir).map((f) => f.path),
    );
  },

  /** Globs the agent's directory: exactly its existing files. */
  async "private-glob"(agent) {
    const result = await agent.backend.glob("*.txt", agent.run.layout.agentDir(agent.index));
    if (!isOk(result)) return agent.log.error("private-glob", result);
    agent.checkOwnListing(
      "glob",
      (result.files ?? []).map((f) => f.path),
    );
  },

  /** Greps the agent's directory for its secret: line 1 of each existing file. */
  async "private-grep"(agent) {
    const result = await agent.backend.grep(agent.secret, agent.run.layout.agentDir(agent.index));
    if (!isOk(result)) return agent.log.error("private-grep", result);
    checkSecretMatches(agent, "grep", result.matches ?? []);
  },

  /** Greps the whole tree, ledgers and other agents included, for this agent's secret. */
  async "tree-grep"(agent) {
    const result = await agent.backend.grep(agent.secret, agent.run.layout.root);
    if (!isOk(result)) return agent.log.error("tree-grep", result);
    checkSecretMatches(agent, "tree grep", result.matches ?? []);
  },

  /** Reads a window of a shared ledger: only ledger lines, however concurrent edits interleave. */
  async "shared-read"(agent) {
    const path = agent.run.layout.ledgers[Math.floor(agent.next() * LEDGER_SLOTS)]?.[agent.generation()] as string;
    const result = await agent.backend.read(path, Math.floor(agent.next() * 40), 20);
    if (!isOk(result)) return agent.log.error("shared-read", result);
    if (typeof result.content !== "string") return agent.log.violation(`read of ${path} returned no text`);
    const bad = result.content === "" ? [] : result.content.split("\n").filter((line) => !LEDGER_LINE.test(line));
    if (bad.length > 0) agent.log.violation(`torn read: read window of ${path} holds ${bad.length} foreign line(s)`);
    // Every ledger holds at least BEGIN and END: an empty file is one caught mid-write.
    if ((result.totalLines ?? 0) === 0) agent.log.violation(`torn read: read of ${path} found it empty`);
  },

  /** Lists the ledger directory: exactly the ledgers. */
  async "shared-ls"(agent) {
    const result = await agent.backend.ls(agent.run.layout.ledgerDir);
    if (!isOk(result)) return agent.log.error("shared-ls", result);
    const listed = (result.files ?? []).map((f) => f.path);
    if (listed.join("\n") !== agent.run.layout.allLedgers.join("\n")) {
      agent.log.violation(
        `ls of the ledgers listed ${listed.length} entries, not the ${LEDGER_SLOTS * GENERATIONS} ledgers`,
      );
    }
  },

  /** Globs the whole tree: every shared file, and of this agent's directory exactly its files. */
  async "shared-glob"(agent) {
    const { layout } = agent.run;
    const result = await agent.backend.glob("**/*.txt", layout.root);
    if (!isOk(result)) return agent.log.error("shared-glob", result);
    const listed = (result.files ?? []).map((f) => f.path);
    const found = new Set(listed);
    const missing = [...layout.allLedgers, ...layout.registers, ...layout.boards].filter((p) => !found.has(p));
    if (missing.length > 0) agent.log.violation(`glob of the tree missed ${missing.length} shared file(s)`);
    const own = `${layout.agentDir(agent.index)}/`;
    agent.checkOwnListing(
      "tree glob",
      listed.filter((p) => p.startsWith(own)),
    );
  },

  /** Greps the ledgers for their first line: one match per ledger, line 1. */
  async "shared-grep"(agent) {
    const { layout } = agent.run;
    const result = await agent.backend.grep("BEGIN", layout.ledgerDir);
    if (!isOk(result)) return agent.log.error("shared-grep", result);
    const matches = result.matches ?? [];
    const paths = matches.map((m) => m.path).join("\n");
    if (paths !== layout.allLedgers.join("\n") || matches.some((m) => m.line !== 1 || m.text !== "BEGIN")) {
      agent.log.violation(
        `torn read: grep BEGIN in the ledgers gave ${matches.length} matches, not one per ledger at line 1`,
      );
    }
  },
};

/** Grep results for an agent's secret: exactly its existing files, each at line 1. */
function checkSecretMatches(agent: Agent, what: string, matches: Array<{ path: string; line: number; text: string }>) {
  if (matches.some((m) => m.line !== 1 || m.text !== agent.secret)) {
    agent.log.violation(`${agent.tag} ${what} matched something other than line 1 of its own files`);
  }
  agent.checkOwnListing(
    what,
    matches.map((m) => m.path),
  );
}

/** Runs `agents` agents against the backend until the run's deadline. */
export async function runAgents(run: SoakRun, agents: number): Promise<void> {
  for (const [path, record] of boardRecords(run.layout.boards)) run.log.boards.set(path, record);
  for (const [k, path] of run.layout.registers.entries()) {
    run.log.registers.set(path, {
      initial: `reg-init-${k}`,
      acknowledged: [],
      refused: new Set(),
      uncertain: new Set(),
      observed: new Set(),
    });
  }
  await Promise.all(Array.from({ length: agents }, (_, i) => new Agent(run, i).loop()));
}
