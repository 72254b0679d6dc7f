import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';

import { DIRECT_REPLY_TO_QUEUE } from '@shop/shared-contracts';

interface Pending {
  resolve: (reply: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The hand-written ideal of a token-validation requester: Direct Reply-to, a correlation map,
 * a timeout, `mandatory` and `expiration` as the contract asks, on a `noDelay` socket — and
 * nothing else (no schema check of the reply, no uuid, no logging, no counters).
 */
export class BareRpcClient {
  private readonly pending = new Map<string, Pending>();
  private sequence = 0;

  private constructor(
    private readonly model: ChannelModel,
    private readonly channel: Channel,
    private readonly queue: string,
    private readonly timeoutMs: number,
  ) {}

  static async connect(options: { amqpUrl: string; queue: string; timeoutMs: number }): Promise<BareRpcClient> {
    const model = await connect(options.amqpUrl, { noDelay: true });
    const channel = await model.createChannel();
    const client = new BareRpcClient(model, channel, options.queue, options.timeoutMs);
    await channel.consume(
      DIRECT_REPLY_TO_QUEUE,
      (message) => {
        client.onReply(message);
      },
      { noAck: true },
    );
    channel.on('return', (message: ConsumeMessage) => {
      client.settle(message.properties.correlationId as string)?.reject(new Error('unroutable'));
    });
    return client;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Sends `{ token }` and resolves with the parsed reply body. */
  call(token: string): Promise<unknown> {
    this.sequence += 1;
    const correlationId = String(this.sequence);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(correlationId)) reject(new Error('timeout'));
      }, this.timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      this.channel.sendToQueue(this.queue, Buffer.from(JSON.stringify({ token })), {
        mandatory: true,
        correlationId,
        replyTo: DIRECT_REPLY_TO_QUEUE,
        expiration: String(this.timeoutMs),
        contentType: 'application/json',
      });
    });
  }

  async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new Error('closed'));
    await this.model.close().catch(() => undefined);
  }

  private onReply(message: ConsumeMessage | null): void {
    if (message === null) return;
    const call = this.settle(message.properties.correlationId as string);
    call?.resolve(JSON.parse(message.content.toString()) as unknown);
  }

  private settle(correlationId: string): Pending | undefined {
    const call = this.pending.get(correlationId);
    if (!call) return undefined;
    this.pending.delete(correlationId);
    clearTimeout(call.timer);
    return call;
  }
}
