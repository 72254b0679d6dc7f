import test from 'ava';

import { sampleValue } from '@shop/test-harness';

import { UserServiceMetrics } from '../../src/metrics';

function metrics(): UserServiceMetrics {
  return new UserServiceMetrics({ collectProcessMetrics: false });
}

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
  t.is(sampleValue(text, 'token_subject_cache_hits_total'), 2);
  t.is(sampleValue(text, 'token_subject_cache_misses_total'), 1);
  t.is(sampleValue(text, 'token_subject_cache_shared_total'), 1);
  t.is(sampleValue(text, 'token_subject_cache_evictions_total', { reason: 'revocation' }), 1);
  t.is(sampleValue(text, 'token_subject_cache_evictions_total', { reason: 'flush' }), 4);
  t.is(sampleValue(text, 'token_subject_cache_entries'), 5);
});

test('RPC responder observer → requests and their duration by outcome, labelled user-service', async (t) => {
  const subject = metrics();

  subject.rpcServerObserver.requestHandled('valid', 0.001);
  subject.rpcServerObserver.requestHandled('expired', 0.002);

  const text = await subject.registry.metrics();
  t.is(sampleValue(text, 'rpc_server_requests_total', { outcome: 'valid', service: 'user-service' }), 1);
  t.is(sampleValue(text, 'rpc_server_requests_total', { outcome: 'expired' }), 1);
  t.is(sampleValue(text, 'rpc_server_duration_seconds_count', { outcome: 'valid' }), 1);
});
