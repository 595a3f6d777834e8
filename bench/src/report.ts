/** Writes the results table (Markdown) and the raw medians and samples (JSON). */
import { mkdir, writeFile } from "node:fs/promises";
import type { Row } from "./measure.js";

export interface RunInfo {
  date: string;
  mode: "full" | "quick";
  runs: number;
  warmup: number;
  seed: number;
  only: string[] | null;
  machine: Record<string, string>;
  durationSeconds: number;
}

function formatNumber(value: number | null, unit: Row["unit"]): string {
  if (value === null || !Number.isFinite(value)) return "—";
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${unit}`;
}

function result(row: Row): string {
  if (row.pass === true) return "pass";
  if (row.pass === false) return "**FAIL**";
  if (row.ours === null) return "n/a";
  return "info";
}

/** The Markdown report: run description, table, then numbered notes. */
export function renderMarkdown(info: RunInfo, rows: Row[]): string {
  const lines: string[] = [];
  lines.push(`# deepfs benchmark results (${info.mode})`, "");
  lines.push(
    `${info.date} · ${info.runs} timed runs after ${info.warmup} warm-up, medians · seed ${info.seed}` +
      (info.only ? ` · groups: ${info.only.join(", ")}` : "") +
      ` · took ${Math.round(info.durationSeconds)} s`,
    "",
  );
  lines.push("Machine:", "");
  for (const [key, value] of Object.entries(info.machine)) lines.push(`- ${key}: ${value}`);
  lines.push("", "Ratio = ours / theirs (lower is better). Goals are from issue 10.", "");
  lines.push("| backend | measure | ours | theirs | peer | ratio | goal | result |");
  lines.push("|---|---|---:|---:|---|---:|---|---|");
  const notes: string[] = [];
  for (const row of rows) {
    let measure = row.measure;
    if (row.note) {
      notes.push(row.note);
      measure += ` [${notes.length}]`;
    }
    const ratio = row.ratio === null || !Number.isFinite(row.ratio) ? "—" : `${row.ratio.toFixed(2)}x`;
    lines.push(
      `| ${row.group} | ${measure} | ${formatNumber(row.ours, row.unit)} | ${formatNumber(row.theirs, row.unit)} | ${row.peer} | ${ratio} | ${row.goal || "—"} | ${result(row)} |`,
    );
  }
  if (notes.length > 0) {
    lines.push("", "Notes:", "");
    notes.forEach((note, i) => {
      lines.push(`${i + 1}. ${note}`);
    });
  }
  const goals = rows.filter((r) => r.pass !== null);
  const failed = goals.filter((r) => r.pass === false);
  lines.push(
    "",
    `Goals: ${goals.length - failed.length} of ${goals.length} met` +
      (failed.length ? `; missed: ${failed.map((r) => `${r.group} ${r.measure}`).join("; ")}` : "") +
      ".",
    "",
  );
  return lines.join("\n");
}

/**
 * Writes `latest.md` and `latest.json` into `dir`, and the Markdown also to `published` when given
 * (the committed RESULTS.md, for a full run of every group). Returns the Markdown.
 */
export async function writeReport(dir: URL, info: RunInfo, rows: Row[], published?: URL): Promise<string> {
  await mkdir(dir, { recursive: true });
  const markdown = renderMarkdown(info, rows);
  await writeFile(new URL("latest.md", dir), markdown);
  if (published) await writeFile(published, markdown);
  await writeFile(new URL("latest.json", dir), `${JSON.stringify({ ...info, rows }, null, 2)}\n`);
  return markdown;
}
