import type { Span } from '@opentelemetry/api';
import type { ChannelModel, ConfirmChannel } from 'amqplib';

import {
  EVENT_SCHEMAS,
  JSON_CONTENT_TYPE,
  REQUEST_ID_HEADER,
  validateEvent,
  type DomainEvent,
  type EventType,
} from '@shop/shared-contracts';

import type { ClaimedEvent, OutboxRepository } from '../db/outbox.repository';
import type { SqlTransactionRunner } from '../db/transaction';
import type { EventNotifier } from '../event-notifier';
import type { Logger } from '../logger';
import type { OutboxObserver } from '../metrics';
import { ChannelReopener } from './channel-reopener';
import { endEventPublishSpans, inSpan, startEventPublishSpan } from './publish-spans';
import { notePublishResult, type FlowControl } from './flow-control';

/** How often the relay looks for events nobody told it about, in ms. */
export const DEFAULT_POLL_INTERVAL_MS = 1000;

/** How long a batch waits for the broker's confirms before it counts as failed, in ms. */
export const DEFAULT_CONFIRM_TIMEOUT_MS = 5000;

/** Events claimed, published and marked per transaction. */
export const DEFAULT_BATCH_SIZE = 100;

/**
 * How long each pass of a drain waits before it claims, in ms: the events of writes that commit
 * meanwhile go out in the same batch, so under load a batch's four round trips (begin and claim,
 * confirm, mark, commit) are shared by many events instead of paid by each — also on the passes
 * that follow one another while writes keep coming. Adds at most this much to an event's latency.
 */
const DRAIN_LINGER_MS = 5;

/** How long {@link OutboxRelay.stop} waits for the batch in flight, in ms. */
const DEFAULT_STOP_TIMEOUT_MS = 5000;

/** Longest wait between attempts to reopen a channel lost under a live connection, in ms. */
const MAX_REOPEN_DELAY_MS = 30_000;

export interface OutboxRelayDeps {
  /** Topic exchange the events go to (routing key: the event type); declared on every (re)connect. */
  exchange: string;
  /** The AMQP `appId` of every event: the publishing service's name. */
  appId: string;
  /**
   * The AMQP `userId` of every event: the service's broker user. RabbitMQ refuses a publish whose
   * userId is not the connection's login, so consumers can believe it (unlike `appId`).
   */
  userId: string;
  outbox: OutboxRepository;
  /** Opens the transaction each batch is claimed, published and marked in. */
  withTransaction: SqlTransactionRunner;
  logger: Logger;
  /** Told of every event published, failed or parked; metrics implement it. */
  observer?: OutboxObserver;
  /** How often the outbox is polled for leftovers, in ms. Default {@link DEFAULT_POLL_INTERVAL_MS}. */
  pollIntervalMs?: number;
  /** How long a batch waits for the broker's confirms, in ms. Default {@link DEFAULT_CONFIRM_TIMEOUT_MS}. */
  confirmTimeoutMs?: number;
  /** Events per transaction. Default {@link DEFAULT_BATCH_SIZE}. */
  batchSize?: number;
  /**
   * The connection's flow control. While it is blocked no batch is claimed, a batch already out
   * waits for its confirms past `confirmTimeoutMs`, and the relay drains again the moment it lifts.
   */
  flowControl?: FlowControl;
}

/** Counters since start, for tests. */
export interface OutboxRelayStats {
  /** Events the broker confirmed and the outbox marked published. */
  published: number;
  /** Events whose publish attempt failed; they stayed in the outbox to be tried again. */
  failedAttempts: number;
  /** Events parked because they can never be published. */
  parked: number;
}

/** Whether a claimed row can go out as it is, and if not, why. */
export type EventCheck = { ok: true; event: DomainEvent } | { ok: false; reason: string };

/** A row that passed its check: the event, and the traceparent of the request that recorded it. */
interface PublishableEvent {
  event: DomainEvent;
  traceparent: string | null;
}

/** A row parked in a batch, reported once the batch commits. */
interface ParkedEvent {
  id: string;
  type: string;
  reason: string;
}

/** What one batch got to before it failed, to tell what the failure means. */
interface BatchProgress {
  /** Events handed to the channel. */
  sent: DomainEvent[];
  /** Whether the broker had confirmed them (so only marking them published failed). */
  confirmed: boolean;
  /** The publish span of each event sent, ended once the batch is settled. */
  spans: Span[];
}

class ConfirmTimeoutError extends Error {
  override readonly name = 'ConfirmTimeoutError';
}

/**
 * Publishes the transactional outbox to the service's topic exchange.
 *
 * Services record each event in the transaction of its change and call {@link notify} once it
 * has committed; a timer also polls every `pollIntervalMs` for the rest (rows of a crashed
 * instance, rows written while the broker was away). A drain runs batch after batch, each in
 * one database transaction: claim up to `batchSize` rows (`FOR UPDATE SKIP LOCKED`, so several
 * instances share the work and never publish the same row at once), park the rows that fail
 * their schema, publish the others on a confirm channel, wait for the broker's confirms, mark
 * them published, commit. When publishing fails the transaction rolls back and the rows wait
 * for the next poll or reconnect. Only one drain runs at a time; a notify during it asks for
 * one more pass.
 *
 * Delivery is at least once: a crash or a lost database between the broker's confirm and the
 * commit publishes those events again. Consumers drop an event id (= AMQP `messageId`) they have
 * already handled. No `mandatory` flag: an exchange without a bound queue drops events by
 * design; a consumer that needs every event binds a durable queue of its own.
 */
export class OutboxRelay implements EventNotifier {
  private readonly exchange: string;
  private readonly appId: string;
  private readonly userId: string;
  private readonly outbox: OutboxRepository;
  private readonly withTransaction: SqlTransactionRunner;
  private readonly logger: Logger;
  private readonly observer: OutboxObserver | undefined;
  private readonly pollIntervalMs: number;
  private readonly confirmTimeoutMs: number;
  private readonly batchSize: number;
  private readonly counters: OutboxRelayStats = { published: 0, failedAttempts: 0, parked: 0 };
  private readonly flowControl: FlowControl | undefined;

  private channel: ConfirmChannel | undefined;
  private readonly reopener: ChannelReopener;
  private pollTimer: NodeJS.Timeout | undefined;
  /** The drain in progress; at most one at a time. */
  private draining: Promise<void> | undefined;
  /** Drain requests so far: one that comes while a pass runs asks for one more pass. */
  private drainRequests = 0;
  /** Set by stop(): no more polling, notifies or channels. */
  private stopping = false;

  constructor(deps: OutboxRelayDeps) {
    this.exchange = deps.exchange;
    this.appId = deps.appId;
    this.userId = deps.userId;
    this.outbox = deps.outbox;
    this.withTransaction = deps.withTransaction;
    this.logger = deps.logger.child({ component: 'outbox-relay', exchange: deps.exchange });
    this.observer = deps.observer;
    this.pollIntervalMs = deps.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.confirmTimeoutMs = deps.confirmTimeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS;
    this.batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE;
    this.flowControl = deps.flowControl;
    // What waited while publishing was blocked goes out the moment it is not.
    this.flowControl?.onChange((state) => {
      if (!state.blocked) this.notify();
    });
    this.reopener = new ChannelReopener({
      initialDelayMs: this.pollIntervalMs,
      maxDelayMs: MAX_REOPEN_DELAY_MS,
      reopen: (model) => void this.openChannel(model),
      isOpen: () => this.channel !== undefined,
    });
  }

  get stats(): Readonly<OutboxRelayStats> {
    return { ...this.counters };
  }

  /** Whether events can be published right now (a confirm channel is open). */
  get isReady(): boolean {
    return this.channel !== undefined;
  }

  /** Starts polling the outbox, and drains it once now. */
  start(): void {
    if (this.stopping || this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      this.notify();
    }, this.pollIntervalMs);
    this.pollTimer.unref();
    this.notify();
  }

  /**
   * The broker connection's `setup` part: runs after every (re)connect, opens the confirm
   * channel, declares the exchange (durable topic) and drains what waited meanwhile. It never
   * throws: when the channel cannot be had the relay retries by itself, so an events problem
   * never takes the connection (and the token-validation RPC on it) down.
   */
  readonly setup = async (model: ChannelModel): Promise<void> => {
    if (this.stopping) return;
    this.reopener.connected(model);
    await this.openChannel(model);
  };

  /** Schedules a drain: at once when none runs, else one more pass after the current one. */
  notify(): void {
    if (!this.stopping) this.requestDrain();
  }

  /**
   * Stops polling, drains once more (so what the last requests recorded goes out now rather than
   * at the next start), waits for that up to `timeoutMs`, and closes the channel. Whatever is
   * left in the outbox goes out when an instance runs again.
   */
  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.pollTimer);
    this.reopener.stop();
    this.requestDrain();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.draining,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    // Without a channel a batch still in flight fails and rolls back, and no further one starts.
    const { channel } = this;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  private requestDrain(): void {
    this.drainRequests += 1;
    if (this.draining) return;
    this.draining = this.drainWhileRequested()
      .catch((error: unknown) => {
        this.logger.error({ err: error }, 'outbox drain failed unexpectedly');
      })
      .finally(() => {
        this.draining = undefined;
      });
  }

  private async openChannel(model: ChannelModel): Promise<void> {
    try {
      const channel = await model.createConfirmChannel();
      channel.on('error', (error: Error) => {
        this.logger.warn({ err: error.message }, 'event channel error');
      });
      channel.on('close', () => {
        this.onChannelClosed(channel, model);
      });
      await channel.assertExchange(this.exchange, 'topic', { durable: true });
      if (this.stopping) {
        await channel.close().catch(() => undefined);
        return;
      }
      this.channel = channel;
      this.reopener.opened();
      this.logger.info('ready to publish events');
      this.notify();
    } catch (error) {
      this.logger.warn({ err: describe(error) }, 'could not open the event channel; retrying');
      this.reopener.failed(model);
    }
  }

  private onChannelClosed(channel: ConfirmChannel, model: ChannelModel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    // Events wait in the outbox meanwhile. After a lost connection, setup opens the next channel;
    // a channel lost under a live connection (exchange deleted, confirm timeout) is reopened here.
    this.reopener.failed(model);
  }

  private async drainWhileRequested(): Promise<void> {
    let requestsSeen: number;
    let drained: boolean;
    do {
      await this.linger();
      requestsSeen = this.drainRequests;
      drained = await this.drain();
    } while (drained && this.drainRequests !== requestsSeen);
  }

  private async linger(): Promise<void> {
    if (this.stopping) return;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_LINGER_MS));
  }

  /** Relays batches until one comes back short. False when a batch failed: the next poll retries. */
  private async drain(): Promise<boolean> {
    for (;;) {
      const { channel } = this;
      // Without a channel the events wait in the outbox; the next setup drains them.
      if (!channel) return true;
      // While the broker is not accepting messages a batch would only hold its rows locked and time
      // out (counted as failed attempts); the events wait and go out when it lifts.
      if (this.flowControl?.isBlocked) return true;
      const claimed = await this.relayBatch(channel);
      if (claimed === undefined) return false;
      if (claimed < this.batchSize) return true;
    }
  }

  /**
   * One batch in one transaction: claim, park the rows that fail their schema, publish the
   * rest, wait for the broker's confirms, mark them published, commit. Returns how many rows
   * were claimed, or undefined when the batch failed and rolled back.
   */
  private async relayBatch(channel: ConfirmChannel): Promise<number | undefined> {
    const progress: BatchProgress = { sent: [], confirmed: false, spans: [] };
    try {
      const batch = await this.withTransaction(async (transaction) => {
        const rows = await this.outbox.claimBatch(this.batchSize, transaction);
        const publishable: PublishableEvent[] = [];
        const parked: ParkedEvent[] = [];
        for (const row of rows) {
          const check = checkEvent(row);
          if (check.ok) {
            publishable.push({ event: check.event, traceparent: row.traceparent });
          } else {
            // In this transaction: the row is locked by it, so any other connection would wait.
            await this.outbox.markFailed(row.id, check.reason, { transaction });
            parked.push({ id: row.id, type: row.type, reason: check.reason });
          }
        }
        const events = publishable.map(({ event }) => event);
        if (events.length > 0) {
          progress.sent = events;
          for (const { event, traceparent } of publishable) {
            const span = startEventPublishSpan(this.exchange, event, traceparent);
            progress.spans.push(span);
            inSpan(span, () => {
              this.publish(channel, event);
            });
          }
          await this.confirmed(channel);
          progress.confirmed = true;
          endEventPublishSpans(progress.spans);
          progress.spans = [];
          await this.outbox.markPublished(
            events.map((event) => event.id),
            transaction,
          );
        }
        return { claimed: rows.length, published: events, parked };
      });
      this.reportCommitted(batch.published, batch.parked);
      return batch.claimed;
    } catch (error) {
      endEventPublishSpans(progress.spans, error);
      await this.reportFailed(error, progress);
      return undefined;
    }
  }

  private publish(channel: ConfirmChannel, event: DomainEvent): void {
    // False asks to slow down: waiting for the confirms does that within the batch, and the flow
    // control holds the next batches until the channel drains.
    const accepted = channel.publish(this.exchange, event.type, Buffer.from(JSON.stringify(event)), {
      persistent: true,
      messageId: event.id,
      type: event.type,
      appId: this.appId,
      userId: this.userId,
      contentType: JSON_CONTENT_TYPE,
      // The instant of the change, not of this attempt: a republished event is the same message.
      timestamp: Math.floor(Date.parse(event.occurred_at) / 1000),
      ...(event.request_id === null ? {} : { headers: { [REQUEST_ID_HEADER]: event.request_id } }),
    });
    if (this.flowControl) notePublishResult(this.flowControl, channel, accepted);
  }

  /**
   * Resolves once the broker has confirmed everything published on `channel`; rejects on a nack or
   * timeout. The timeout does not run out while the flow control is blocked: a broker under an
   * alarm confirms what it had read once the alarm clears, and giving up earlier would publish
   * those events a second time after the rollback.
   */
  private async confirmed(channel: ConfirmChannel): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        channel.waitForConfirms(),
        new Promise<never>((_resolve, reject) => {
          const expire = () => {
            if (this.flowControl?.isBlocked && !this.stopping) {
              timer = setTimeout(expire, this.confirmTimeoutMs);
              return;
            }
            reject(new ConfirmTimeoutError(`no publisher confirms within ${this.confirmTimeoutMs} ms`));
          };
          timer = setTimeout(expire, this.confirmTimeoutMs);
        }),
      ]);
    } catch (error) {
      // Confirms that come late would be mistaken for the next batch's: start over on a fresh channel.
      if (error instanceof ConfirmTimeoutError) void channel.close().catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private reportCommitted(published: DomainEvent[], parked: ParkedEvent[]): void {
    for (const event of published) {
      this.counters.published += 1;
      this.observer?.eventPublished(event.type);
    }
    for (const event of parked) {
      this.counters.parked += 1;
      this.observer?.eventParked();
      this.logger.error(
        { event_id: event.id, event_type: event.type, problem: event.reason },
        'outbox event parked: it fails its schema and will never be published',
      );
    }
    if (published.length > 0) this.logger.debug({ events: published.length }, 'published events');
  }

  private async reportFailed(error: unknown, progress: BatchProgress): Promise<void> {
    const reason = describe(error);
    const events = progress.sent.length;
    if (events === 0) {
      this.logger.warn({ err: reason }, 'could not read the outbox; retrying at the next poll');
      return;
    }
    if (progress.confirmed) {
      this.logger.warn(
        { err: reason, events },
        'events published but not marked as such; they will be published again (consumers dedup on the id)',
      );
      return;
    }
    this.counters.failedAttempts += events;
    this.observer?.publishFailed(events);
    this.logger.warn({ err: reason, events }, 'could not publish events; they stay in the outbox and are retried');
    await this.outbox
      .recordAttemptFailure(
        progress.sent.map((event) => event.id),
        reason,
      )
      .catch((recordError: unknown) => {
        this.logger.warn({ err: describe(recordError) }, 'could not record the failed attempt');
      });
  }
}

/**
 * Whether a claimed row can go out as it is: its payload passes its type's schema and carries
 * the row's id (which becomes the AMQP messageId consumers dedup on).
 */
export function checkEvent(row: Omit<ClaimedEvent, 'traceparent'>): EventCheck {
  if (!isEventType(row.type)) return { ok: false, reason: `unknown event type "${row.type}"` };
  const result = validateEvent(row.type, row.payload);
  if (!result.ok) return { ok: false, reason: result.error };
  if (result.value.id !== row.id) return { ok: false, reason: `payload id ${result.value.id} is not the row id` };
  return { ok: true, event: result.value };
}

function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_SCHEMAS, type);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
