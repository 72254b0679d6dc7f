import { connect } from 'amqplib';

import type { RunMeasurement } from '../measurement';
import { runWorker } from '../processes';
import { progress } from '../progress';
import type { UnavailableCase } from '../results';
import { startService } from '../service-process';
import type { LatencyProbeSpec } from '../workers/latency-probe.worker';
import type { ScenarioContext } from './context';

/**
 * Scenario 5: how long an authenticated write waits for its 503 when no user-service can
 * answer. A second product-service points at a queue nobody declared (the `mandatory` publish
 * comes back at once); then the bench declares that queue without a consumer (the call can
 * only time out). Returns both cases and the probe's pending count afterwards.
 */
export async function unavailable(ctx: ScenarioContext): Promise<{ cases: UnavailableCase[]; probePending: number }> {
  const { env, stack, options, cleanup } = ctx;
  const queue = env.queueName('bench.nobody');
  const timeoutMs = options.unavailableTimeoutMs;
  progress(`starting a probe product-service on queue ${queue} (AUTH_RPC_TIMEOUT_MS=${timeoutMs})`);
  const probe = await startService(
    'product-service',
    {
      NODE_ENV: 'production',
      // Every unroutable request logs a warning; the probe's logs are not what is measured.
      LOG_LEVEL: 'error',
      AMQP_URL: stack.amqpUrl,
      AUTH_RPC_QUEUE: queue,
      AUTH_RPC_TIMEOUT_MS: String(timeoutMs),
      DATABASE_URL: stack.productDatabaseUrl,
      MIGRATE_ON_START: 'false',
    },
    { label: 'probe product-service' },
  );
  cleanup.add('stop the probe product-service', () => probe.stop());

  const requests = options.unavailableRequests;
  const measure = async (
    scenario: UnavailableCase['scenario'],
    load: { connections: number; overallRate?: number },
  ): Promise<UnavailableCase> => {
    const { connections, overallRate } = load;
    progress(
      `${scenario} · ${requests} requests ` + (overallRate ? `at ${overallRate}/s` : `over ${connections} connections`),
    );
    const run = await runWorker<RunMeasurement>('workers/latency-probe.worker', {
      url: `${probe.baseUrl}/products`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` },
      body: JSON.stringify({ name: 'never stored', price: 1, quantity: 1 }),
      requests,
      ...(overallRate ? { ratePerSecond: overallRate } : { concurrency: connections }),
      expectStatuses: [503],
    } satisfies LatencyProbeSpec);
    progress(`  → p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, ${JSON.stringify(run.outcomes)}`);
    return {
      scenario,
      requests,
      connections,
      ratePerSecond: overallRate ?? null,
      status503: run.completed,
      p50Ms: run.p50Ms,
      p99Ms: run.p99Ms,
      timeoutMs,
    };
  };

  // Few connections: each 503 comes back at once, so this measures the latency, not a queue.
  const absent = await measure('unavailable-queue-absent', { connections: 4 });

  const model = await connect(stack.amqpUrl);
  try {
    const channel = await model.createChannel();
    await channel.assertQueue(queue, { durable: false });
    await channel.close();
  } finally {
    await model.close();
  }
  // Writes arriving steadily over ~2 s, as during an outage, rather than all at once (a burst
  // of simultaneous timeouts measures how fast the service writes that many 503s, not when the
  // timer fires). Connections: as many as are waiting at once, a timeout's worth of arrivals.
  const overallRate = Math.max(1, Math.round(requests / 2));
  const noConsumer = await measure('unavailable-no-consumer', {
    connections: Math.ceil((overallRate * timeoutMs) / 1000),
    overallRate,
  });

  const probePending = await brokerPending(probe.baseUrl);
  await probe.stop();
  return { cases: [absent, noConsumer], probePending };
}

/** product-service's `GET /health` → `checks.broker.pending`; -1 when it is not reported. */
export async function brokerPending(baseUrl: string): Promise<number> {
  const response = await fetch(`${baseUrl}/health`);
  const body = (await response.json()) as { checks?: { broker?: { pending?: unknown } } };
  const pending = body.checks?.broker?.pending;
  return typeof pending === 'number' ? pending : -1;
}
