import type { BackendProtocol, PermissionAsk } from "@deepfs/core";
import {
  type BackendSpec,
  configSecrets,
  type DeepfsConfig,
  loadConfigFile,
  maskUrl,
  type OpenedBackend,
  openConfig,
  openSpec,
  parseBackendUrl,
  parseLocation,
  schemeOf,
  secretsOf,
} from "@deepfs/url";
import { CliError, toCliError } from "./errors.js";
import type { Output } from "./output.js";

/** Options every command takes. */
export interface GlobalOptions {
  json?: boolean;
  config?: string;
  verbose?: boolean;
}

/** A command's work once its arguments are parsed: the exit status. */
export type Task = (session: Session, out: Output) => Promise<number>;

/** How a program embedding the CLI changes where backends come from. */
export interface SessionOptions {
  /**
   * Opens the backend of a parsed URL (default: @deepfs/url's `openSpec`). A program (or a test)
   * can hand out backends it keeps between runs, e.g. one `memory:?history=1` for several commands.
   */
  openSpec?: (spec: BackendSpec) => Promise<OpenedBackend>;
  /**
   * Approves the calls an `ask` rule of the config's `permissions` covers. Default: a yes/no
   * question on the terminal when stdin and stderr are one (never for `deepfs mcp` over stdio,
   * whose stdin is the protocol); without a terminal, `ask` refuses.
   */
  onAsk?: PermissionAsk;
}

/** A backend and a path inside it. */
export interface Target {
  backend: BackendProtocol;
  path: string;
  /** Printable (masked) description of the backend. */
  label: string;
}

/**
 * The backends one command opens, shared by operands naming the same backend, and closed at the end.
 *
 * Operands are split by `parseLocation` of @deepfs/url. With `--config`, an operand without a
 * scheme is a path in the config's composite (it must start with `/`); URLs still name their own backend.
 */
export class Session {
  /** Passwords seen in operands and the config, masked in every line printed. */
  readonly secrets: string[] = [];
  private readonly opened = new Map<string, Promise<OpenedBackend>>();
  private config: Promise<{ config: DeepfsConfig; baseDir: string }> | undefined;

  private readonly openSpec: (spec: BackendSpec) => Promise<OpenedBackend>;
  private readonly onAsk: PermissionAsk | undefined;

  constructor(
    readonly options: GlobalOptions,
    private readonly log: (line: string) => void,
    sessionOptions: SessionOptions = {},
  ) {
    this.openSpec = sessionOptions.openSpec ?? openSpec;
    this.onAsk = sessionOptions.onAsk;
  }

  /** The backend and path an operand names, opening the backend on first use. Errors name the operand (masked). */
  async target(operand: string): Promise<Target> {
    this.secrets.push(...secretsOf(operand));
    try {
      return await this.resolve(operand);
    } catch (error) {
      const failure = toCliError(error);
      if (failure.path !== undefined) throw failure;
      throw new CliError(failure.code, failure.message, { path: maskUrl(operand), cause: error });
    }
  }

  private async resolve(operand: string): Promise<Target> {
    if (this.options.config !== undefined && schemeOf(operand) === undefined) {
      if (!operand.startsWith("/")) {
        throw new CliError("invalid_path", "with --config, paths are absolute paths of the composite", {
          path: operand,
          hint: "write /project/src/a.ts, or a file:// URL for a local path",
        });
      }
      const opened = await this.composite();
      return { backend: opened.backend, path: operand, label: opened.label };
    }
    const location = parseLocation(operand);
    const opened = await this.open(location.url, () => this.openSpec(location.spec));
    return { backend: opened.backend, path: location.path, label: opened.label };
  }

  /** The composite of `--config`. */
  private composite(): Promise<OpenedBackend> {
    return this.open("config:", async () => {
      this.config ??= loadConfigFile(this.options.config as string);
      const { config, baseDir } = await this.config;
      this.secrets.push(...configSecrets(config));
      return openConfig(config, this.onAsk ? { cwd: baseDir, onAsk: this.onAsk } : { cwd: baseDir });
    });
  }

  /**
   * A whole backend, named by a backend URL (`./workspace` is a LocalBackend rooted there, not a path
   * on `/`), or the composite of `--config` when `url` is undefined. For commands serving a store.
   */
  async backend(url: string | undefined): Promise<OpenedBackend> {
    if (url === undefined) {
      if (this.options.config === undefined) {
        throw new CliError("invalid_argument", "name a backend URL or pass --config FILE", {
          hint: "e.g. 'deepfs mcp ./workspace' or 'deepfs --config deepfs.config.json mcp'",
        });
      }
      return this.composite();
    }
    this.secrets.push(...secretsOf(url));
    try {
      return await this.open(url, async () => this.openSpec(parseBackendUrl(url)));
    } catch (error) {
      const failure = toCliError(error);
      throw new CliError(failure.code, failure.message, { path: maskUrl(url), cause: error });
    }
  }

  private async open(key: string, opener: () => Promise<OpenedBackend>): Promise<OpenedBackend> {
    let pending = this.opened.get(key);
    if (pending === undefined) {
      pending = opener();
      this.opened.set(key, pending);
      pending.then(
        (opened) => this.options.verbose && this.log(`deepfs: opened ${opened.label}`),
        () => {},
      );
    }
    return pending;
  }

  /** Closes every backend opened (pools, sockets, containers, embedded databases). */
  async close(): Promise<void> {
    const all = [...this.opened.values()];
    this.opened.clear();
    await Promise.allSettled(all.map(async (pending) => (await pending).close()));
  }
}
