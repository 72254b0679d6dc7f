import test from 'ava';
import express from 'express';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

import { call } from '@shop/test-harness';

import type { DependencyStatus, HealthCheck } from '../../src';
import { createHealthRouter } from '../../src/http/health.routes';

interface Health {
  status: string;
  checks: Record<string, DependencyStatus>;
}

/** A health router over checks whose answers the test sets, on port 0. */
async function healthServer(
  checks: readonly HealthCheck[],
  accepting = true,
): Promise<{ baseUrl: string; close: () => void }> {
  const app = express();
  app.use(createHealthRouter({ service: 'svc', version: '1.2.3', checks, isAcceptingTraffic: () => accepting }));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}`, close: () => server.close() };
}

const fixed = (name: string, critical: boolean, status: DependencyStatus['status']): HealthCheck => ({
  name,
  critical,
  check: () => Promise.resolve(status === 'up' ? { status } : { status, error: `${name} is away` }),
});

const cases: { title: string; checks: HealthCheck[]; accepting?: boolean; status: number; body: string }[] = [
  {
    title: 'everything up → 200 ok',
    checks: [fixed('database', true, 'up'), fixed('broker', false, 'up')],
    status: 200,
    body: 'ok',
  },
  {
    title: 'the broker down → 200 degraded: reads still work, the instance stays in its load balancer',
    checks: [fixed('database', true, 'up'), fixed('broker', false, 'down')],
    status: 200,
    body: 'degraded',
  },
  {
    title: 'the database down → 503 unavailable',
    checks: [fixed('database', true, 'down'), fixed('broker', false, 'up')],
    status: 503,
    body: 'unavailable',
  },
  {
    title: 'draining → 503 shutting_down even with everything up',
    checks: [fixed('database', true, 'up'), fixed('broker', false, 'up')],
    accepting: false,
    status: 503,
    body: 'shutting_down',
  },
];

for (const { title, checks, accepting, status, body } of cases) {
  test(`GET /health/ready and GET /health: ${title}; the body lists every dependency`, async (t) => {
    const server = await healthServer(checks, accepting);
    t.teardown(server.close);
    for (const path of ['/health/ready', '/health']) {
      const response = await call<Health>(server.baseUrl, 'GET', path);
      t.is(response.status, status, path);
      t.is(response.body.status, body, path);
      t.deepEqual(Object.keys(response.body.checks).sort(), ['broker', 'database'], path);
      t.is(response.headers.get('retry-after'), status === 503 ? '5' : null, path);
      t.is(response.headers.get('cache-control'), 'no-store', path);
    }
  });
}

test('GET /health/live → 200 while the process runs, whatever its dependencies say', async (t) => {
  const server = await healthServer([fixed('database', true, 'down')], false);
  t.teardown(server.close);
  const response = await call<{ status: string; service: string }>(server.baseUrl, 'GET', '/health/live');
  t.is(response.status, 200);
  t.like(response.body, { status: 'ok', service: 'svc' });
});
