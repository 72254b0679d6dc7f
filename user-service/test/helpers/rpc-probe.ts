import { connect, type Channel, type ChannelModel, type ConsumeMessage, type Options } from 'amqplib';
import { v4 as uuidv4 } from 'uuid';

import {
  DIRECT_REPLY_TO_QUEUE,
  JSON_CONTENT_TYPE,
  MESSAGE_TYPES,
  decodeMessage,
  validateTokenReplySchema,
  type ValidateTokenReply,
} from '@shop/shared-contracts';

export interface ProbeReply {
  body: ValidateTokenReply;
  properties: ConsumeMessage['properties'];
}

/**
 * A bare requester on the real broker, for driving the responder from tests: Direct Reply-to,
 * a correlation map, and raw publishing for poison messages.
 */
export class RpcProbe {
  private readonly pending = new Map<string, (reply: ProbeReply) => void>();
  /** Replies whose correlationId nobody was waiting for. */
  readonly strayReplies: ConsumeMessage[] = [];

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
    private readonly queue: string,
  ) {}

  static async open(amqpUrl: string, queue: string): Promise<RpcProbe> {
    const connection = await connect(amqpUrl, { noDelay: true });
    const channel = await connection.createChannel();
    const probe = new RpcProbe(connection, channel, queue);
    await channel.consume(
      DIRECT_REPLY_TO_QUEUE,
      (message) => {
        if (message) probe.onReply(message);
      },
      { noAck: true },
    );
    return probe;
  }

  /** Sends a validate-token request (any body, even an invalid one) and waits for its reply. */
  call(body: unknown, options: Options.Publish = {}, timeoutMs = 10_000): Promise<ProbeReply> {
    const correlationId = options.correlationId ?? uuidv4();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new Error(`no reply for ${correlationId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.publish(Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)), {
        correlationId,
        replyTo: DIRECT_REPLY_TO_QUEUE,
        ...options,
      });
    });
  }

  /** Publishes to the RPC queue as is: for messages with no replyTo, no correlationId, non-JSON. */
  publish(content: Buffer, options: Options.Publish = {}): void {
    this.channel.sendToQueue(this.queue, content, {
      contentType: JSON_CONTENT_TYPE,
      type: MESSAGE_TYPES.validateTokenRequest,
      appId: 'test-probe',
      ...options,
    });
  }

  /**
   * A queue of the probe's own (server-named, exclusive) that keeps every message sent to it: a
   * request's `replyTo` when a test counts the replies, which Direct Reply-to cannot (a reply it
   * does not expect is just a stray).
   */
  async replyQueue(): Promise<{ name: string; received: ConsumeMessage[] }> {
    const { queue } = await this.channel.assertQueue('', { exclusive: true, autoDelete: true });
    const received: ConsumeMessage[] = [];
    await this.channel.consume(
      queue,
      (message) => {
        if (message) received.push(message);
      },
      { noAck: true },
    );
    return { name: queue, received };
  }

  /** Messages waiting in the RPC queue and consumers attached to it, as the broker counts them. */
  async queueState(): Promise<{ messageCount: number; consumerCount: number }> {
    const { messageCount, consumerCount } = await this.channel.checkQueue(this.queue);
    return { messageCount, consumerCount };
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private onReply(message: ConsumeMessage): void {
    const correlationId = message.properties.correlationId as string | undefined;
    const waiter = correlationId ? this.pending.get(correlationId) : undefined;
    if (!waiter || !correlationId) {
      this.strayReplies.push(message);
      return;
    }
    this.pending.delete(correlationId);
    const decoded = decodeMessage(validateTokenReplySchema, message.content);
    if (!decoded.ok) throw new Error(`reply breaks the contract: ${decoded.error}`);
    waiter({ body: decoded.value, properties: message.properties });
  }
}
