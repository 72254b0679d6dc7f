import test from 'ava';
import { connect, type ConsumeMessage } from 'amqplib';

import { metricSample, TestEnvironment } from '@shop/test-harness';

import { eventually, startChaosSystem, type ChaosSystem } from '../src';

let env: TestEnvironment | undefined;
let system: ChaosSystem | undefined;

/**
 * product-service's RPC timeout here: production's default, which a slow machine's round trip
 * meets, so the writes below are 201s. The one timeout the metrics test needs is forced by
 * freezing user-service, and waited for.
 */
const RPC_TIMEOUT_MS = 3000;

test.before(async () => {
  env = await TestEnvironment.start();
  system = await startChaosSystem(env, { AUTH_RPC_TIMEOUT_MS: String(RPC_TIMEOUT_MS) });
});

test.after.always(async () => {
  await system?.stop();
  await env?.close();
});

function context(): { env: TestEnvironment; system: ChaosSystem } {
  if (!env || !system) throw new Error('the system has not started');
  return { env, system };
}

function createProduct(chaos: ChaosSystem, name: string, headers: Record<string, string> = {}) {
  return fetch(`${chaos.product.baseUrl}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${chaos.token}`, ...headers },
    body: JSON.stringify({ name, price: 3.25, quantity: 1 }),
  });
}

// Serial: the metrics test counts everything that goes through the system.
test.serial(
  'one request id and traceparent → in the RPC request and reply headers and in both services’ logs',
  async (t) => {
    const { env: environment, system: chaos } = context();
    const requestId = 'trace-me-7f3a';
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

    // The firehose tracer copies every message published or delivered on the vhost to
    // amq.rabbitmq.trace; a queue bound there sees the RPC as the broker did.
    await environment.rabbitmqctl(['trace_on']);
    t.teardown(() => environment.rabbitmqctl(['trace_off']).then(() => undefined));
    const connection = await connect(environment.amqpUrl);
    t.teardown(() => connection.close());
    const channel = await connection.createChannel();
    const { queue: tap } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(tap, 'amq.rabbitmq.trace', 'publish.#');
    const traced: ConsumeMessage[] = [];
    await channel.consume(tap, (message) => message && traced.push(message), { noAck: true });

    const response = await createProduct(chaos, 'traced', { 'x-request-id': requestId, traceparent });
    t.is(response.status, 201);
    t.is(response.headers.get('x-request-id'), requestId);

    const headersOf = (message: ConsumeMessage) =>
      (message.properties.headers?.properties as { headers?: Record<string, unknown> } | undefined)?.headers ?? {};
    const typeOf = (message: ConsumeMessage) =>
      (message.properties.headers?.properties as { type?: string } | undefined)?.type;
    const ours = () => traced.filter((message) => headersOf(message)['x-request-id'] === requestId);
    const tracedAs = (type: string) => ours().find((message) => typeOf(message) === type);
    const accessLog = () =>
      chaos.product.lines.find((line) => line.msg === 'request completed' && JSON.stringify(line).includes(requestId));
    const handledLog = () =>
      chaos.user.lines.find((line) => line.request_id === requestId && line.msg === 'token-validation request handled');
    // The tracer's copies and the log lines come a little after the 201: wait for all four
    // (each assertion below says which one is missing if the deadline passes).
    await eventually(
      () =>
        Boolean(
          tracedAs('auth.validate_token') && tracedAs('auth.validate_token.reply') && accessLog() && handledLog(),
        ),
      10_000,
      'the traced RPC messages and both services’ log lines',
    ).catch(() => undefined);

    const request = tracedAs('auth.validate_token');
    const reply = tracedAs('auth.validate_token.reply');
    t.truthy(request, 'the RPC request carries the request id');
    t.truthy(reply, 'the RPC reply carries the request id');
    t.is(request && headersOf(request).traceparent, traceparent);
    t.is(reply && headersOf(reply).traceparent, traceparent);

    const access = accessLog();
    t.truthy(access, 'product-service access log');
    const claims = JSON.parse(Buffer.from(chaos.token.split('.')[1]!, 'base64url').toString()) as { sub: string };
    t.is(access?.user_id, Number(claims.sub), 'the access log names the authenticated user');
    const handled = handledLog();
    t.truthy(handled, 'user-service logged the validation with the request id');
    t.is(handled?.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
  },
);

test.serial('/metrics → counters move by exactly the workload: 10 writes, 1 forced timeout', async (t) => {
  const { system: chaos } = context();
  const before = {
    clientValid: await metricSample(chaos.product.baseUrl, 'rpc_client_calls_total', { outcome: 'valid' }),
    clientTimeout: await metricSample(chaos.product.baseUrl, 'rpc_client_calls_total', { outcome: 'timeout' }),
    serverValid: await metricSample(chaos.user.baseUrl, 'rpc_server_requests_total', { outcome: 'valid' }),
    serverExpired: await metricSample(chaos.user.baseUrl, 'rpc_server_requests_total', { outcome: 'expired' }),
    created: await metricSample(chaos.product.baseUrl, 'http_request_duration_seconds_count', {
      route: '/products',
      status: '201',
    }),
  };

  for (let i = 0; i < 10; i += 1) t.is((await createProduct(chaos, `counted-${i}`)).status, 201);

  // Freeze user-service past the RPC timeout: the one write in between times out, and the
  // request it leaves behind has expired by the time user-service thaws.
  process.kill(chaos.user.pid, 'SIGSTOP');
  try {
    t.is((await createProduct(chaos, 'timed-out')).status, 503);
    // Thaw only once the request's deadline has certainly passed on user-service's clock: it was
    // published at least RPC_TIMEOUT_MS (its expiration) before the 503, with an AMQP timestamp
    // in whole seconds, and the responder's expiry check allows a second of slack for that.
    const answeredAt = Date.now();
    await eventually(() => Date.now() > answeredAt + 1100, 10_000, 'the request’s deadline passing', 100);
  } finally {
    process.kill(chaos.user.pid, 'SIGCONT');
  }
  // user-service takes the expired request once it thaws; product-service counted its timeout.
  await eventually(
    async () =>
      (await metricSample(chaos.user.baseUrl, 'rpc_server_requests_total', { outcome: 'expired' })) >
      before.serverExpired,
    10_000,
    'user-service handling the expired request',
  ).catch(() => undefined);

  t.is(
    await metricSample(chaos.product.baseUrl, 'rpc_client_calls_total', { outcome: 'valid' }),
    before.clientValid + 10,
  );
  t.is(
    await metricSample(chaos.product.baseUrl, 'rpc_client_calls_total', { outcome: 'timeout' }),
    before.clientTimeout + 1,
  );
  t.is(
    await metricSample(chaos.user.baseUrl, 'rpc_server_requests_total', { outcome: 'valid' }),
    before.serverValid + 10,
  );
  t.is(
    await metricSample(chaos.user.baseUrl, 'rpc_server_requests_total', { outcome: 'expired' }),
    before.serverExpired + 1,
  );
  t.is(
    await metricSample(chaos.product.baseUrl, 'http_request_duration_seconds_count', {
      route: '/products',
      status: '201',
    }),
    before.created + 10,
  );
  t.is(await metricSample(chaos.product.baseUrl, 'rpc_client_in_flight'), 0);
  t.true((await metricSample(chaos.user.baseUrl, 'db_pool_size_connections')) >= 1);
});
