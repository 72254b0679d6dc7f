import test from 'ava';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { AuthEventPublisher, call, TestEnvironment, tokenRevokedEvent, waitUntil } from '@shop/test-harness';

import { newUserId, productInput } from '../helpers/factories';
import { TestResponder } from '../helpers/test-responder';

const MAIN = path.resolve(__dirname, '../../src/main.js');

let env: TestEnvironment | undefined;
let responder: TestResponder | undefined;
let queue = '';

test.before(async () => {
  env = await TestEnvironment.start();
  queue = env.queueName('auth.validate_token');
  responder = await TestResponder.start(env.amqpUrl, queue);
});

test.after.always(async () => {
  await responder?.close();
  await env?.close();
});

interface LogLine {
  msg: string;
  port?: number;
  queue?: string;
  level: number;
}

/** Starts `node dist/src/main.js` as a real process and collects its JSON log lines. */
function startProcess(extraEnv: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // Not a log line: only pino's JSON lines are of interest.
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      resolve(code);
    }),
  );
  const waitFor = async (message: RegExp, timeoutMs = 20_000): Promise<LogLine> => {
    const started = Date.now();
    for (;;) {
      const found = lines.find((line) => message.test(line.msg));
      if (found) return found;
      if (Date.now() - started > timeoutMs || child.exitCode !== null) {
        throw new Error(`no log line ${message} (stderr: ${stderr})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, exited, waitFor, stderr: () => stderr, lines };
}

test('the built service starts, creates and migrates its database, finishes in-flight writes on SIGTERM, exits 0', async (t) => {
  const environment = env!;
  const service = startProcess({
    PORT: '0',
    DATABASE_URL: environment.databaseUrl(environment.reserveDatabaseName('process')),
    AMQP_URL: environment.amqpUrl,
    AUTH_RPC_QUEUE: queue,
    AUTH_EVENTS_EXCHANGE: environment.exchangeName('auth.events'),
    PRODUCT_EVENTS_EXCHANGE: environment.exchangeName('product.events'),
    // The in-flight write below waits for the test, not for a timeout.
    AUTH_RPC_TIMEOUT_MS: '60000',
  });
  t.teardown(() => service.child.kill('SIGKILL'));

  const { port } = await service.waitFor(/listening/);
  await service.waitFor(/ready to validate tokens/);
  // The last setup of a connect: /health is 200 from then on.
  await service.waitFor(/consuming auth events/);
  const baseUrl = `http://127.0.0.1:${port}`;
  t.is((await call(baseUrl, 'GET', '/health')).status, 200);
  t.true(service.lines.some((line) => line.msg === 'created database'));
  t.true(service.lines.some((line) => line.msg === 'applied migrations'));

  // A write whose token check is held back until the service has taken SIGTERM: it is in flight
  // then, whatever the machine's load, and still gets its 201.
  const ownerId = newUserId();
  let release: () => void = () => undefined;
  const slowToken = responder!.tokenFor({
    reply: 'valid',
    userId: ownerId,
    heldUntil: new Promise<void>((resolve) => {
      release = resolve;
    }),
  });
  const inFlight = call<{ owner_id: number }>(baseUrl, 'POST', '/products', { token: slowToken, json: productInput() });
  await waitUntil(() => responder!.requestsFor(slowToken).length === 1, 'the write to ask for its token', {
    intervalMs: 10,
  });
  service.child.kill('SIGTERM');
  await service.waitFor(/shutting down/);
  release();
  const releasedAt = Date.now();

  const write = await inFlight;
  t.is(write.status, 201);
  t.is(write.body.owner_id, ownerId);
  // 0, not the 1 of a forced exit: done within the shutdown deadline. That the connection the
  // write leaves idle is closed at once, not after the keep-alive timeout, is closeServer's own
  // test (shared-runtime/test/unit/http-server.test.ts).
  t.is(await service.exited, 0);
  t.log(`exited ${Date.now() - releasedAt} ms after the held reply was released`);
  t.truthy(service.lines.find((line) => line.msg === 'shut down cleanly'));
});

test('the built service caches validations and evicts them on auth events; /metrics counts both', async (t) => {
  const environment = env!;
  const exchange = environment.exchangeName('auth.events');
  // Declares the exchange as user-service, its owner, would: product-service only checks for it.
  const publisher = await AuthEventPublisher.start(environment.amqpUrl, exchange);
  t.teardown(() => publisher.close());
  const service = startProcess({
    PORT: '0',
    DATABASE_URL: environment.databaseUrl(environment.reserveDatabaseName('process')),
    AMQP_URL: environment.amqpUrl,
    AUTH_RPC_QUEUE: queue,
    AUTH_EVENTS_EXCHANGE: exchange,
    PRODUCT_EVENTS_EXCHANGE: environment.exchangeName('product.events'),
    AUTH_CACHE_TTL_MS: '300000',
  });
  t.teardown(() => service.child.kill('SIGKILL'));
  const { port } = await service.waitFor(/listening/);
  const consuming = await service.waitFor(/consuming auth events/);
  const baseUrl = `http://127.0.0.1:${port}`;
  const userId = newUserId();
  const token = responder!.tokenFor({ reply: 'valid', userId });

  const writes = [];
  for (let write = 0; write < 3; write += 1) {
    writes.push(await call(baseUrl, 'POST', '/products', { token, json: productInput() }));
  }
  publisher.publish(tokenRevokedEvent(userId));
  const evicted = /^auth_cache_evictions_total\{[^}]*reason="revocation"[^}]*\} 1$/m;
  let metrics = '';
  await waitUntil(
    async () => {
      metrics = (await call<string>(baseUrl, 'GET', '/metrics')).text;
      return evicted.test(metrics);
    },
    'the eviction on /metrics',
    { intervalMs: 20 },
  );
  const health = await call<{ checks: Record<string, unknown> }>(baseUrl, 'GET', '/health');

  t.deepEqual(
    writes.map((write) => write.status),
    [201, 201, 201],
  );
  t.is(responder!.requestsFor(token).length, 1, 'one RPC for three writes');
  t.is(consuming.queue, `product-service.auth-events.${hostname()}.${service.child.pid}`);
  t.regex(metrics, evicted);
  t.regex(metrics, /^auth_cache_hits_total\{[^}]*\} 2$/m);
  t.regex(metrics, /^auth_cache_misses_total\{[^}]*\} 1$/m);
  t.regex(metrics, /^auth_events_received_total\{[^}]*type="auth\.token_revoked"[^}]*\} 1$/m);
  t.regex(metrics, /^auth_cache_entries\{[^}]*\} 0$/m);
  t.like(health.body.checks, { auth_events: { status: 'up', exchange } });
  service.child.kill('SIGTERM');
  t.is(await service.exited, 0);
});

test('invalid configuration → exit 1 with one line naming every bad variable', async (t) => {
  const service = startProcess({ PORT: 'not-a-port', AUTH_RPC_TIMEOUT_MS: 'soon' });

  t.is(await service.exited, 1);
  const output = service.stderr().trim();
  t.is(output.split('\n').length, 1);
  t.regex(output, /^Invalid configuration: .*PORT.*AUTH_RPC_TIMEOUT_MS/);
});

test('unreachable PostgreSQL → exit 1 naming the URL', async (t) => {
  const service = startProcess({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });

  t.is(await service.exited, 1);
  t.regex(service.stderr(), /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/nowhere/);
});
