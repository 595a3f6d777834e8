/**
 * {@link ForwardingDriver}: a driver that forwards every call to another driver. It is the base of
 * every layer (version history kept elsewhere, permissions, quotas, audit, telemetry): a layer
 * subclasses it, overrides the calls it cares about and inherits the rest, so a layer over a store
 * keeps the store's native search, batches, lock keys, history and shell exactly as they are.
 *
 * The optional calls exist on the layer only when the base has them (the facade and the router read
 * their presence as capabilities); a layer that must see each file of a batch, say, drops the
 * batch call with `omit`.
 */
import type { DriverHistory } from "../history/history-types.js";
import type { CallContext, Driver, DriverEntry, ReadCall, WriteCall } from "./driver.js";

/** The optional calls of a {@link Driver} a layer may forward or drop. */
export type OptionalDriverCall =
  | "grep"
  | "glob"
  | "writeBatch"
  | "readBatch"
  | "lockKey"
  | "refuses"
  | "history"
  | "execute";

const OPTIONAL_CALLS: readonly OptionalDriverCall[] = [
  "grep",
  "glob",
  "writeBatch",
  "readBatch",
  "lockKey",
  "refuses",
  "history",
  "execute",
];

/** Options of a {@link ForwardingDriver}. */
export interface ForwardingOptions {
  /** Optional calls of the base the layer does not forward (the facade then does without them). */
  omit?: readonly OptionalDriverCall[];
}

/**
 * A driver that forwards every call to `base`; subclass it and override what a layer changes.
 * A subclass must not redeclare the optional calls as class fields (`grep?: ...`): a field without
 * an initialiser resets the forwarded call to undefined. Assign them in the constructor instead.
 */
export class ForwardingDriver<B extends Driver = Driver> implements Driver {
  readonly capabilities: Driver["capabilities"];
  /** The driver this layer is over. */
  protected readonly base: B;

  grep?: Driver["grep"];
  glob?: Driver["glob"];
  writeBatch?: Driver["writeBatch"];
  readBatch?: Driver["readBatch"];
  lockKey?: Driver["lockKey"];
  refuses?: Driver["refuses"];
  readonly history?: DriverHistory;
  execute?: Driver["execute"];

  constructor(base: B, options: ForwardingOptions = {}) {
    this.base = base;
    this.capabilities = { ...base.capabilities };
    const omitted = new Set(options.omit ?? []);
    const self = this as unknown as Record<OptionalDriverCall, unknown>;
    const from = base as unknown as Record<OptionalDriverCall, unknown>;
    for (const name of OPTIONAL_CALLS) {
      const value = from[name];
      if (value === undefined || omitted.has(name)) continue;
      // Calls are bound to the base; `history` is an object and is forwarded as it is.
      self[name] = typeof value === "function" ? value.bind(base) : value;
    }
  }

  stat(path: string, call: CallContext): ReturnType<Driver["stat"]> {
    return this.base.stat(path, call);
  }

  read(path: string, call: ReadCall): ReturnType<Driver["read"]> {
    return this.base.read(path, call);
  }

  write(path: string, content: string | Uint8Array, call: WriteCall): ReturnType<Driver["write"]> {
    return this.base.write(path, content, call);
  }

  list(dir: string, call: CallContext): ReturnType<Driver["list"]> {
    return this.base.list(dir, call);
  }

  walk(dir: string, call: CallContext): AsyncIterable<DriverEntry> {
    return this.base.walk(dir, call);
  }

  remove(path: string, call: CallContext): ReturnType<Driver["remove"]> {
    return this.base.remove(path, call);
  }
}
