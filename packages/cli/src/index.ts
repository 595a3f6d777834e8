export { type CopyFailure, type CopyOptions, type CopyReport, copy } from "./commands/cp.js";
export { CliError } from "./errors.js";
export type { Streams } from "./output.js";
export { run } from "./program.js";
export { type GlobalOptions, Session, type SessionOptions, type Target, type Task } from "./session.js";
export { VERSION } from "./version.js";
