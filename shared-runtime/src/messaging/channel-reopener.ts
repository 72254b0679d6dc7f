import type { ChannelModel } from 'amqplib';

export interface ChannelReopenerOptions {
  /** The first wait before reopening, in ms; it doubles after each failed try. */
  initialDelayMs: number;
  /** The longest wait between tries, in ms. */
  maxDelayMs: number;
  /** Opens the component's channel on `model` again; calls {@link ChannelReopener.opened} or {@link ChannelReopener.failed}. */
  reopen: (model: ChannelModel) => void;
  /** Whether the component has a channel open now: nothing to reopen then. */
  isOpen: () => boolean;
}

/**
 * Reopens a component's channel that closed while its connection stayed up (a queue or an
 * exchange deleted, a consumer cancelled, a confirm timeout), with doubling backoff. Recovery of
 * the connection only re-runs a component's setup after the connection itself was lost, so
 * without this such a channel would stay closed; closing the whole connection instead would
 * take every other component on it down too (the token-validation RPC and its pending calls).
 * A channel lost with its connection is left to the connection's setup.
 */
export class ChannelReopener {
  /** The live connection, while there is one: a channel lost under it is reopened on it. */
  private connection: ChannelModel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private stopped = false;

  constructor(private readonly options: ChannelReopenerOptions) {
    this.delayMs = options.initialDelayMs;
  }

  /** To call from the component's setup: `model` is the live connection until it closes. */
  connected(model: ChannelModel): void {
    this.connection = model;
    model.once('close', () => {
      if (this.connection === model) this.connection = undefined;
    });
  }

  /** The channel is open again: the next loss starts over from the first delay. */
  opened(): void {
    this.cancel();
    this.delayMs = this.options.initialDelayMs;
  }

  /** The channel closed or could not be opened on `model`: try again after the current delay. */
  failed(model: ChannelModel): void {
    if (this.stopped) return;
    this.cancel();
    const delay = this.delayMs;
    this.delayMs = Math.min(delay * 2, this.options.maxDelayMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped || this.options.isOpen() || this.connection !== model) return;
      this.options.reopen(model);
    }, delay);
    this.timer.unref();
  }

  /** No more reopening: the component is closing. */
  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
