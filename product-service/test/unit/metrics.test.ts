import test from 'ava';

import { sampleValue } from '@shop/test-harness';

import { ProductServiceMetrics } from '../../src/metrics';

function metrics(): ProductServiceMetrics {
  return new ProductServiceMetrics({ collectProcessMetrics: false });
}

test('validation cache observer → hits, misses, shared calls, evictions by reason and the entries gauge', async (t) => {
  const subject = metrics();
  let entries = 2;
  subject.authCache.trackEntries(() => entries);

  subject.authCache.observer.hit();
  subject.authCache.observer.miss();
  subject.authCache.observer.miss();
  subject.authCache.observer.shared();
  subject.authCache.observer.evicted('capacity', 3);
  entries = 9;

  const text = await subject.registry.metrics();
  t.is(sampleValue(text, 'auth_cache_hits_total'), 1);
  t.is(sampleValue(text, 'auth_cache_misses_total'), 2);
  t.is(sampleValue(text, 'auth_cache_shared_total'), 1);
  t.is(sampleValue(text, 'auth_cache_evictions_total', { reason: 'capacity' }), 3);
  t.is(sampleValue(text, 'auth_cache_entries'), 9);
});

test('RPC client observer → calls and their duration by outcome, dropped replies and calls in flight, labelled product-service', async (t) => {
  const subject = metrics();
  let pending = 4;
  subject.trackPendingCalls(() => pending);

  subject.rpcClientObserver.callSettled('valid', 0.001);
  subject.rpcClientObserver.callSettled('timeout', 3);
  subject.rpcClientObserver.replyDropped();
  pending = 1;

  const text = await subject.registry.metrics();
  t.is(sampleValue(text, 'rpc_client_calls_total', { outcome: 'valid', service: 'product-service' }), 1);
  t.is(sampleValue(text, 'rpc_client_calls_total', { outcome: 'timeout' }), 1);
  t.is(sampleValue(text, 'rpc_client_duration_seconds_count', { outcome: 'timeout' }), 1);
  t.is(sampleValue(text, 'rpc_client_dropped_replies_total'), 1);
  t.is(sampleValue(text, 'rpc_client_in_flight'), 1);
});
