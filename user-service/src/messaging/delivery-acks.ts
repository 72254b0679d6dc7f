import type { Channel, Message } from 'amqplib';

/**
 * Acknowledges one channel's deliveries, each exactly once, in as few frames as it can.
 *
 * Every ack is a frame the broker handles and, on a busy responder, a socket write of its own:
 * the acks were half of the responder's writes to the broker (docs/benchmarks.md). Deliveries
 * finished in the same turn of the event loop are acknowledged together at its end with one
 * `multiple` ack — up to the newest finished delivery that no unfinished one precedes, since a
 * `multiple` ack covers every delivery before it. A finished delivery behind an unfinished one
 * is acknowledged on its own then, so a slow request never holds the others' prefetch slots.
 * When nothing is left unfinished the acks go at once, so a channel about to close has nothing
 * pending.
 */
export class DeliveryAcks {
  /** Delivery tags received and not yet finished, in the order received (= tag order). */
  private readonly unfinished = new Set<number>();
  /** Finished and not yet acknowledged. */
  private finished: Message[] = [];
  private flushScheduled = false;

  /** `onError` hears of an ack the channel refused (it closed): the broker redelivers those deliveries. */
  constructor(
    private readonly channel: Channel,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** To be called as each delivery arrives, before any later one is finished. */
  received(message: Message): void {
    this.unfinished.add(message.fields.deliveryTag);
  }

  /** To be called once per delivery, when its work is done (answered, dropped or failed). */
  finish(message: Message): void {
    if (!this.unfinished.delete(message.fields.deliveryTag)) return;
    this.finished.push(message);
    if (this.unfinished.size === 0) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flush();
      });
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const finished = this.finished;
    if (finished.length === 0) return;
    this.finished = [];
    const oldestUnfinished = this.unfinished.values().next().value ?? Number.POSITIVE_INFINITY;
    let newestCovered: Message | undefined;
    try {
      for (const message of finished) {
        const tag = message.fields.deliveryTag;
        if (tag > oldestUnfinished) {
          this.channel.ack(message);
        } else if (!newestCovered || tag > newestCovered.fields.deliveryTag) {
          newestCovered = message;
        }
      }
      if (newestCovered) this.channel.ack(newestCovered, true);
    } catch (error) {
      this.onError(error);
    }
  }
}
