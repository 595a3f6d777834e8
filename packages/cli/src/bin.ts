#!/usr/bin/env node
import { run } from "./program.js";

// `deepfs cat big | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const status = await run(process.argv.slice(2), process);
// Every write was awaited; exiting now also ends what a backend left behind (an idle socket, a timer).
process.exit(status);
