import type { BackendProtocol, ErrorFields } from "@deepfs/core";
import { encodeUtf8 } from "@deepfs/core";
import type { SoakLog } from "./soak-log.js";

/**
 * Boards: shared files that agents replace whole with `uploadFiles` while others append to them
 * with `edit` and read them. A board is `U:<upload id>` (the upload that wrote it), the tokens
 * appended since, and `END`. An upload racing an edit must never be silently undone by an edit
 * that read the content from before it, and the audit checks that against wall-clock order:
 * every observation of a board (each read, and the final content) must be explained by a serial
 * order of the acknowledged calls that respects which call finished before which began.
 */

/** Lines a board may hold. */
const BOARD_LINE = /^(U:[\w:-]+|E:a\d+:\d+|END)$/;

/** One call's wall-clock interval (`end` is `Infinity` when its outcome is unknown). */
interface Interval {
  start: number;
  end: number;
}

/** One read of a board: which upload it showed, the tokens after it, and when. */
interface BoardObservation extends Interval {
  upload: string;
  tokens: string[];
}

/** What happened to one board. */
export interface BoardRecord {
  /** Uploads by id, the initial content included (an interval at time 0). */
  uploads: Map<string, Interval>;
  /** Acknowledged edits by token. */
  edits: Map<string, Interval>;
  /** Tokens whose edit answered `conflict`: none may ever be seen. */
  refused: Set<string>;
  /** Tokens whose edit failed otherwise: may or may not have landed. */
  uncertain: Set<string>;
  observations: BoardObservation[];
}

const now = () => performance.now();
const isOk = (result: ErrorFields) => result.error === undefined && result.code === undefined;

/** A board's content as an upload writes it. */
export function boardContent(uploadId: string): string {
  return `${uploadId}\nEND\n`;
}

/** The id of the initial content of board `k`. */
export function initialBoardId(k: number): string {
  return `U:init-${k}`;
}

/** The records of a run's boards, each starting with its initial content. */
export function boardRecords(boards: string[]): Map<string, BoardRecord> {
  return new Map(
    boards.map((path, k) => [
      path,
      {
        uploads: new Map([[initialBoardId(k), { start: 0, end: 0 }]]),
        edits: new Map(),
        refused: new Set(),
        uncertain: new Set(),
        observations: [],
      },
    ]),
  );
}

/** Parses a board's text: its upload id and tokens, or why it is not a board. */
function parseBoard(text: string): { upload: string; tokens: string[] } | string {
  const lines = text.split("\n");
  if (lines.at(-1) !== "" || lines.at(-2) !== "END") return "lost its END line";
  const body = lines.slice(0, -2);
  if (body.some((line) => !BOARD_LINE.test(line))) return "holds foreign lines (torn)";
  const [upload, ...tokens] = body;
  if (!upload?.startsWith("U:") || tokens.some((t) => !t.startsWith("E:"))) return "is not one upload then tokens";
  return { upload, tokens };
}

/** The board operations of an agent: what the workload calls. */
export interface BoardAgent {
  backend: BackendProtocol;
  log: SoakLog;
  tag: string;
  serial(): number;
}

/** Replaces a board whole with `uploadFiles`. */
export async function boardUpload(agent: BoardAgent, path: string, record: BoardRecord): Promise<void> {
  const id = `U:${agent.tag}:${agent.serial()}`;
  const interval = { start: now(), end: Number.POSITIVE_INFINITY };
  record.uploads.set(id, interval);
  const [response] = await agent.backend.uploadFiles([[path, encodeUtf8(boardContent(id))]]);
  if (response?.path === path && response.error === null) {
    interval.end = now();
    agent.log.acknowledgedWrites++;
  } else {
    agent.log.error("board-upload", {
      error: response?.message ?? response?.error ?? "no answer",
      code: response?.code,
    });
  }
}

/** Appends a token to a board through its `END` line. */
export async function boardEdit(agent: BoardAgent, path: string, record: BoardRecord): Promise<void> {
  const token = `E:${agent.tag}:${agent.serial()}`;
  const start = now();
  const result = await agent.backend.edit(path, "END", `${token}\nEND`);
  if (isOk(result)) {
    record.edits.set(token, { start, end: now() });
    agent.log.acknowledgedWrites++;
  } else if (result.code === "conflict") {
    record.refused.add(token);
    agent.log.conflict("board-edit");
  } else {
    record.uncertain.add(token);
    agent.log.error("board-edit", result);
  }
}

/** Reads a board; the audit checks what it showed. */
export async function boardRead(agent: BoardAgent, path: string, record: BoardRecord): Promise<void> {
  const start = now();
  const result = await agent.backend.readRaw(path);
  const end = now();
  if (!isOk(result)) return agent.log.error("board-read", result);
  const text = result.data?.content;
  if (typeof text !== "string") return agent.log.violation(`read of board ${path} gave no text`);
  const parsed = parseBoard(text);
  if (typeof parsed === "string") return agent.log.violation(`read of board ${path}: it ${parsed}`);
  record.observations.push({ start, end, ...parsed });
}

/**
 * Checks every observation of a board, the final content included (observed at `auditStart`).
 * Returns the number of acknowledged writes found undone.
 */
export function auditBoard(
  path: string,
  final: string | null | undefined,
  record: BoardRecord,
  auditStart: number,
  log: SoakLog,
): number {
  const observations = [...record.observations];
  if (typeof final !== "string") {
    log.violation(`board ${path} is gone`);
    return 1;
  }
  const parsed = parseBoard(final);
  if (typeof parsed === "string") {
    log.violation(`board ${path}: it ${parsed}`);
    return 1;
  }
  observations.push({ start: auditStart, end: auditStart, ...parsed });
  // Acknowledged uploads by end time, with the latest start among those ended so far: an
  // observation that began after upload B ended cannot show an upload that ended before B began.
  const acked = [...record.uploads.values()].filter((u) => Number.isFinite(u.end)).sort((a, b) => a.end - b.end);
  const latestStart: number[] = [];
  for (const [i, u] of acked.entries()) latestStart.push(Math.max(u.start, latestStart[i - 1] ?? -1));
  const latestStartBefore = (time: number): number => {
    let lo = 0;
    let hi = acked.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((acked[mid] as Interval).end < time) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? Number.NEGATIVE_INFINITY : (latestStart[lo - 1] as number);
  };
  // Acknowledged edits by start time: the edits an observation must show are a run of this list.
  const edits = [...record.edits].sort((a, b) => a[1].start - b[1].start);
  const firstStartAfter = (time: number): number => {
    let lo = 0;
    let hi = edits.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((edits[mid] as [string, Interval])[1].start <= time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let lost = 0;
  for (const seen of observations) {
    const upload = record.uploads.get(seen.upload);
    if (!upload) {
      log.violation(`board ${path} shows an upload nobody made`);
      continue;
    }
    if (latestStartBefore(seen.start) > upload.end) {
      lost++;
      log.violation(`board ${path}: an acknowledged upload was undone (a later read shows the upload before it)`);
    }
    const present = new Set(seen.tokens);
    if (present.size !== seen.tokens.length) log.violation(`board ${path} holds a token twice`);
    for (const token of seen.tokens) {
      const edit = record.edits.get(token);
      if (record.refused.has(token)) log.violation(`board ${path}: an edit that answered conflict was applied`);
      else if (!edit && !record.uncertain.has(token)) log.violation(`board ${path} holds a token nobody wrote`);
      else if (edit && edit.start > seen.end) log.violation(`board ${path} showed an edit before it began`);
    }
    // An acknowledged edit that began after this upload ended and ended before the read began
    // falls between them in every serial order: its token must be there. Only edits that began
    // in that window can qualify, so the scan costs what the observation holds, not every edit.
    for (let i = firstStartAfter(upload.end); i < edits.length; i++) {
      const [token, edit] = edits[i] as [string, Interval];
      if (edit.start >= seen.start) break;
      if (edit.end < seen.start && !present.has(token)) {
        lost++;
        log.violation(`board ${path}: an acknowledged edit is missing (lost write)`);
      }
    }
  }
  return lost;
}
