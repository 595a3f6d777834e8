import { ChannelFailure, type ChannelReply, type ShellChannel } from "./channel.js";

// Channels that could not be opened in a row before the pool stops trying.
const MAX_FAILED_OPENS = 3;

/**
 * Up to `size` {@link ShellChannel}s of one container, opened on demand, one more at a time while
 * requests wait (opening one costs an exec, about as much as a few requests). Requests queue in
 * arrival order for the first free channel.
 */
export class ChannelPool {
  private readonly channels = new Set<ShellChannel>();
  private readonly idle: ShellChannel[] = [];
  private readonly waiting: Array<(channel: ShellChannel | undefined) => void> = [];
  private opening = false;
  private failedOpens = 0;
  /** Set when channels cannot be had (closed, or the image cannot host one): every request gets undefined. */
  private disabled = false;

  constructor(
    private readonly open: () => Promise<ShellChannel>,
    private readonly size: number,
  ) {}

  /**
   * Runs `command` on a channel, fed `input`, its answer (stdout and stderr) at most
   * `maxReplyBytes`. Undefined when no channel could run it (none can be opened, or it failed under
   * the request, its processes killed, or it answered more than that): the caller must do the work
   * another way.
   */
  async run(command: string, input: Buffer, maxReplyBytes: number): Promise<ChannelReply | undefined> {
    const channel = await this.acquire();
    if (!channel) return undefined;
    try {
      return await channel.run(command, input, maxReplyBytes);
    } catch (error) {
      if (error instanceof ChannelFailure) return undefined;
      throw error;
    } finally {
      this.release(channel);
    }
  }

  /** Closes every channel; requests waiting or in flight get undefined, and so do later ones. */
  close(): void {
    this.disabled = true;
    for (const channel of this.channels) channel.close();
    this.channels.clear();
    this.idle.length = 0;
    this.flush();
  }

  private acquire(): Promise<ShellChannel | undefined> {
    if (this.disabled) return Promise.resolve(undefined);
    for (let channel = this.idle.pop(); channel; channel = this.idle.pop()) {
      // A channel may die while idle (its shell killed by a command of the user's).
      if (!channel.dead) return Promise.resolve(channel);
      this.channels.delete(channel);
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.grow();
    });
  }

  private release(channel: ShellChannel): void {
    if (channel.dead || this.disabled) {
      this.channels.delete(channel);
      // A replacement for requests that were waiting for this one.
      this.grow();
      return;
    }
    const next = this.waiting.shift();
    if (next) next(channel);
    else this.idle.push(channel);
  }

  /** Opens one more channel when requests wait and there is room. */
  private grow(): void {
    if (this.opening || this.disabled || this.waiting.length === 0 || this.channels.size >= this.size) return;
    this.opening = true;
    this.open().then(
      (channel) => {
        this.opening = false;
        if (this.disabled) {
          channel.close();
          return;
        }
        this.failedOpens = 0;
        this.channels.add(channel);
        this.release(channel);
        this.grow();
      },
      (error: unknown) => {
        this.opening = false;
        if ((error instanceof ChannelFailure && error.unsupported) || ++this.failedOpens >= MAX_FAILED_OPENS) {
          this.disabled = true;
        }
        // With no channel to wait for, waiting requests go their own way; else they wait for one.
        if (this.disabled || this.channels.size === 0) this.flush();
      },
    );
  }

  private flush(): void {
    for (const waiter of this.waiting.splice(0)) waiter(undefined);
  }
}
