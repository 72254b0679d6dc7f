import type { DependencyStatus, HealthCheck } from '../health';

/**
 * Why publishing is held back right now: the broker blocked the connection (`connection.blocked`,
 * a memory or disk alarm; `reason` is the broker's text), or this process's write buffer to the
 * broker is full (a channel's `publish` returned false, until its `drain`).
 */
export type FlowBlock = { cause: 'broker'; reason: string } | { cause: 'write_buffer'; reason: string };

/** Publishing's state as the RPC client, the outbox relay, /health and /metrics read it. */
export type FlowState = { blocked: false } | { blocked: true; cause: FlowBlock['cause']; reason: string; since: Date };

/** The reason reported while only the write buffer holds publishing back. */
export const WRITE_BUFFER_REASON = 'the client write buffer to RabbitMQ is full';

/** Told of every change of {@link FlowControl}'s state; the service's logger and metrics listen. */
export type FlowListener = (state: FlowState, previous: FlowState) => void;

/**
 * Whether this process may publish to RabbitMQ right now. Two independent holds, either of which
 * blocks: the broker's (set by `connection.blocked`, lifted by `connection.unblocked` or by the loss
 * of the connection, since a new connection starts unblocked and the broker blocks it again if
 * the alarm still holds) and the write buffers' (set when a publish on a channel returns false,
 * lifted on that channel's `drain` or close). The broker's reason wins when both hold: it is the
 * one an operator acts on.
 *
 * Pure state: no timers, no I/O. The clock is a parameter so tests can fix it.
 */
export class FlowControl {
  private brokerReason: string | undefined;
  /** Channels whose write buffer is full, until each drains or closes. */
  private readonly fullChannels = new Set<object>();
  private current: FlowState = { blocked: false };
  private readonly listeners: FlowListener[] = [];

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** The state now. */
  get state(): FlowState {
    return this.current;
  }

  /** True while anything holds publishing back. */
  get isBlocked(): boolean {
    return this.current.blocked;
  }

  /** Calls `listener` after every change, with the new and the previous state. */
  onChange(listener: FlowListener): void {
    this.listeners.push(listener);
  }

  /** The broker sent `connection.blocked` with `reason` (e.g. "low on memory"). */
  brokerBlocked(reason: string): void {
    this.brokerReason = reason.length > 0 ? reason : 'blocked by the broker';
    this.update();
  }

  /** The broker sent `connection.unblocked`, or the connection it had blocked is gone. */
  brokerUnblocked(): void {
    this.brokerReason = undefined;
    this.update();
  }

  /** Whether `channel`'s write buffer is marked full. */
  isWriteBufferFull(channel: object): boolean {
    return this.fullChannels.has(channel);
  }

  /** A publish on `channel` returned false: its write buffer is full. */
  writeBufferFilled(channel: object): void {
    this.fullChannels.add(channel);
    this.update();
  }

  /** `channel`'s buffer drained (`drain`) or the channel closed. */
  writeBufferDrained(channel: object): void {
    this.fullChannels.delete(channel);
    this.update();
  }

  /** The connection is gone (or new): its channels and their buffers went with it. */
  connectionReset(): void {
    this.brokerReason = undefined;
    this.fullChannels.clear();
    this.update();
  }

  /** What /health says of the broker while publishing is held back; undefined when it is not. */
  healthStatus(): DependencyStatus | undefined {
    const state = this.current;
    if (!state.blocked) return undefined;
    return { status: 'blocked', cause: state.cause, reason: state.reason, since: state.since.toISOString() };
  }

  private update(): void {
    const block = this.block();
    const previous = this.current;
    if (!block) {
      if (!previous.blocked) return;
      this.current = { blocked: false };
    } else {
      if (previous.blocked && previous.cause === block.cause && previous.reason === block.reason) return;
      // A block that only changes its cause keeps its start: publishing has been held since then.
      const since = previous.blocked ? previous.since : this.now();
      this.current = { blocked: true, cause: block.cause, reason: block.reason, since };
    }
    for (const listener of this.listeners) listener(this.current, previous);
  }

  private block(): FlowBlock | undefined {
    if (this.brokerReason !== undefined) return { cause: 'broker', reason: this.brokerReason };
    if (this.fullChannels.size > 0) return { cause: 'write_buffer', reason: WRITE_BUFFER_REASON };
    return undefined;
  }
}

/** The events of a (recovering) amqplib connection that {@link watchConnectionFlow} listens to. */
export interface FlowEvents {
  on(event: 'blocked', listener: (reason: string) => void): unknown;
  on(event: 'unblocked' | 'connect', listener: () => void): unknown;
  on(event: 'disconnect', listener: (error: Error) => void): unknown;
}

/**
 * Feeds a connection's `blocked`/`unblocked` into `flow`. A lost connection lifts both holds (its
 * buffer went with it; a new connection is blocked again by the broker if the alarm still holds),
 * and so does a fresh connect, in case the loss was never reported.
 */
export function watchConnectionFlow(connection: FlowEvents, flow: FlowControl): void {
  connection.on('blocked', (reason: string) => {
    flow.brokerBlocked(reason);
  });
  connection.on('unblocked', () => {
    flow.brokerUnblocked();
  });
  connection.on('disconnect', () => {
    flow.connectionReset();
  });
  connection.on('connect', () => {
    flow.connectionReset();
  });
}

/** A channel whose publishes can fill its write buffer: it emits `drain` once the buffer empties. */
export interface DrainingChannel {
  once(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Records a publish's result: `false` (the channel's write buffer is full) holds publishing back
 * until the channel emits `drain` (or closes). The publish itself was taken and goes out; only
 * further ones wait.
 */
export function notePublishResult(flow: FlowControl, channel: DrainingChannel, accepted: boolean): void {
  if (accepted || flow.isWriteBufferFull(channel)) return;
  flow.writeBufferFilled(channel);
  const drained = () => {
    flow.writeBufferDrained(channel);
  };
  channel.once('drain', drained);
  channel.once('close', drained);
}

/**
 * `check` that reports the broker `blocked` (with the broker's reason) while `flow` is blocked,
 * without probing: a blocked connection is not read by the broker, so a probe would only hang
 * until its deadline. Readiness counts `blocked` like `down` for a non-critical dependency:
 * the instance is `degraded`, still serving reads and cached writes.
 */
export function withFlowControl(check: HealthCheck, flow: FlowControl): HealthCheck {
  return {
    name: check.name,
    critical: check.critical,
    check: async () => flow.healthStatus() ?? check.check(),
  };
}
