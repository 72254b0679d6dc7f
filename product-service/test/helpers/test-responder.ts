import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { randomBytes } from 'node:crypto';
import { v4 as uuidv4 } from 'uuid';

import {
  JSON_CONTENT_TYPE,
  MESSAGE_TYPES,
  SERVICE_NAMES,
  type InvalidTokenReason,
  type RpcErrorCode,
  type ValidateTokenReply,
} from '@shop/shared-contracts';
import { loginOf } from '@shop/test-harness';

/** How the stand-in for user-service answers one token. */
export type ReplyScript = (
  | { reply: 'valid'; userId: number; username?: string }
  | { reply: 'invalid'; reason: InvalidTokenReason }
  | { reply: 'error'; code?: RpcErrorCode }
  /** A body that is not a reply: not JSON, or JSON of the wrong shape. */
  | { reply: 'malformed'; body: string }
  /** Never answers. */
  | { reply: 'silent' }
) & {
  /** Wait this long before answering, in ms. */
  delayMs?: number;
  /**
   * Answer only once this has resolved (and `delayMs` has passed): to hold a reply back until
   * the test has seen what it waits for, rather than for a time it hopes is long enough.
   */
  heldUntil?: Promise<unknown>;
  /** First send a reply carrying someone else's correlationId, then the real one. */
  strangerFirst?: boolean;
};

/** One request as the responder received it. */
export interface ReceivedRequest {
  body: unknown;
  properties: ConsumeMessage['properties'];
  receivedAt: number;
}

/**
 * A stand-in for user-service on the real broker: it consumes the test's RPC queue and answers
 * each token as the test scripted it. Tokens are unique per test, so tests running side by side
 * share one responder without seeing each other's scripts.
 */
export class TestResponder {
  private readonly scripts = new Map<string, ReplyScript>();
  private readonly received = new Map<string, ReceivedRequest[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
    /** Its login, as every reply's `userId`: the test's product-service believes replies from it. */
    private readonly userId: string,
  ) {}

  /** Declares `queue` (as user-service does) and answers what arrives on it. */
  static async start(amqpUrl: string, queue: string): Promise<TestResponder> {
    const connection = await connect(amqpUrl, { noDelay: true });
    const channel = await connection.createChannel();
    const responder = new TestResponder(connection, channel, loginOf(amqpUrl));
    await channel.assertQueue(queue, { durable: true });
    await channel.consume(
      queue,
      (message) => {
        if (message) responder.answer(message);
      },
      { noAck: true },
    );
    return responder;
  }

  /** A fresh token the responder will answer as `script` says. */
  tokenFor(script: ReplyScript): string {
    const token = `test-token.${randomBytes(12).toString('base64url')}`;
    this.scripts.set(token, script);
    return token;
  }

  /** From now on answers `token` as `script` says (e.g. `revoked` once the test has logged it out). */
  rescript(token: string, script: ReplyScript): void {
    this.scripts.set(token, script);
  }

  /** The requests that carried `token`, in arrival order. */
  requestsFor(token: string): ReceivedRequest[] {
    return this.received.get(token) ?? [];
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    await this.connection.close();
  }

  private answer(message: ConsumeMessage): void {
    let body: unknown;
    try {
      body = JSON.parse(message.content.toString('utf8'));
    } catch {
      body = undefined;
    }
    const token = (body as { token?: unknown } | undefined)?.token;
    const key = typeof token === 'string' ? token : '';
    this.received.set(key, [
      ...this.requestsFor(key),
      { body, properties: message.properties, receivedAt: Date.now() },
    ]);

    const script = this.scripts.get(key) ?? { reply: 'invalid', reason: 'malformed' };
    if (script.reply === 'silent') return;
    const send = () => {
      const { replyTo, correlationId } = message.properties as { replyTo: string; correlationId: string };
      if (script.strangerFirst) this.publish(replyTo, uuidv4(), JSON.stringify(replyFor(script)));
      this.publish(
        replyTo,
        correlationId,
        script.reply === 'malformed' ? script.body : JSON.stringify(replyFor(script)),
      );
    };
    const afterDelay = () => {
      if (script.delayMs === undefined) {
        send();
        return;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        send();
      }, script.delayMs);
      this.timers.add(timer);
    };
    if (script.heldUntil === undefined) {
      afterDelay();
      return;
    }
    void script.heldUntil.then(
      () => {
        if (!this.closed) afterDelay();
      },
      () => undefined,
    );
  }

  private publish(replyTo: string, correlationId: string, body: string): void {
    this.channel.sendToQueue(replyTo, Buffer.from(body), {
      correlationId,
      contentType: JSON_CONTENT_TYPE,
      type: MESSAGE_TYPES.validateTokenReply,
      appId: SERVICE_NAMES.user,
      userId: this.userId,
    });
  }
}

function replyFor(script: ReplyScript): ValidateTokenReply {
  switch (script.reply) {
    case 'valid':
      return {
        valid: true,
        user_id: script.userId,
        username: script.username ?? `user${script.userId}`,
        expires_at: new Date(Date.now() + 600_000).toISOString(),
      };
    case 'invalid':
      return { valid: false, reason: script.reason };
    case 'error':
      return { error: { code: script.code ?? 'internal', message: 'scripted failure' } };
    default:
      return { valid: false, reason: 'malformed' };
  }
}

/** Declares `queue` with nobody consuming it: requests sit there until they expire. */
export async function declareIdleQueue(amqpUrl: string, queue: string): Promise<void> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { durable: true });
  } finally {
    await connection.close();
  }
}
