import { connect, type Channel, type ChannelModel } from 'amqplib';

/** One message read off an event exchange, as a consumer would see it. */
export interface TappedEvent {
  /** AMQP messageId, which is the event id. */
  messageId: string | undefined;
  /** AMQP userId: the publisher's broker login, as RabbitMQ verified it. */
  userId: string | undefined;
  routingKey: string;
  body: { id: string; type: string; data: Record<string, unknown>; request_id: string | null };
}

/**
 * A durable queue of the test's own, bound to an event exchange, read the way a downstream
 * consumer would: every delivery is kept (duplicates included), and {@link distinct} applies
 * the consumer-side dedup on the event id. Durable, so it keeps what arrives while RabbitMQ is
 * restarted; deleted on {@link close}.
 */
export class EventTap {
  readonly deliveries: TappedEvent[] = [];

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
    readonly queue: string,
  ) {}

  /**
   * Declares `exchange` (topic, durable, as the services do) and binds `queue` to it with
   * `bindingKey`; `queueType: 'quorum'` makes the queue one that outlives a cluster node. Call {@link consume} to start reading (after a broker restart, open a new tap
   * on the same queue).
   */
  static async open(
    amqpUrl: string,
    exchange: string,
    queue: string,
    bindingKey = '#',
    options: { queueType?: 'classic' | 'quorum' } = {},
  ): Promise<EventTap> {
    const connection = await connect(amqpUrl);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertQueue(queue, {
      durable: true,
      ...(options.queueType ? { arguments: { 'x-queue-type': options.queueType } } : {}),
    });
    await channel.bindQueue(queue, exchange, bindingKey);
    return new EventTap(connection, channel, queue);
  }

  async consume(): Promise<this> {
    await this.channel.consume(
      this.queue,
      (message) => {
        if (!message) return;
        this.deliveries.push({
          messageId: (message.properties as { messageId?: string }).messageId,
          userId: (message.properties as { userId?: string }).userId,
          routingKey: message.fields.routingKey,
          body: JSON.parse(message.content.toString('utf8')) as TappedEvent['body'],
        });
        this.channel.ack(message);
      },
      { noAck: false },
    );
    return this;
  }

  /** The deliveries with each event id once: what an idempotent consumer acts on. */
  distinct(): TappedEvent[] {
    const seen = new Set<string>();
    return this.deliveries.filter((event) => !seen.has(event.body.id) && seen.add(event.body.id));
  }

  /** Resolves once `count` distinct events have arrived; throws after `timeoutMs`. */
  async waitForDistinct(count: number, timeoutMs = 10_000): Promise<TappedEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.distinct().length < count) {
      if (Date.now() > deadline) {
        throw new Error(`${this.distinct().length} of ${count} events arrived on ${this.queue} within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.distinct();
  }

  /**
   * Messages waiting in the queue, not yet pushed to this consumer. 0 once the broker has handed
   * over everything routed to it (with the services' outboxes drained: everything published).
   */
  async waiting(): Promise<number> {
    return (await this.channel.checkQueue(this.queue)).messageCount;
  }

  /** Stops reading without deleting the queue (e.g. before RabbitMQ goes down). */
  async detach(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }

  /** Deletes the queue and closes the connection. */
  async close(): Promise<void> {
    await this.channel.deleteQueue(this.queue).catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }
}
