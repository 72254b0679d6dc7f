import test from 'ava';

import { createRunId, runIdCreatedAt, testDatabaseName, testQueueName } from '../src';

test('createRunId → two ids made in the same instant differ', (t) => {
  const now = new Date();
  t.not(createRunId(now), createRunId(now));
});

test('runIdCreatedAt → reads back the second the id was made', (t) => {
  const now = new Date('2026-01-02T03:04:05.678Z');
  t.is(runIdCreatedAt(createRunId(now))?.toISOString(), '2026-01-02T03:04:05.000Z');
});

test('testDatabaseName → a lowercase identifier within PostgreSQL’s 63-byte limit', (t) => {
  const name = testDatabaseName('Product-Service With A Long Label', createRunId());
  t.regex(name, /^[a-z0-9_]+$/);
  t.true(Buffer.byteLength(name) <= 63);
});

test('testQueueName → keeps the production name recognisable and adds the run id', (t) => {
  t.is(testQueueName('auth.validate_token', 'abc_1_ff'), 'auth.validate_token.test.abc_1_ff');
});
