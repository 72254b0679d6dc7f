import test from 'ava';

// Not exported: the subscriber's own dedup window, tested here as the unit it is.
import { RecentEventIds } from '../../src/messaging/recent-event-ids';

test('RecentEventIds.add → true for a new id, false for one already remembered', (t) => {
  const ids = new RecentEventIds(3);

  t.true(ids.add('a'));
  t.false(ids.add('a'));
  t.true(ids.add('b'));
  t.is(ids.size, 2);
});

test('RecentEventIds: beyond the capacity → the oldest id is forgotten, the newer ones kept', (t) => {
  const ids = new RecentEventIds(3);
  for (const id of ['a', 'b', 'c', 'd']) ids.add(id);

  t.is(ids.size, 3);
  t.false(ids.add('d'));
  t.false(ids.add('b'));
  t.true(ids.add('a'), 'a, the oldest, was forgotten');
});

test('RecentEventIds: a capacity that is not a positive integer → RangeError', (t) => {
  t.throws(() => new RecentEventIds(0), { instanceOf: RangeError });
  t.throws(() => new RecentEventIds(1.5), { instanceOf: RangeError });
});
