/**
 * `withQuota(backend, { maxBytes, maxFiles, maxFileSize })`: storage limits for any backend. A
 * write, edit, upload or restore that would exceed a limit answers `too_large` saying which limit
 * and the usage (numbers only), and changes nothing.
 */
import { isBackend } from "../composite-mounts.js";
import { memberDriver } from "../composite-protocol-driver.js";
import { DeepfsError } from "../errors.js";
import { isFault } from "../kit/driver.js";
import { DriverBackend } from "../kit/facade.js";
import { failureOf } from "../kit/messages.js";
import type { BackendCapabilities, BackendProtocol, ErrorFields } from "../protocol.js";
import { QuotaDriver, type QuotaLimits, type QuotaUsage } from "./quota-driver.js";

/** What {@link QuotaBackend.usage} answers: the usage, or why it could not be counted. */
export interface UsageResult extends ErrorFields, Partial<QuotaUsage> {}

const LIMITS = ["maxBytes", "maxFiles", "maxFileSize"] as const;

/**
 * A backend with storage limits (see {@link withQuota}).
 *
 * - Usage is counted by one walk of the store on first use, then kept incrementally: a write adds
 *   its size (an overwrite the difference), a delete releases what it removed.
 * - Each write reserves its growth before it starts, so concurrent writers never exceed a limit
 *   together; a failed write releases its reservation.
 * - Only changes made through this backend are counted: another process or a direct change to
 *   the base shifts the count until the next process starts.
 * - `execute` is not offered: a shell could write around the limits.
 */
export class QuotaBackend extends DriverBackend<QuotaDriver> {
  override readonly capabilities: BackendCapabilities;
  /** The backend whose usage is limited. */
  readonly base: BackendProtocol;

  constructor(backend: BackendProtocol, limits: QuotaLimits) {
    if (!isBackend(backend)) {
      throw new DeepfsError("invalid_argument", "withQuota needs a backend (an object with backend methods)");
    }
    if (typeof limits !== "object" || limits === null) {
      throw new DeepfsError("invalid_argument", "withQuota needs limits: { maxBytes?, maxFiles?, maxFileSize? }");
    }
    for (const name of LIMITS) {
      const value = limits[name];
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
        throw new DeepfsError("invalid_argument", `withQuota: ${name} must be a whole number >= 0`);
      }
    }
    const kept: QuotaLimits = {};
    for (const name of LIMITS) if (limits[name] !== undefined) kept[name] = limits[name];
    super(new QuotaDriver(memberDriver(backend), Object.freeze(kept)));
    this.base = backend;
    const caps = backend.capabilities ?? {};
    this.capabilities = {
      execute: false,
      nativeGrep: caps.nativeGrep === true,
      conditionalWrites: caps.conditionalWrites === true,
      realDirectories: caps.realDirectories === true,
      readOnly: caps.readOnly === true,
    };
  }

  /** The limits, as given. */
  get limits(): Readonly<QuotaLimits> {
    return this.driver.limits;
  }

  /** Bytes and files stored: counted once on first use, then kept as changes are made. */
  async usage(): Promise<UsageResult> {
    const found = await this.driver.usage();
    return isFault(found) ? failureOf("stat", "/", found) : found;
  }
}

/** `backend` with storage limits (see {@link QuotaBackend}). */
export function withQuota(backend: BackendProtocol, limits: QuotaLimits): QuotaBackend {
  return new QuotaBackend(backend, limits);
}
