import test from 'ava';

import { sampleValue, settlesWithin } from '@shop/test-harness';

import { ServiceMetrics, type CacheObserver } from '../../src';

/** ServiceMetrics as a service extends it: one cache and one RPC side, through the protected helpers. */
class ExampleMetrics extends ServiceMetrics {
  readonly cache = this.cacheMetrics<'revocation' | 'flush'>('example_cache', {
    hits: 'hits',
    misses: 'misses',
    shared: 'shared',
    evictions: 'evictions',
    entries: 'entries',
  });

  readonly recordCall = this.outcomeMetrics(
    { name: 'example_calls_total', help: 'calls by outcome' },
    { name: 'example_call_duration_seconds', help: 'call time by outcome' },
  );

  constructor() {
    super({ service: 'example-service', collectProcessMetrics: false });
  }
}

test('every series → carries the service label given', async (t) => {
  const subject = new ExampleMetrics();
  subject.brokerReconnects.inc();

  const text = await subject.registry.metrics();

  t.is(sampleValue(text, 'amqp_reconnects_total', { service: 'example-service' }), 1);
});

test('outbox observer → published by type, failures and parked events counted', async (t) => {
  const subject = new ExampleMetrics();

  subject.outboxObserver.eventPublished('auth.token_revoked');
  subject.outboxObserver.eventPublished('auth.token_revoked');
  subject.outboxObserver.eventPublished('product.created');
  subject.outboxObserver.publishFailed(3);
  subject.outboxObserver.eventParked();

  const text = await subject.registry.metrics();
  t.is(sampleValue(text, 'outbox_events_published_total', { type: 'auth.token_revoked' }), 2);
  t.is(sampleValue(text, 'outbox_events_published_total', { type: 'product.created' }), 1);
  t.is(sampleValue(text, 'outbox_publish_failures_total'), 3);
  t.is(sampleValue(text, 'outbox_events_parked_total'), 1);
});

test('outbox backlog gauges → sampled at each scrape with one query for both gauges', async (t) => {
  const subject = new ExampleMetrics();
  let reads = 0;
  subject.trackOutboxBacklog(() => {
    reads += 1;
    return Promise.resolve({ events: 7, oldestAgeSeconds: 12.5 });
  });

  const text = await subject.registry.metrics();

  t.is(sampleValue(text, 'outbox_backlog_events'), 7);
  t.is(sampleValue(text, 'outbox_oldest_unpublished_age_seconds'), 12.5);
  t.is(reads, 1);
});

test('outbox backlog gauges → a failing or hanging query leaves the last values and never fails the scrape', async (t) => {
  const subject = new ExampleMetrics();
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

  t.is(sampleValue(afterFailure, 'outbox_backlog_events'), 4);
  t.is(sampleValue(afterHang, 'outbox_backlog_events'), 4);
});

test('auth-events observer → events received by type, duplicates and malformed messages', async (t) => {
  const subject = new ExampleMetrics();

  subject.authEventsObserver.received('auth.token_revoked');
  subject.authEventsObserver.received('user.deactivated');
  subject.authEventsObserver.received('auth.token_revoked');
  subject.authEventsObserver.duplicate();
  subject.authEventsObserver.malformed();

  const text = await subject.registry.metrics();
  t.is(sampleValue(text, 'auth_events_received_total', { type: 'auth.token_revoked' }), 2);
  t.is(sampleValue(text, 'auth_events_received_total', { type: 'user.deactivated' }), 1);
  t.is(sampleValue(text, 'auth_events_duplicates_total'), 1);
  t.is(sampleValue(text, 'auth_events_malformed_total'), 1);
});

test('cacheMetrics → hits, misses, shared lookups, evictions by reason and the entries gauge under the prefix', async (t) => {
  const subject = new ExampleMetrics();
  let entries = 3;
  subject.cache.trackEntries(() => entries);
  const observer: CacheObserver<'revocation' | 'flush'> = subject.cache.observer;

  observer.hit();
  observer.hit();
  observer.miss();
  observer.shared();
  observer.evicted('revocation', 1);
  observer.evicted('flush', 4);
  entries = 5;

  const text = await subject.registry.metrics();
  t.is(sampleValue(text, 'example_cache_hits_total'), 2);
  t.is(sampleValue(text, 'example_cache_misses_total'), 1);
  t.is(sampleValue(text, 'example_cache_shared_total'), 1);
  t.is(sampleValue(text, 'example_cache_evictions_total', { reason: 'revocation' }), 1);
  t.is(sampleValue(text, 'example_cache_evictions_total', { reason: 'flush' }), 4);
  t.is(sampleValue(text, 'example_cache_entries'), 5, 'read at the scrape, not when tracked');
});

test('outcomeMetrics → one call counts in the counter and the histogram, by outcome', async (t) => {
  const subject = new ExampleMetrics();

  subject.recordCall('valid', 0.002);
  subject.recordCall('valid', 0.004);
  subject.recordCall('timeout', 3);

  const text = await subject.registry.metrics();
  t.is(sampleValue(text, 'example_calls_total', { outcome: 'valid' }), 2);
  t.is(sampleValue(text, 'example_calls_total', { outcome: 'timeout' }), 1);
  t.is(sampleValue(text, 'example_call_duration_seconds_count', { outcome: 'valid' }), 2);
  t.is(sampleValue(text, 'example_call_duration_seconds_sum', { outcome: 'timeout' }), 3);
});
