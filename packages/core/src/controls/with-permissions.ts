/**
 * `withPermissions(backend, { rules, onAsk })`: ordered allow / deny / ask rules for any backend,
 * enforced below the facade's validation, so they match the canonical path and never what the
 * caller wrote (`/./secret`, `//secret`, `/secret/../secret` are refused or made canonical first).
 */
import { EXECUTE_UNSUPPORTED } from "../composite-backend.js";
import { isBackend } from "../composite-mounts.js";
import { memberDriver } from "../composite-protocol-driver.js";
import { DeepfsError } from "../errors.js";
import { DriverBackend } from "../kit/facade.js";
import {
  type BackendCapabilities,
  type BackendProtocol,
  type ExecuteOptions,
  type ExecuteResponse,
  isSandboxBackend,
  type SandboxBackendProtocol,
} from "../protocol.js";
import { PermissionDriver, refusedExecution } from "./permission-driver.js";
import { type PermissionOptions, PermissionPolicy } from "./permission-rules.js";

/**
 * A backend whose every call is checked against ordered rules first (see {@link withPermissions}).
 *
 * - Operations: `read` (read, readRaw, downloadFiles, ls, glob, grep, history, readVersion),
 *   `write` (write, edit, uploadFiles, restore), `delete` (delete), `execute` (execute). An edit
 *   also needs `read` (its answer tells whether the text occurs); a restore reads the version.
 * - First match wins; no match: `defaultAction` (default `allow`). A refused call answers
 *   `permission_denied` naming the rule's index, and the store is not touched.
 * - `ask` awaits `onAsk({ operation, path })`; without a callback, or when it throws, it refuses.
 * - Listings and searches (ls, glob, grep, a snapshot's changes) never ask and never fail for a
 *   rule: they leave out every file whose reading is not allowed outright, and every directory
 *   when reading an arbitrary name directly inside it is not (`deny /secret/**` hides `/secret/`).
 * - A recursive delete is refused when a rule refuses deleting any file below the target.
 * - `deny` and `ask` patterns match case-insensitively (so `/SECRET/x` cannot bypass
 *   `deny /secret/**` on a case-insensitive store); `allow` patterns match exactly.
 * - `execute` has no path: a rule that names it applies whatever its `paths`. A shell can reach
 *   any file, so deny it (`{ action: "deny", operations: ["execute"], paths: ["**"] }`) wherever
 *   other rules must hold.
 */
export class PermissionBackend extends DriverBackend<PermissionDriver> implements SandboxBackendProtocol {
  override readonly capabilities: BackendCapabilities;
  /** The backend the rules protect. */
  readonly base: BackendProtocol;

  constructor(backend: BackendProtocol, options: PermissionOptions) {
    if (!isBackend(backend)) {
      throw new DeepfsError("invalid_argument", "withPermissions needs a backend (an object with backend methods)");
    }
    const policy = new PermissionPolicy(options);
    super(new PermissionDriver(memberDriver(backend), policy));
    this.base = backend;
    const sandbox = isSandboxBackend(backend);
    if (sandbox) Object.defineProperty(this, "id", { get: () => backend.id, enumerable: true });
    const caps = backend.capabilities ?? {};
    this.capabilities = {
      execute: sandbox,
      nativeGrep: caps.nativeGrep === true,
      conditionalWrites: caps.conditionalWrites === true,
      realDirectories: caps.realDirectories === true,
      readOnly: caps.readOnly === true,
    };
  }

  /** The base sandbox's id; defined only when the base is a sandbox. */
  declare readonly id: string;

  /** Runs `command` on the base sandbox when the rules allow `execute`. */
  async execute(command: string, options?: ExecuteOptions): Promise<ExecuteResponse> {
    const backend = this.base;
    if (!isSandboxBackend(backend)) return { ...EXECUTE_UNSUPPORTED };
    const refused = await this.driver.policy.check("execute", "/", command);
    if (refused) return refusedExecution(refused);
    return backend.execute(command, options);
  }
}

/** `backend` behind ordered permission rules (see {@link PermissionBackend}). */
export function withPermissions(backend: BackendProtocol, options: PermissionOptions): PermissionBackend {
  return new PermissionBackend(backend, options);
}
