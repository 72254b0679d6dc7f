import type { Channel, Message } from 'amqplib';
import test from 'ava';
import fc from 'fast-check';

import { DeliveryAcks } from '../../src/messaging/delivery-acks';

/**
 * A channel that acknowledges as RabbitMQ does: an ack names a delivery still outstanding
 * (anything else closes the channel with PRECONDITION_FAILED, here a recorded violation), and
 * `multiple` also acknowledges every outstanding delivery before it. It also records a
 * violation when an ack covers a delivery whose work is not finished.
 */
class BrokerLikeChannel {
  readonly outstanding = new Set<number>();
  readonly working = new Set<number>();
  readonly acked: number[] = [];
  readonly violations: string[] = [];
  frames = 0;

  deliver(tag: number): Message {
    this.outstanding.add(tag);
    this.working.add(tag);
    return { fields: { deliveryTag: tag }, properties: {}, content: Buffer.alloc(0) } as unknown as Message;
  }

  ack(message: Message, allUpTo = false): void {
    this.frames += 1;
    const tag = message.fields.deliveryTag;
    if (!this.outstanding.has(tag)) this.violations.push(`ack of unknown delivery tag ${tag}`);
    const covered = allUpTo ? [...this.outstanding].filter((other) => other <= tag) : [tag];
    for (const other of covered) {
      if (this.working.has(other)) this.violations.push(`ack of ${other} before its work finished`);
      this.outstanding.delete(other);
      this.acked.push(other);
    }
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

type Step = { op: 'deliver' } | { op: 'finish'; pick: number } | { op: 'turn' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ op: 'deliver' as const }) },
  { weight: 3, arbitrary: fc.nat(1000).map((pick) => ({ op: 'finish' as const, pick })) },
  { weight: 1, arbitrary: fc.constant({ op: 'turn' as const }) },
);

test('DeliveryAcks → in any order of arrivals and finishes, every delivery is acked exactly once, never before its work is done', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
      const channel = new BrokerLikeChannel();
      const errors: unknown[] = [];
      const acks = new DeliveryAcks(channel as unknown as Channel, (error) => errors.push(error));
      const inHand: Message[] = [];
      let nextTag = 1;
      const finish = (index: number) => {
        const [message] = inHand.splice(index, 1);
        if (!message) return;
        channel.working.delete(message.fields.deliveryTag);
        acks.finish(message);
      };
      for (const current of steps) {
        if (current.op === 'deliver') {
          const message = channel.deliver(nextTag++);
          acks.received(message);
          inHand.push(message);
        } else if (current.op === 'finish') {
          if (inHand.length > 0) finish(current.pick % inHand.length);
        } else {
          await nextTurn();
        }
      }
      while (inHand.length > 0) finish(0);
      await nextTurn();
      const delivered = nextTag - 1;
      return (
        channel.violations.length === 0 &&
        errors.length === 0 &&
        channel.outstanding.size === 0 &&
        channel.acked.length === delivered &&
        new Set(channel.acked).size === delivered
      );
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('DeliveryAcks → deliveries finished in one turn, in order, go out as one multiple ack', async (t) => {
  const channel = new BrokerLikeChannel();
  const acks = new DeliveryAcks(channel as unknown as Channel, () => undefined);
  const messages = Array.from({ length: 16 }, (_, index) => channel.deliver(index + 1));
  for (const message of messages) acks.received(message);
  const last = channel.deliver(17);
  acks.received(last);
  for (const message of messages) {
    channel.working.delete(message.fields.deliveryTag);
    acks.finish(message);
  }
  t.is(channel.frames, 0, 'nothing is sent before the turn ends while a delivery is in hand');
  await nextTurn();
  t.is(channel.frames, 1);
  t.deepEqual(channel.violations, []);
  channel.working.delete(17);
  acks.finish(last);
  t.is(channel.frames, 2, 'with nothing left in hand the ack goes at once');
  t.is(channel.outstanding.size, 0);
});

test('DeliveryAcks → a delivery finished behind a slow one is acked on its own at the end of the turn', async (t) => {
  const channel = new BrokerLikeChannel();
  const acks = new DeliveryAcks(channel as unknown as Channel, () => undefined);
  const slow = channel.deliver(1);
  const quick = channel.deliver(2);
  acks.received(slow);
  acks.received(quick);
  channel.working.delete(2);
  acks.finish(quick);
  await nextTurn();
  t.deepEqual(channel.acked, [2]);
  t.true(channel.outstanding.has(1));
  channel.working.delete(1);
  acks.finish(slow);
  t.deepEqual(channel.acked, [2, 1]);
  t.deepEqual(channel.violations, []);
});

test('DeliveryAcks → an ack the channel refuses (it closed) is reported, not thrown', (t) => {
  const errors: unknown[] = [];
  const closed = {
    ack: () => {
      throw new Error('Channel closed');
    },
  };
  const acks = new DeliveryAcks(closed as unknown as Channel, (error) => errors.push(error));
  const message = { fields: { deliveryTag: 1 } } as unknown as Message;
  acks.received(message);
  t.notThrows(() => {
    acks.finish(message);
  });
  t.is(errors.length, 1);
});
