import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';

import { EVENT_TYPES, authEventSchema, decodeMessage, type AuthEvent } from '@shop/shared-contracts';

import type { HealthCheck } from '../health';
import type { Logger } from '../logger';
import type { AuthEventsObserver } from '../metrics';
import { ChannelReopener } from './channel-reopener';
import { RecentEventIds } from './recent-event-ids';

/** Unacknowledged events the broker may push at once. */
const PREFETCH = 100;

/** The AMQP reply code of a passive declare of something that does not exist. */
const NOT_FOUND = 404;

/** Event ids remembered to drop redeliveries. */
const DEDUP_WINDOW = 10_000;

/** First and longest wait before reopening a channel lost under a live connection, in ms. */
const FIRST_REOPEN_DELAY_MS = 200;
const MAX_REOPEN_DELAY_MS = 10_000;

/** The routing keys bound: the events that make a cached token check wrong. */
const BOUND_EVENT_TYPES = [EVENT_TYPES.tokenRevoked, EVENT_TYPES.userDeactivated] as const;

/**
 * What the events keep honest: a service's cache of token checks. Each service keys its cache
 * its own way, so it decides what an event evicts.
 */
export interface AuthEventsCache {
  /** Shown in logs (`token-subject cache`). */
  readonly name: string;
  /** Evicts what `event` made wrong; returns how many entries went. */
  evict(event: AuthEvent): number;
  /** Empties the cache; returns how many entries went. */
  flush(): number;
}

export interface AuthEventsSubscriberDeps {
  /** Topic exchange user-service publishes auth events on (`AUTH_EVENTS_EXCHANGE`). */
  exchange: string;
  /**
   * Whether this service owns the exchange (user-service) and so declares it. Any other service
   * only checks that it exists, and waits for its owner while it does not: it needs no configure
   * permission on it, and cannot redefine it.
   */
  ownsExchange: boolean;
  /**
   * The broker user auth events must come from (`USER_SERVICE_BROKER_USER`): a message whose AMQP
   * `userId` (checked by RabbitMQ against the publisher's login) is another is a forgery, dropped.
   */
  expectedSender: string;
  /**
   * This instance's own queue (`<service>.auth-events.<host>.<pid>`). Every instance must see
   * every event, so each has its queue; it is exclusive and auto-deleted, so it vanishes with
   * the connection.
   */
  queue: string;
  /** The cache the events evict from. */
  cache: AuthEventsCache;
  logger: Logger;
  /** Told of every event received, duplicate and malformed message; metrics implement it. */
  observer?: AuthEventsObserver;
}

/** Counters since start, for tests and health. */
export interface AuthEventsStats {
  /** Schema-valid events received, duplicates included. */
  received: number;
  /** Events applied to the cache (received minus duplicates). */
  applied: number;
  /** Cache entries those events removed. */
  evictions: number;
  /** Events dropped because their id had already been handled. */
  duplicates: number;
  /** Messages dropped because they were not auth events. */
  malformed: number;
  /** Messages dropped because their `userId` was not user-service's broker user. */
  unverifiedSenders: number;
  /** Flushes of the whole cache, one per (re)connect. */
  flushes: number;
}

/**
 * Keeps an instance's cache of token checks honest: consumes the `auth.token_revoked` and
 * `user.deactivated` events that any instance of user-service publishes and has the cache evict
 * what they made wrong, so that a logout is refused everywhere within milliseconds instead of
 * after the cache's TTL. Duplicates (delivery is at least once) are dropped by event id; a
 * message that is not an auth event is dropped and counted, never requeued.
 *
 * While no event can arrive (broker down, channel lost) the cache keeps answering for what it
 * holds until its TTL. When consuming starts again — after a reconnect, or after a channel lost
 * under a live connection is reopened — the whole cache is flushed, since events may have been
 * missed meanwhile. A lost channel is reopened on its own: it never closes the connection,
 * whose other users (the token-validation RPC and the calls waiting on it) carry on.
 */
export class AuthEventsSubscriber {
  /** The exchange consumed. */
  readonly exchange: string;
  /** This instance's queue. */
  readonly queue: string;
  private readonly ownsExchange: boolean;
  private readonly expectedSender: string;
  private readonly cache: AuthEventsCache;
  private readonly logger: Logger;
  private readonly observer: AuthEventsObserver | undefined;
  private readonly seen = new RecentEventIds(DEDUP_WINDOW);
  private readonly counters: AuthEventsStats = {
    received: 0,
    applied: 0,
    evictions: 0,
    duplicates: 0,
    malformed: 0,
    unverifiedSenders: 0,
    flushes: 0,
  };
  private channel: Channel | undefined;
  /** Set while the exchange (another service's) does not exist: health says so, the log once. */
  private exchangeMissing = false;
  private readonly reopener: ChannelReopener;
  private closed = false;

  constructor(deps: AuthEventsSubscriberDeps) {
    this.exchange = deps.exchange;
    this.queue = deps.queue;
    this.ownsExchange = deps.ownsExchange;
    this.expectedSender = deps.expectedSender;
    this.cache = deps.cache;
    this.logger = deps.logger.child({ component: 'auth-events', exchange: deps.exchange, queue: deps.queue });
    this.observer = deps.observer;
    this.reopener = new ChannelReopener({
      initialDelayMs: FIRST_REOPEN_DELAY_MS,
      maxDelayMs: MAX_REOPEN_DELAY_MS,
      reopen: (model) => {
        this.consume(model).catch((error: unknown) => {
          this.logger.warn({ err: describe(error) }, 'could not reopen the auth-events channel; retrying');
          this.reopener.failed(model);
        });
      },
      isOpen: () => this.channel !== undefined,
    });
  }

  /**
   * The broker connection's `setup`: runs after every (re)connect. A failure fails the setup,
   * and the connection is retried.
   */
  readonly setup = async (model: ChannelModel): Promise<void> => {
    if (this.closed) return;
    this.reopener.connected(model);
    await this.consume(model);
  };

  /**
   * Opens a channel, declares the exchange when this service owns it (user-service's relay
   * declares it too; either may run first) or else checks that it exists, declares this
   * instance's queue and its bindings, consumes, and only then flushes the cache: the queue did
   * not exist (or was not consumed) meanwhile, so the cache may hold checks whose revocations
   * were missed; from now on none can be. An exchange not declared yet by its owner is no
   * failure of the connection: it is checked again with backoff until it exists.
   */
  private async consume(model: ChannelModel): Promise<void> {
    if (!this.ownsExchange && !(await this.exchangeExists(model))) {
      if (!this.exchangeMissing) {
        this.exchangeMissing = true;
        this.logger.warn(
          'the auth-events exchange does not exist yet: waiting for user-service (its owner) to declare it; ' +
            'revocations reach this instance only after its cache TTL meanwhile',
        );
      }
      this.reopener.failed(model);
      return;
    }
    const channel = await model.createChannel();
    channel.on('error', (error: Error) => {
      this.logger.warn({ err: error.message }, 'auth-events channel error');
    });
    channel.on('close', () => {
      this.onChannelClosed(channel, model);
    });
    if (this.ownsExchange) await channel.assertExchange(this.exchange, 'topic', { durable: true });
    // A fixed name (host and pid) tells the management UI whose queue it is. Should the broker
    // still hold the previous connection (half-open), the exclusive declare fails and recovery
    // retries with backoff until the broker has dropped it.
    await channel.assertQueue(this.queue, { exclusive: true, autoDelete: true, durable: false });
    for (const type of BOUND_EVENT_TYPES) await channel.bindQueue(this.queue, this.exchange, type);
    await channel.prefetch(PREFETCH);
    await channel.consume(
      this.queue,
      (message) => {
        this.onMessage(channel, message);
      },
      { noAck: false },
    );
    // close() may have run while the channel was opening.
    if (this.closed) {
      await channel.close();
      return;
    }
    this.channel = channel;
    this.exchangeMissing = false;
    this.reopener.opened();
    const flushed = this.cache.flush();
    this.counters.flushes += 1;
    this.logger.info({ flushed }, `consuming auth events; ${this.cache.name} flushed`);
  }

  /**
   * Whether the exchange exists, by a passive declare on a channel of its own: a failed one
   * (404) closes the channel it ran on. Other failures (the connection going) are thrown.
   */
  private async exchangeExists(model: ChannelModel): Promise<boolean> {
    const probeChannel = await model.createChannel();
    probeChannel.on('error', () => undefined);
    try {
      await probeChannel.checkExchange(this.exchange);
    } catch (error) {
      if ((error as { code?: unknown }).code === NOT_FOUND) return false;
      throw error;
    }
    await probeChannel.close().catch(() => undefined);
    return true;
  }

  /** Whether the queue is being consumed right now. */
  get isConsuming(): boolean {
    return this.channel !== undefined;
  }

  /** A copy of the counters since start. */
  get stats(): Readonly<AuthEventsStats> {
    return { ...this.counters };
  }

  /** `GET /health`'s probe: up while revocations made through other instances reach the cache. */
  healthCheck(): HealthCheck {
    return {
      name: 'auth_events',
      critical: false,
      check: () =>
        Promise.resolve(
          this.channel
            ? { status: 'up' as const, exchange: this.exchange, queue: this.queue }
            : {
                status: 'down' as const,
                exchange: this.exchange,
                error: this.exchangeMissing
                  ? `exchange ${this.exchange} does not exist yet: waiting for user-service, its owner, to declare it`
                  : 'not consuming auth events',
              },
        ),
    };
  }

  /** Stops consuming; the queue goes with the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.reopener.stop();
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  private onMessage(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (the queue was deleted): events no longer arrive.
      this.logger.warn('auth-events consumer cancelled by the broker; reopening the channel');
      void channel.close().catch(() => undefined);
      return;
    }
    this.handle(message);
    // Ack after handling; a message is never requeued, a poison one included.
    channel.ack(message);
  }

  private handle(message: ConsumeMessage): void {
    const sender = (message.properties as { userId?: unknown }).userId;
    if (sender !== this.expectedSender) {
      // Anyone with write on the default exchange can put a message into this queue; only
      // user-service's login can publish one whose userId is user-service's broker user.
      this.counters.unverifiedSenders += 1;
      this.observer?.unverifiedSender();
      this.logger.warn(
        { routing_key: message.fields.routingKey, message_id: messageIdOf(message), user_id: sender },
        'dropped an auth event not published by user-service (AMQP userId is not its broker user)',
      );
      return;
    }
    const decoded = decodeMessage(authEventSchema, message.content);
    if (!decoded.ok) {
      this.counters.malformed += 1;
      this.observer?.malformed();
      this.logger.warn(
        { routing_key: message.fields.routingKey, message_id: messageIdOf(message), problem: decoded.error },
        'dropped a message that is not an auth event',
      );
      return;
    }
    const event = decoded.value;
    this.counters.received += 1;
    this.observer?.received(event.type);
    if (!this.seen.add(event.id)) {
      this.counters.duplicates += 1;
      this.observer?.duplicate();
      this.logger.debug({ event_id: event.id, type: event.type }, 'dropped a duplicate auth event');
      return;
    }
    const evicted = this.cache.evict(event);
    this.counters.applied += 1;
    this.counters.evictions += evicted;
    this.logger.debug(
      { event_id: event.id, type: event.type, user_id: event.data.user_id, request_id: event.request_id, evicted },
      'applied auth event',
    );
  }

  private onChannelClosed(channel: Channel, model: ChannelModel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    if (this.closed) return;
    // After a lost connection, setup opens the next channel; under a live one it is reopened here.
    this.logger.warn('auth-events channel closed; reopening it');
    this.reopener.failed(model);
  }
}

function messageIdOf(message: ConsumeMessage): unknown {
  return (message.properties as { messageId?: unknown }).messageId;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
