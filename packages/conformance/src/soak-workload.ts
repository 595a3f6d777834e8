import { Agent, isOk, markUncertain, type Operation, type SoakRun } from "./soak-agent.js";
import { type BoardRecord, boardEdit, boardRead, boardRecords, boardUpload } from "./soak-boards.js";
import { GENERATIONS, LEDGER_LINE, LEDGER_SLOTS, PRIVATE_FILES, REGISTERS } from "./soak-layout.js";
import type { RegisterRecord } from "./soak-log.js";

export type { SoakRun } from "./soak-agent.js";
export { initialTree, type SoakLayout, soakLayout } from "./soak-layout.js";

/** The soak's operations: what each kind of call does and what it checks on the spot. */
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
  await Promise.all(Array.from({ length: agents }, (_, i) => new Agent(run, i).loop(OPERATIONS)));
}
