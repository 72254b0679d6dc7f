import test from 'ava';
import express from 'express';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { createLogger, RETRY_AFTER_SECONDS } from '../../src';
import {
  LoadShedder,
  errorHandler,
  eventLoopDelayOf,
  isOperationsPath,
  loadShedding,
  shedReason,
  type ShedReason,
} from '../../src/http';

const logger = createLogger({ level: 'silent', service: 'svc', version: 'test' });

test('shedReason: under both limits → taken', (t) => {
  t.is(shedReason({ inFlight: 9, eventLoopDelayMs: 50 }, { maxInFlight: 10, maxEventLoopDelayMs: 100 }), undefined);
});

test('shedReason: at the in-flight limit → in_flight (checked first)', (t) => {
  t.is(shedReason({ inFlight: 10, eventLoopDelayMs: 500 }, { maxInFlight: 10, maxEventLoopDelayMs: 100 }), 'in_flight');
});

test('shedReason: past the event-loop delay → event_loop_delay', (t) => {
  t.is(
    shedReason({ inFlight: 0, eventLoopDelayMs: 100.5 }, { maxInFlight: 10, maxEventLoopDelayMs: 100 }),
    'event_loop_delay',
  );
  t.is(shedReason({ inFlight: 0, eventLoopDelayMs: 100 }, { maxInFlight: 10, maxEventLoopDelayMs: 100 }), undefined);
});

test('shedReason: a limit of 0 is off', (t) => {
  t.is(shedReason({ inFlight: 1e6, eventLoopDelayMs: 1e6 }, { maxInFlight: 0, maxEventLoopDelayMs: 0 }), undefined);
});

test('eventLoopDelayOf: the histogram timer period is taken off; an empty window is 0', (t) => {
  t.true(Math.abs(eventLoopDelayOf(10.2e6) - 0.2) < 1e-9);
  t.is(eventLoopDelayOf(5e6), 0);
  t.is(eventLoopDelayOf(Number.NaN), 0);
  t.is(eventLoopDelayOf(260e6), 250);
});

test('isOperationsPath: health, liveness, readiness and metrics; nothing else', (t) => {
  for (const path of ['/health', '/health/live', '/health/ready', '/metrics']) t.true(isOperationsPath(path), path);
  for (const path of ['/products', '/healthz', '/metrics/x', '/login']) t.false(isOperationsPath(path), path);
});

test('admit: counts requests in progress up to the limit; release frees a place once, however often called', (t) => {
  const shed: ShedReason[] = [];
  const shedder = new LoadShedder({
    limits: { maxInFlight: 2, maxEventLoopDelayMs: 0 },
    logger,
    onShed: (reason) => shed.push(reason),
  });
  const first = shedder.admit();
  const second = shedder.admit();
  t.is(shedder.inFlight, 2);
  t.deepEqual(shedder.admit(), { shed: 'in_flight' });
  t.deepEqual(shed, ['in_flight']);

  if (!('release' in first) || !('release' in second)) throw new Error('expected both admitted');
  first.release();
  first.release();
  t.is(shedder.inFlight, 1);
  t.true('release' in shedder.admit());
});

/** An app with the shedder in front of a route that holds its answer until `open()`. */
async function sheddingServer(maxInFlight: number) {
  const shedder = new LoadShedder({ limits: { maxInFlight, maxEventLoopDelayMs: 0 }, logger });
  const waiting: (() => void)[] = [];
  let handled = 0;
  const app = express();
  app.use(loadShedding(shedder));
  app.get('/slow', (_req, res) => {
    handled += 1;
    waiting.push(() => res.json({ ok: true }));
  });
  app.get('/health', (_req, res) => res.json({ status: 'ok' }));
  app.get('/metrics', (_req, res) => res.type('text/plain').send('# metrics'));
  app.use(errorHandler(logger));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    shedder,
    handled: () => handled,
    waiting,
    close: () => server.close(),
  };
}

test('loadShedding: past the limit → 503 problem with Retry-After before the handler runs; health and metrics still answer', async (t) => {
  const server = await sheddingServer(1);
  t.teardown(server.close);

  const held = fetch(`${server.baseUrl}/slow`);
  while (server.waiting.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

  const shed = await fetch(`${server.baseUrl}/slow`);
  t.is(shed.status, 503);
  t.is(shed.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
  t.is(shed.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.like(await shed.json(), { status: 503, title: 'Service unavailable' });
  t.is(server.handled(), 1, 'the shed request never reached its handler');

  t.is((await fetch(`${server.baseUrl}/health`)).status, 200);
  t.is((await fetch(`${server.baseUrl}/metrics`)).status, 200);

  server.waiting.shift()?.();
  t.is((await held).status, 200);
});

test('loadShedding: a finished or aborted request frees its place', async (t) => {
  const server = await sheddingServer(1);
  t.teardown(server.close);

  const controller = new AbortController();
  const aborted = fetch(`${server.baseUrl}/slow`, { signal: controller.signal }).catch(() => undefined);
  while (server.waiting.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(server.shedder.inFlight, 1);
  controller.abort();
  await aborted;
  while (server.shedder.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));

  const next = fetch(`${server.baseUrl}/slow`);
  while (server.waiting.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  server.waiting.at(-1)?.();
  t.is((await next).status, 200);
  t.is(server.shedder.inFlight, 0);
});

test('loadShedding: a connection back before its Retry-After → its second 503 closes it; the first keeps it', async (t) => {
  const server = await sheddingServer(1);
  t.teardown(server.close);
  const held = fetch(`${server.baseUrl}/slow`);
  while (server.waiting.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => {
    agent.destroy();
  });
  const first = await get(`${server.baseUrl}/slow`, agent);
  const second = await get(`${server.baseUrl}/slow`, agent);

  t.is(first.status, 503);
  t.is(first.connection, 'keep-alive');
  t.is(second.status, 503);
  t.is(second.connection, 'close', 'the client did not wait for Retry-After');
  server.waiting.shift()?.();
  t.is((await held).status, 200);
});

/** A GET through `agent` (so both requests share one socket); its status and Connection header. */
function get(url: string, agent: http.Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (response) => {
        response.resume();
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, connection: response.headers.connection });
        });
      })
      .on('error', reject);
  });
}

test('event-loop delay limit: a loop held busy → requests shed until it recovers', async (t) => {
  const shedder = new LoadShedder({
    limits: { maxInFlight: 0, maxEventLoopDelayMs: 50 },
    logger,
    sampleIntervalMs: 100,
  });
  shedder.start();
  t.teardown(() => {
    shedder.stop();
  });

  // Blocks of 150 ms with a turn of the loop between them, until a window's mean shows it (on a
  // busy machine a window may also catch the gaps, so this repeats rather than counting on one).
  const deadline = performance.now() + 10_000;
  while (shedder.eventLoopDelayMs <= 50 && performance.now() < deadline) {
    const until = performance.now() + 150;
    while (performance.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  t.true(shedder.eventLoopDelayMs > 50, `measured ${shedder.eventLoopDelayMs} ms`);
  t.deepEqual(shedder.admit(), { shed: 'event_loop_delay' });

  while (shedder.eventLoopDelayMs > 50) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true('release' in shedder.admit());
});
