import test from 'ava';
import { EventEmitter } from 'node:events';

import type { HealthCheck } from '../../src';
import {
  FlowControl,
  WRITE_BUFFER_REASON,
  notePublishResult,
  watchConnectionFlow,
  withFlowControl,
  type FlowState,
} from '../../src/messaging';

/** A FlowControl on a clock the test moves, recording every change it reports. */
function flowWithClock(): { flow: FlowControl; changes: FlowState[]; advance: (ms: number) => void } {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const flow = new FlowControl(() => new Date(now));
  const changes: FlowState[] = [];
  flow.onChange((state) => changes.push(state));
  return {
    flow,
    changes,
    advance: (ms) => {
      now += ms;
    },
  };
}

test('starts unblocked', (t) => {
  const flow = new FlowControl();
  t.false(flow.isBlocked);
  t.deepEqual(flow.state, { blocked: false });
  t.is(flow.healthStatus(), undefined);
});

test('broker blocked → blocked with its reason and start; unblocked → open again, one change each', (t) => {
  const { flow, changes } = flowWithClock();

  flow.brokerBlocked('low on memory');
  t.true(flow.isBlocked);
  t.deepEqual(flow.state, {
    blocked: true,
    cause: 'broker',
    reason: 'low on memory',
    since: new Date('2026-01-01T00:00:00Z'),
  });

  flow.brokerUnblocked();
  t.false(flow.isBlocked);
  t.is(changes.length, 2);
});

test('the same block reported twice → one change, not two', (t) => {
  const { flow, changes } = flowWithClock();

  flow.brokerBlocked('low on disk');
  flow.brokerBlocked('low on disk');
  flow.brokerUnblocked();
  flow.brokerUnblocked();

  t.deepEqual(
    changes.map((state) => state.blocked),
    [true, false],
  );
});

test('an empty reason from the broker → a reason that still says who blocked', (t) => {
  const flow = new FlowControl();
  flow.brokerBlocked('');
  t.like(flow.state, { blocked: true, reason: 'blocked by the broker' });
});

test('write buffer full → blocked until that channel drains; the broker reason wins while both hold', (t) => {
  const { flow, changes, advance } = flowWithClock();
  const channel = {};

  flow.writeBufferFilled(channel);
  t.like(flow.state, { blocked: true, cause: 'write_buffer', reason: WRITE_BUFFER_REASON });
  advance(1000);
  flow.brokerBlocked('low on memory');
  t.like(flow.state, { blocked: true, cause: 'broker', reason: 'low on memory' });
  // Held since the first block, not since the cause changed.
  t.deepEqual((flow.state as { since: Date }).since, new Date('2026-01-01T00:00:00Z'));
  flow.brokerUnblocked();
  t.like(flow.state, { blocked: true, cause: 'write_buffer' });
  flow.writeBufferDrained(channel);

  t.false(flow.isBlocked);
  t.deepEqual(
    changes.map((state) => (state.blocked ? state.cause : 'open')),
    ['write_buffer', 'broker', 'write_buffer', 'open'],
  );
});

test('two channels full → blocked until both drain', (t) => {
  const flow = new FlowControl();
  const first = {};
  const second = {};
  flow.writeBufferFilled(first);
  flow.writeBufferFilled(second);

  flow.writeBufferDrained(first);
  t.true(flow.isBlocked);
  flow.writeBufferDrained(second);
  t.false(flow.isBlocked);
});

test('connection reset → every hold lifted at once', (t) => {
  const flow = new FlowControl();
  flow.brokerBlocked('low on memory');
  flow.writeBufferFilled({});

  flow.connectionReset();

  t.false(flow.isBlocked);
});

test('notePublishResult: false → blocked until the channel drains (or closes); true → nothing', (t) => {
  const flow = new FlowControl();
  const channel = new EventEmitter();

  notePublishResult(flow, channel, true);
  t.false(flow.isBlocked);
  notePublishResult(flow, channel, false);
  notePublishResult(flow, channel, false);
  t.true(flow.isBlocked);
  t.is(channel.listenerCount('drain'), 1, 'one drain listener however many publishes returned false');
  channel.emit('drain');
  t.false(flow.isBlocked);

  notePublishResult(flow, channel, false);
  channel.emit('close');
  t.false(flow.isBlocked, 'a closed channel never drains: its close lifts the hold');
});

test('watchConnectionFlow: blocked/unblocked/disconnect/connect of the connection drive the state', (t) => {
  const flow = new FlowControl();
  const connection = new EventEmitter();
  watchConnectionFlow(connection, flow);

  connection.emit('blocked', 'low on disk');
  t.like(flow.state, { blocked: true, reason: 'low on disk' });
  connection.emit('unblocked');
  t.false(flow.isBlocked);
  connection.emit('blocked', 'low on memory');
  connection.emit('disconnect', new Error('gone'));
  t.false(flow.isBlocked, 'a lost connection takes its block with it');
  connection.emit('blocked', 'low on memory');
  connection.emit('connect');
  t.false(flow.isBlocked, 'a fresh connection starts unblocked');
});

test('withFlowControl: blocked → the broker reported blocked with its reason, without probing', async (t) => {
  const flow = new FlowControl(() => new Date('2026-01-01T00:00:00Z'));
  let probes = 0;
  const inner: HealthCheck = {
    name: 'broker',
    critical: false,
    check: () => {
      probes += 1;
      return Promise.resolve({ status: 'up', queue: 'q' });
    },
  };
  const check = withFlowControl(inner, flow);
  t.is(check.name, 'broker');
  t.false(check.critical);

  t.deepEqual(await check.check(), { status: 'up', queue: 'q' });
  flow.brokerBlocked('low on memory');
  t.deepEqual(await check.check(), {
    status: 'blocked',
    cause: 'broker',
    reason: 'low on memory',
    since: '2026-01-01T00:00:00.000Z',
  });
  t.is(probes, 1);
});
