import { SingleBar } from "cli-progress";
import { formatBytes, type Output } from "./output.js";

/** What a transfer tells of its advance. */
export interface Progress {
  start(totalFiles: number, totalBytes: number): void;
  /** Files done (copied or failed) and bytes copied so far. */
  update(files: number, bytes: number): void;
  stop(): void;
}

/** A terminal stream (`isTTY` is set by Node on a TTY; a test may set it on any stream). */
export function isTerminal(stream: unknown): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/**
 * A progress bar (cli-progress) on stderr for cp and sync: files, bytes, rate and ETA. Only when
 * stdout and stderr are both terminals, without --json and unless turned off (`--no-progress`):
 * output piped to a file or another program never carries escape codes.
 */
export function progressBar(out: Output, enabled: boolean): Progress | undefined {
  const { stdout, stderr } = out.streams;
  if (!enabled || out.json || !isTerminal(stdout) || !isTerminal(stderr)) return undefined;
  const bar = new SingleBar({
    stream: stderr as NodeJS.WriteStream,
    format: "{bar} {percentage}% | {files}/{totalFiles} files | {done}/{size} | {rate} | ETA {eta_formatted}",
    barsize: 24,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
    fps: 10,
  });
  let started = 0;
  let totalFiles = 0;
  let size = 0;
  const payload = (files: number, bytes: number) => {
    const seconds = (performance.now() - started) / 1000;
    return {
      files,
      totalFiles,
      done: formatBytes(bytes),
      size: formatBytes(size),
      rate: `${formatBytes(seconds > 0 ? Math.round(bytes / seconds) : 0)}/s`,
    };
  };
  return {
    start(files, bytes) {
      started = performance.now();
      totalFiles = files;
      size = bytes;
      // Bytes measure the work when there are any; a tree of empty files is measured in files.
      bar.start(size > 0 ? size : Math.max(files, 1), 0, payload(0, 0));
    },
    update(files, bytes) {
      bar.update(size > 0 ? bytes : files, payload(files, bytes));
    },
    stop() {
      bar.stop();
    },
  };
}
