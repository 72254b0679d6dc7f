import test from 'ava';
import type { ChannelModel } from 'amqplib';
import { EventEmitter } from 'node:events';

import { ChannelReopener } from '../../src/messaging';
import { withCapturedTimers, type CapturedTimer } from '../helpers/timers';

/** A connection: only its `close` event matters to the reopener. */
function fakeConnection(): ChannelModel & EventEmitter {
  return new EventEmitter() as ChannelModel & EventEmitter;
}

/** A reopener whose component's channel is open when the test says, and whose reopens are recorded. */
function reopenerWith(options: { initialDelayMs?: number; maxDelayMs?: number } = {}) {
  const state = { open: false, reopens: [] as ChannelModel[] };
  const reopener = new ChannelReopener({
    initialDelayMs: options.initialDelayMs ?? 200,
    maxDelayMs: options.maxDelayMs ?? 1000,
    reopen: (model) => state.reopens.push(model),
    isOpen: () => state.open,
  });
  return { reopener, state };
}

/** The last timer asked for; fails the test's assumption loudly when there is none. */
function last(timers: CapturedTimer[]): CapturedTimer {
  const timer = timers.at(-1);
  if (!timer) throw new Error('no timer was set');
  return timer;
}

test('ChannelReopener: failed tries → waits the first delay, then twice as long each time, capped at the longest', (t) => {
  const { reopener, state } = reopenerWith({ initialDelayMs: 200, maxDelayMs: 1000 });
  const model = fakeConnection();
  const delays: number[] = [];

  withCapturedTimers((timers) => {
    reopener.connected(model);
    reopener.failed(model);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const timer = last(timers);
      delays.push(timer.delayMs);
      timer.fire();
      // The component's reopen failed again.
      reopener.failed(model);
    }
  });

  t.deepEqual(delays, [200, 400, 800, 1000, 1000]);
  t.is(state.reopens.length, 5);
  t.true(
    state.reopens.every((reopened) => reopened === model),
    'always on the connection the channel was lost on',
  );
});

test('ChannelReopener.opened → the next loss starts over from the first delay', (t) => {
  const { reopener } = reopenerWith({ initialDelayMs: 200, maxDelayMs: 1000 });
  const model = fakeConnection();
  const delays: number[] = [];

  withCapturedTimers((timers) => {
    reopener.connected(model);
    reopener.failed(model);
    last(timers).fire();
    reopener.failed(model);
    delays.push(last(timers).delayMs);
    last(timers).fire();
    reopener.opened();
    reopener.failed(model);
    delays.push(last(timers).delayMs);
  });

  t.deepEqual(delays, [400, 200]);
});

test('ChannelReopener.opened → cancels a reopen still waiting', (t) => {
  const { reopener, state } = reopenerWith();
  const model = fakeConnection();

  withCapturedTimers((timers) => {
    reopener.connected(model);
    reopener.failed(model);
    const waiting = last(timers);
    reopener.opened();
    waiting.fire();
    t.true(waiting.cleared);
  });

  t.is(state.reopens.length, 0);
});

test('ChannelReopener.stop → the waiting reopen never runs, and later failures schedule nothing', (t) => {
  const { reopener, state } = reopenerWith();
  const model = fakeConnection();

  withCapturedTimers((timers) => {
    reopener.connected(model);
    reopener.failed(model);
    const waiting = last(timers);
    reopener.stop();
    waiting.fire();
    const scheduled = timers.length;
    reopener.failed(model);
    t.is(timers.length, scheduled, 'no timer after stop');
  });

  t.is(state.reopens.length, 0);
});

test('ChannelReopener → does nothing when the component’s channel is open again by the time the delay ends', (t) => {
  const { reopener, state } = reopenerWith();
  const model = fakeConnection();

  withCapturedTimers((timers) => {
    reopener.connected(model);
    reopener.failed(model);
    // The connection's own setup opened a channel meanwhile.
    state.open = true;
    last(timers).fire();
  });

  t.is(state.reopens.length, 0);
});

test('ChannelReopener → does nothing once the connection the channel was lost on has closed or been replaced', (t) => {
  const { reopener, state } = reopenerWith();
  const closed = fakeConnection();
  const replaced = fakeConnection();
  const current = fakeConnection();

  withCapturedTimers((timers) => {
    reopener.connected(closed);
    reopener.failed(closed);
    // The connection closed: recovery will run the component's setup on the next one.
    closed.emit('close');
    last(timers).fire();

    reopener.connected(replaced);
    reopener.failed(replaced);
    // Recovery already brought a new connection, and its setup took over.
    reopener.connected(current);
    last(timers).fire();
  });

  t.deepEqual(state.reopens, []);
});

test('ChannelReopener → a close of an earlier connection does not forget the live one', (t) => {
  const { reopener, state } = reopenerWith();
  const earlier = fakeConnection();
  const live = fakeConnection();

  withCapturedTimers((timers) => {
    reopener.connected(earlier);
    reopener.connected(live);
    earlier.emit('close');
    reopener.failed(live);
    last(timers).fire();
  });

  t.deepEqual(state.reopens, [live]);
});
