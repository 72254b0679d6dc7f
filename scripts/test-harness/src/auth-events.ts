import { connect, type Channel, type ChannelModel } from 'amqplib';
import { randomUUID } from 'node:crypto';

import { loginOf } from './broker-control';
import {
  EVENT_TYPES,
  EVENT_VERSION,
  JSON_CONTENT_TYPE,
  SERVICE_NAMES,
  authEventSchema,
  validateMessage,
  type AuthEvent,
  type TokenRevokedEvent,
  type UserDeactivatedEvent,
} from '@shop/shared-contracts';

/** An `auth.token_revoked` event for token `jti` of `userId`, as the outbox relay publishes it. */
export function tokenRevokedEvent(
  userId: number,
  jti: string = randomUUID(),
  overrides: Partial<Omit<TokenRevokedEvent, 'data'>> = {},
): TokenRevokedEvent {
  return {
    id: randomUUID(),
    type: EVENT_TYPES.tokenRevoked,
    version: EVENT_VERSION,
    occurred_at: new Date().toISOString(),
    request_id: `logout-${userId}`,
    data: { jti, user_id: userId, exp: Math.floor(Date.now() / 1000) + 1800 },
    ...overrides,
  };
}

/** A `user.deactivated` event for `userId`. */
export function userDeactivatedEvent(
  userId: number,
  overrides: Partial<Omit<UserDeactivatedEvent, 'data'>> = {},
): UserDeactivatedEvent {
  return {
    id: randomUUID(),
    type: EVENT_TYPES.userDeactivated,
    version: EVENT_VERSION,
    occurred_at: new Date().toISOString(),
    request_id: null,
    data: { user_id: userId },
    ...overrides,
  };
}

/**
 * Publishes on a test's auth-events exchange as user-service's outbox relay does: a stand-in for
 * user-service, or events no instance made (a redelivery with the same id, a malformed message).
 */
export class AuthEventPublisher {
  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
    readonly exchange: string,
    /** The AMQP `userId` of what it publishes: its own login, which RabbitMQ checks it against. */
    readonly userId: string,
  ) {}

  /** Connects and declares `exchange` as the relay does (a durable topic exchange). */
  static async start(amqpUrl: string, exchange: string): Promise<AuthEventPublisher> {
    const connection = await connect(amqpUrl, { noDelay: true });
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    return new AuthEventPublisher(connection, channel, exchange, loginOf(amqpUrl));
  }

  /** Publishes a schema-valid event: routing key and `type` = its type, `messageId` = its id. */
  publish(event: AuthEvent): void {
    const checked = validateMessage(authEventSchema, event);
    if (!checked.ok) throw new Error(`the test built an invalid event: ${checked.error}`);
    this.publishRaw(event.type, JSON.stringify(event), event.id);
  }

  /** Publishes any body under `routingKey`, e.g. a malformed one. */
  publishRaw(routingKey: string, body: string, messageId: string = randomUUID()): void {
    this.channel.publish(this.exchange, routingKey, Buffer.from(body), {
      messageId,
      type: routingKey,
      contentType: JSON_CONTENT_TYPE,
      appId: SERVICE_NAMES.user,
      userId: this.userId,
      timestamp: Math.floor(Date.now() / 1000),
    });
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
