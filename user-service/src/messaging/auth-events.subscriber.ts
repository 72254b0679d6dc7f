import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';

import { EVENT_TYPES, authEventSchema, decodeMessage, type AuthEvent } from '@shop/shared-contracts';

import type { HealthCheck } from '../health';
import type { Logger } from '../logger';
import type { AuthEventsObserver } from '../metrics';
import type { TokenSubjectCache } from '../services/token-subject-cache';
import { RecentEventIds } from './recent-event-ids';

/** Unacknowledged events the broker may push at once. */
const PREFETCH = 100;

/** Event ids remembered to drop redeliveries. */
const DEDUP_WINDOW = 10_000;

/** The routing keys bound: the events that make cached token subjects wrong. */
const BOUND_EVENT_TYPES = [EVENT_TYPES.tokenRevoked, EVENT_TYPES.userDeactivated] as const;

export interface AuthEventsSubscriberDeps {
  /** Topic exchange this service's outbox relay publishes auth events on (`AUTH_EVENTS_EXCHANGE`). */
  exchange: string;
  /**
   * This instance's own queue (`user-service.auth-events.<host>.<pid>` in main.ts). Every
   * instance must see every event, so each has its queue; it is exclusive and auto-deleted, so
   * it vanishes with the connection.
   */
  queue: string;
  /** The cache the events evict from. */
  cache: Pick<TokenSubjectCache, 'evictToken' | 'evictUser' | 'flush'>;
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
  /** Flushes of the whole cache, one per (re)connect. */
  flushes: number;
}

/**
 * Keeps every instance's token-subject cache honest: consumes the `auth.token_revoked` and
 * `user.deactivated` events that any instance of user-service publishes (this one included) and
 * evicts the revoked token, or every token of the deactivated user, so that a logout through one
 * instance is refused by all of them within milliseconds instead of after the cache TTL. The
 * instance that made the change has already evicted it locally; its own event finds nothing.
 *
 * While the broker is down no event can arrive, and the cache keeps answering for the subjects
 * it holds, until their TTL (`TOKEN_SUBJECT_CACHE_TTL_MS`, 5 s by default). A revocation or
 * deactivation made meanwhile through this instance is evicted locally at once; one made through
 * another instance is honoured when the connection comes back — {@link setup} then flushes the
 * whole cache — or when the entry's TTL runs out, whichever comes first. The TTL is therefore the
 * bound on how long another instance's logout can be missed; set it to 0 where that is too long.
 */
export class AuthEventsSubscriber {
  /** The exchange consumed. */
  readonly exchange: string;
  /** This instance's queue. */
  readonly queue: string;
  private readonly cache: Pick<TokenSubjectCache, 'evictToken' | 'evictUser' | 'flush'>;
  private readonly logger: Logger;
  private readonly observer: AuthEventsObserver | undefined;
  private readonly seen = new RecentEventIds(DEDUP_WINDOW);
  private readonly counters: AuthEventsStats = {
    received: 0,
    applied: 0,
    evictions: 0,
    duplicates: 0,
    malformed: 0,
    flushes: 0,
  };
  private channel: Channel | undefined;
  private closed = false;

  constructor(deps: AuthEventsSubscriberDeps) {
    this.exchange = deps.exchange;
    this.queue = deps.queue;
    this.cache = deps.cache;
    this.logger = deps.logger.child({ component: 'auth-events', exchange: deps.exchange, queue: deps.queue });
    this.observer = deps.observer;
  }

  /**
   * The broker connection's `setup`: runs after every (re)connect. Declares the exchange (the
   * relay declares it too; either may run first), this instance's queue and its bindings,
   * consumes, and only then flushes the cache: the queue did not exist while the connection was
   * down, so the cache may hold subjects whose revocations were missed; from now on none can be.
   */
  readonly setup = async (model: ChannelModel): Promise<void> => {
    const channel = await model.createChannel();
    channel.on('error', (error: Error) => {
      this.logger.warn({ err: error.message }, 'auth-events channel error');
    });
    channel.on('close', () => {
      this.onChannelClosed(channel, model);
    });
    await channel.assertExchange(this.exchange, 'topic', { durable: true });
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
    const flushed = this.cache.flush();
    this.counters.flushes += 1;
    this.logger.info({ flushed }, 'consuming auth events; token-subject cache flushed');
  };

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
      check: () =>
        Promise.resolve(
          this.channel
            ? { status: 'up' as const, exchange: this.exchange, queue: this.queue }
            : { status: 'down' as const, exchange: this.exchange, error: 'not consuming auth events' },
        ),
    };
  }

  /** Stops consuming; the queue goes with the connection. */
  async close(): Promise<void> {
    this.closed = true;
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
    const evicted = this.apply(event);
    this.counters.applied += 1;
    this.counters.evictions += evicted;
    this.logger.debug(
      { event_id: event.id, type: event.type, user_id: event.data.user_id, request_id: event.request_id, evicted },
      'applied auth event',
    );
  }

  /** Evicts what the event made wrong; returns how many entries went. */
  private apply(event: AuthEvent): number {
    switch (event.type) {
      case EVENT_TYPES.tokenRevoked:
        // This service keys its cache by jti: exactly the revoked token goes, the user's others stay.
        return this.cache.evictToken(event.data.jti);
      case EVENT_TYPES.userDeactivated:
        return this.cache.evictUser(event.data.user_id);
    }
  }

  private onChannelClosed(channel: Channel, model: ChannelModel): void {
    if (this.channel === channel) this.channel = undefined;
    if (this.closed) return;
    // When only the channel died, the connection is still up and recovery would never run
    // setup again: closing the connection makes it reconnect, redeclare and flush.
    this.logger.warn('auth-events channel closed; reconnecting');
    void model.close().catch(() => undefined);
  }
}

function messageIdOf(message: ConsumeMessage): unknown {
  return (message.properties as { messageId?: unknown }).messageId;
}
