import { connect, type ChannelModel, type ConsumeMessage } from 'amqplib';

/** One message as it arrived on the listener's queue. */
export interface ReceivedEvent {
  /** The body parsed as JSON (undefined when it is not JSON). */
  body: unknown;
  properties: ConsumeMessage['properties'];
  routingKey: string;
  receivedAt: number;
}

/**
 * A consumer of the events a service's outbox relay publishes, as a real one would be: its own
 * queue bound to the topic exchange (declared here too, durable topic, so binding never races
 * the relay's first connect). It keeps every message; tests pick theirs by content.
 */
export class EventListener {
  private readonly received: ReceivedEvent[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly connection: ChannelModel) {}

  /** Binds `queue` (a name of the test run, deleted when the listener closes) to `exchange` with `pattern`. */
  static async bind(amqpUrl: string, exchange: string, queue: string, pattern = '#'): Promise<EventListener> {
    const connection = await connect(amqpUrl);
    const listener = new EventListener(connection);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    // Not exclusive: the test environment deletes its queues from its own connection, maybe first.
    await channel.assertQueue(queue, { durable: false, autoDelete: true });
    await channel.bindQueue(queue, exchange, pattern);
    await channel.consume(
      queue,
      (message) => {
        if (message) listener.accept(message);
      },
      { noAck: true },
    );
    return listener;
  }

  /** Every message received so far that `matches`, in arrival order. */
  events(matches: (event: ReceivedEvent) => boolean = () => true): ReceivedEvent[] {
    return this.received.filter(matches);
  }

  /** Resolves with the matching messages once there are at least `count`; rejects after `timeoutMs`. */
  async waitFor(
    count: number,
    matches: (event: ReceivedEvent) => boolean,
    timeoutMs = 10_000,
  ): Promise<ReceivedEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events(matches);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms with ${found.length} of ${count} events`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private accept(message: ConsumeMessage): void {
    let body: unknown;
    try {
      body = JSON.parse(message.content.toString('utf8'));
    } catch {
      body = undefined;
    }
    this.received.push({
      body,
      properties: message.properties,
      routingKey: message.fields.routingKey,
      receivedAt: Date.now(),
    });
    for (const wake of [...this.waiters]) wake();
  }
}
