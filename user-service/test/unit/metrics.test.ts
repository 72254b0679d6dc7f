import test from 'ava';

import { settlesWithin } from '@shop/test-harness';

import { UserServiceMetrics } from '../../src/metrics';

function metrics(): UserServiceMetrics {
  return new UserServiceMetrics({ collectProcessMetrics: false });
}

/** The value of a sample line `name{...} value` in the exposition text, or undefined. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(name) && !candidate.startsWith('#'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('outbox observer → published by type, failures and parked events counted', async (t) => {
  const subject = metrics();

  subject.outboxObserver.eventPublished('auth.token_revoked');
  subject.outboxObserver.eventPublished('auth.token_revoked');
  subject.outboxObserver.publishFailed(3);
  subject.outboxObserver.eventParked();

  const text = await subject.registry.metrics();
  t.is(sample(text, 'outbox_events_published_total{type="auth.token_revoked"'), 2);
  t.is(sample(text, 'outbox_publish_failures_total'), 3);
  t.is(sample(text, 'outbox_events_parked_total'), 1);
});

test('outbox backlog gauges → sampled at each scrape with one query for both gauges', async (t) => {
  const subject = metrics();
  let reads = 0;
  subject.trackOutboxBacklog(() => {
    reads += 1;
    return Promise.resolve({ events: 7, oldestAgeSeconds: 12.5 });
  });

  const text = await subject.registry.metrics();

  t.is(sample(text, 'outbox_backlog_events'), 7);
  t.is(sample(text, 'outbox_oldest_unpublished_age_seconds'), 12.5);
  t.is(reads, 1);
});

test('outbox backlog gauges → a failing or hanging query leaves the last values and never fails the scrape', async (t) => {
  const subject = metrics();
  let read: () => Promise<{ events: number; oldestAgeSeconds: number }> = () =>
    Promise.resolve({ events: 4, oldestAgeSeconds: 1 });
  subject.trackOutboxBacklog(() => read());
  await subject.registry.metrics();

  read = () => Promise.reject(new Error('database down'));
  const afterFailure = await subject.registry.metrics();
  read = () => new Promise(() => undefined);
  const started = performance.now();
  // A query that never answers: the scrape must still finish (it gives up on the query after 2 s).
  const afterHang = await settlesWithin(subject.registry.metrics(), 'the scrape beside a hanging query');
  t.log(`the scrape beside a hanging query took ${Math.round(performance.now() - started)} ms`);

  t.is(sample(afterFailure, 'outbox_backlog_events'), 4);
  t.is(sample(afterHang, 'outbox_backlog_events'), 4);
});

test('token-subject cache observer → hits, misses, shared reads, evictions by reason and the entries gauge', async (t) => {
  const subject = metrics();
  let entries = 3;
  subject.subjectCache.trackEntries(() => entries);

  subject.subjectCache.observer.hit();
  subject.subjectCache.observer.hit();
  subject.subjectCache.observer.miss();
  subject.subjectCache.observer.shared();
  subject.subjectCache.observer.evicted('revocation', 1);
  subject.subjectCache.observer.evicted('flush', 4);
  entries = 5;

  const text = await subject.registry.metrics();
  t.is(sample(text, 'token_subject_cache_hits_total'), 2);
  t.is(sample(text, 'token_subject_cache_misses_total'), 1);
  t.is(sample(text, 'token_subject_cache_shared_total'), 1);
  t.is(sample(text, 'token_subject_cache_evictions_total{reason="revocation"'), 1);
  t.is(sample(text, 'token_subject_cache_evictions_total{reason="flush"'), 4);
  t.is(sample(text, 'token_subject_cache_entries'), 5);
});

test('auth-events observer → events received by type, duplicates and malformed messages', async (t) => {
  const subject = metrics();

  subject.authEventsObserver.received('auth.token_revoked');
  subject.authEventsObserver.received('user.deactivated');
  subject.authEventsObserver.received('auth.token_revoked');
  subject.authEventsObserver.duplicate();
  subject.authEventsObserver.malformed();

  const text = await subject.registry.metrics();
  t.is(sample(text, 'auth_events_received_total{type="auth.token_revoked"'), 2);
  t.is(sample(text, 'auth_events_received_total{type="user.deactivated"'), 1);
  t.is(sample(text, 'auth_events_duplicates_total'), 1);
  t.is(sample(text, 'auth_events_malformed_total'), 1);
});
