import test from 'ava';

import { isValidTraceparent, traceIdOf } from '../src';

const sample = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('isValidTraceparent → accepts a W3C version-00 traceparent', (t) => {
  t.true(isValidTraceparent(sample));
});

test('isValidTraceparent → refuses other versions, upper case, zero ids and junk', (t) => {
  for (const value of [
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    sample.toUpperCase(),
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    `${sample}-extra`,
    '',
    42,
  ]) {
    t.false(isValidTraceparent(value), String(value));
  }
});

test('traceIdOf → the 32 hex digits of the trace id', (t) => {
  t.is(traceIdOf(sample), '4bf92f3577b34da6a3ce929d0e0e4736');
});
