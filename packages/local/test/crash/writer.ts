// The child of the crash test: writes and deletes with history on until it is killed, printing
// each acknowledged change (stdout to a pipe is synchronous on Linux: a printed line was acknowledged).
import { LocalBackend } from "../../src/index.js";

const rootDir = process.argv[2] as string;
const backend = new LocalBackend({ rootDir, history: true });
let next = 0;

async function worker(id: number): Promise<void> {
  for (;;) {
    const n = next++;
    const path = `/d${n % 3}/f${n % 8}.txt`;
    if (n % 7 === 3) {
      const removed = await backend.delete(path);
      if (removed.error === undefined) process.stdout.write(`D ${path}\n`);
      continue;
    }
    const written = await backend.write(path, `process ${process.pid} worker ${id} change ${n}\n`.repeat(1 + (n % 40)));
    if (written.error === undefined) process.stdout.write(`W ${path} ${written.etag}\n`);
  }
}

for (let id = 0; id < 4; id++) void worker(id);
