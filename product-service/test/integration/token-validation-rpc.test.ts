import test from 'ava';
import type { Socket } from 'node:net';

import { DIRECT_REPLY_TO_QUEUE, INVALID_TOKEN_REASONS, type ProblemDetails } from '@shop/shared-contracts';
import { ServiceUnavailableError } from '@shop/shared-runtime';
import { type ApiResponse, call, EVENTUALLY_MS, TcpProxy } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { newUserId, productInput } from '../helpers/factories';
import { waitFor, type StartedProductService } from '../helpers/product-service';
import { declareIdleQueue } from '../helpers/test-responder';
import { useProductService } from '../helpers/use-product-service';

// Every instance waits 10 s for a reply (the helper's default), which any round trip meets on a
// loaded machine; tests that count or break things start their own. A test that must see a
// timeout sets a short one (SHORT_TIMEOUT); one that shows a call failing without waiting for
// its timeout sets the longest there is (LONG_TIMEOUT) and checks it failed well within it.
const ctx = useProductService();

const SHORT_TIMEOUT = { AUTH_RPC_TIMEOUT_MS: '500' };
const LONG_TIMEOUT = { AUTH_RPC_TIMEOUT_MS: '60000' };

/** Failing "at once" means within this, in ms: far from a 60 s timeout, generous for a loaded machine. */
const AT_ONCE_MS = EVENTUALLY_MS;

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const create = (service: StartedProductService, token: string, headers: Record<string, string> = {}) =>
  call<PublicProduct & ProblemDetails>(service.baseUrl, 'POST', '/products', {
    token,
    json: productInput(),
    headers,
  });

function assertUnavailable(
  t: { is(a: unknown, b: unknown): void; truthy(a: unknown): void },
  response: ApiResponse<ProblemDetails>,
) {
  t.is(response.status, 503);
  t.is(response.body.type, 'urn:problem-type:service-unavailable');
  t.truthy(response.headers.get('retry-after'));
  t.is(response.headers.get('www-authenticate'), null);
}

test('valid token → the request carries every contract property and the HTTP request id', async (t) => {
  const userId = newUserId();
  const token = ctx.responder.tokenFor({ reply: 'valid', userId });
  const before = Math.floor(Date.now() / 1000);

  const response = await create(ctx.service, token, { 'x-request-id': 'trace-rpc-42' });

  t.is(response.status, 201);
  t.is(response.body.owner_id, userId);
  const [request, ...others] = ctx.responder.requestsFor(token);
  t.is(others.length, 0);
  t.deepEqual(request?.body, { token });
  const properties = request!.properties;
  t.regex(String(properties.correlationId), UUID_V4);
  t.regex(String(properties.messageId), UUID_V4);
  t.not(properties.messageId, properties.correlationId);
  t.true(String(properties.replyTo).startsWith(DIRECT_REPLY_TO_QUEUE));
  t.is(properties.expiration, String(ctx.service.config.rpc.timeoutMs));
  t.is(properties.contentType, 'application/json');
  t.is(properties.type, 'auth.validate_token');
  t.is(properties.appId, 'product-service');
  t.true(Number(properties.timestamp) >= before - 1 && Number(properties.timestamp) <= before + 5);
  t.is((properties.headers as Record<string, unknown>)['x-request-id'], 'trace-rpc-42');
  t.is(response.headers.get('x-request-id'), 'trace-rpc-42');
});

test('a generated request id is the one forwarded to user-service', async (t) => {
  const token = ctx.responder.tokenFor({ reply: 'valid', userId: newUserId() });

  const response = await create(ctx.service, token, { 'x-request-id': 'not a "safe" id' });

  const requestId = response.headers.get('x-request-id');
  t.regex(requestId ?? '', UUID_V4);
  t.is((ctx.responder.requestsFor(token)[0]?.properties.headers as Record<string, unknown>)['x-request-id'], requestId);
});

for (const header of [
  'Basic dXNlcjpwYXNz',
  'Bearer',
  'Bearer ',
  'Token abc',
  'Bearer two words',
  'Bearer bad"token',
  `Bearer ${'a'.repeat(4097)}`,
]) {
  test(`Authorization "${header.slice(0, 24)}" → 401 with WWW-Authenticate: Bearer, nothing asked`, async (t) => {
    const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
      json: productInput(),
      headers: { authorization: header },
    });

    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer');
    t.like(response.body, { type: 'urn:problem-type:unauthorized', status: 401 });
  });
}

test('no Authorization header → 401 with WWW-Authenticate: Bearer', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', { json: productInput() });

  t.is(response.status, 401);
  t.is(response.headers.get('www-authenticate'), 'Bearer');
  t.is(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
});

for (const reason of INVALID_TOKEN_REASONS) {
  test(`reply valid:false (${reason}) → 401 invalid_token, and nothing is stored`, async (t) => {
    const token = ctx.responder.tokenFor({ reply: 'invalid', reason });
    const input = productInput();

    const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', { token, json: input });

    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    t.is(response.body.type, 'urn:problem-type:unauthorized');
    t.is(ctx.responder.requestsFor(token).length, 1);
    t.deepEqual(await ctx.db.productRowsNamed(input.name), []);
  });
}

test('reply { error } → 503 with Retry-After, never 401', async (t) => {
  const token = ctx.responder.tokenFor({ reply: 'error', code: 'internal' });

  const response = await create(ctx.service, token);

  assertUnavailable(t, response);
});

test('malformed replies (not JSON, wrong shape) → 503, counted, nothing crashes', async (t) => {
  const service = await ctx.startAnother();
  const notJson = ctx.responder.tokenFor({ reply: 'malformed', body: 'this is not json' });
  const wrongShape = ctx.responder.tokenFor({ reply: 'malformed', body: '{"valid":true,"user_id":"seven"}' });

  const first = await create(service, notJson);
  const second = await create(service, wrongShape);

  assertUnavailable(t, first);
  assertUnavailable(t, second);
  t.is(service.client.stats.malformedReplies, 2);
  t.is(service.client.pendingCount, 0);
  t.is((await create(service, ctx.responder.tokenFor({ reply: 'valid', userId: newUserId() }))).status, 201);
});

test('queue exists but nobody consumes → 503 once the timeout (500 ms) has passed, counted as a timeout', async (t) => {
  const queue = ctx.unusedQueue('idle');
  await declareIdleQueue(ctx.env.amqpUrl, queue);
  const service = await ctx.startAnother({ queue, env: SHORT_TIMEOUT });

  const response = await create(service, 'any-token');

  t.log(`answered after ${Math.round(response.elapsedMs)} ms`);
  assertUnavailable(t, response);
  // Not before the timeout: a lower bound, which a slow machine only ever exceeds.
  t.true(response.elapsedMs >= 450, `answered after ${response.elapsedMs} ms`);
  t.like(service.client.stats, { sent: 1, timeouts: 1, unavailable: 0 });
  t.is(service.client.pendingCount, 0);
});

test('queue absent → 503 at once from the mandatory return, well before the timeout', async (t) => {
  const service = await ctx.startAnother({ queue: ctx.unusedQueue('absent'), env: LONG_TIMEOUT });

  const response = await create(service, 'any-token');

  assertUnavailable(t, response);
  t.true(response.elapsedMs < AT_ONCE_MS, `answered after ${response.elapsedMs} ms with a 60 s timeout`);
  t.like(service.client.stats, { sent: 1, timeouts: 0, unavailable: 1 });
  t.is(service.client.pendingCount, 0);
});

test('a reply after the timeout → the call already failed with 503; the late reply is dropped and counted', async (t) => {
  const service = await ctx.startAnother({ env: SHORT_TIMEOUT });
  // Held until the call has timed out: late whatever the machine's load.
  let release: () => void = () => undefined;
  const token = ctx.responder.tokenFor({
    reply: 'valid',
    userId: newUserId(),
    heldUntil: new Promise<void>((resolve) => {
      release = resolve;
    }),
  });

  const response = await create(service, token);
  release();
  await waitFor(() => service.client.stats.lateOrUnknownReplies === 1, 10_000, 'the late reply');

  assertUnavailable(t, response);
  t.like(service.client.stats, { sent: 1, timeouts: 1, lateOrUnknownReplies: 1 });
  t.is(service.client.pendingCount, 0);
});

test("a reply with a stranger's correlationId → ignored; the call resolves from its own reply", async (t) => {
  const service = await ctx.startAnother();
  const userId = newUserId();
  const token = ctx.responder.tokenFor({ reply: 'valid', userId, strangerFirst: true });

  const response = await create(service, token);

  t.is(response.status, 201);
  t.is(response.body.owner_id, userId);
  t.like(service.client.stats, { sent: 1, lateOrUnknownReplies: 1, malformedReplies: 0 });
});

test('more calls than AUTH_RPC_MAX_PENDING waiting → the extra one gets 503 at once, nothing sent for it', async (t) => {
  const service = await ctx.startAnother({ env: { AUTH_RPC_MAX_PENDING: '2', ...LONG_TIMEOUT } });
  const silent = () => create(service, ctx.responder.tokenFor({ reply: 'silent' }));
  const waiting = [silent(), silent()];
  await waitFor(() => service.client.pendingCount === 2, 10_000, 'two pending calls');

  const extra = await create(service, ctx.responder.tokenFor({ reply: 'valid', userId: newUserId() }));

  assertUnavailable(t, extra);
  t.true(extra.elapsedMs < AT_ONCE_MS, `answered after ${extra.elapsedMs} ms with a 60 s timeout`);
  t.is(service.client.pendingCount, 2, 'answered while the two were still waiting');
  t.like(service.client.stats, { sent: 2, timeouts: 0, unavailable: 1 });
  // Closing the client fails the two silent calls now, rather than after 60 s.
  await service.client.close();
  for (const response of await Promise.all(waiting)) t.is(response.status, 503);
});

test('the connection drops → in-flight calls fail at once with 503, then it reconnects by itself', async (t) => {
  const service = await ctx.startAnother({ env: LONG_TIMEOUT });
  const inFlight = [1, 2, 3].map(() => create(service, ctx.responder.tokenFor({ reply: 'silent' })));
  await waitFor(() => service.client.pendingCount === 3, 10_000, 'three pending calls');

  const droppedAt = performance.now();
  const connection = service.currentConnection() as unknown as { connection: { stream: Socket } };
  connection.connection.stream.destroy(new Error('cut by test'));
  const responses = await Promise.all(inFlight);
  const failedAfterMs = performance.now() - droppedAt;

  for (const response of responses) assertUnavailable(t, response);
  t.true(failedAfterMs < AT_ONCE_MS, `in-flight calls failed ${failedAfterMs} ms after the drop, with a 60 s timeout`);
  t.like(service.client.stats, { sent: 3, timeouts: 0, unavailable: 3 });
  t.is(service.client.pendingCount, 0);

  await waitFor(() => service.client.isReady, 10_000, 'the reconnect');
  const userId = newUserId();
  const after = await create(service, ctx.responder.tokenFor({ reply: 'valid', userId }));
  t.is(after.status, 201);
  t.is(after.body.owner_id, userId);
});

test('the broker closes our connection → pending calls fail at once, new calls 503 until back, then 201', async (t) => {
  // Through a proxy of this test's own, which refuses new connections once the broker has closed
  // ours: the client stays disconnected until the test restores it, however fast it retries.
  const broker = new URL(ctx.env.amqpUrl);
  const proxy = await TcpProxy.start({ targetHost: broker.hostname, targetPort: Number(broker.port || 5672) });
  t.teardown(() => proxy.close());
  const service = await ctx.startAnother({ env: { AMQP_URL: proxy.proxiedUrl(ctx.env.amqpUrl), ...LONG_TIMEOUT } });
  const inFlight = create(service, ctx.responder.tokenFor({ reply: 'silent' }));
  await waitFor(() => service.client.pendingCount === 1, 10_000, 'a pending call');

  proxy.refuseNew();
  t.is(await ctx.env.closeBrokerConnections(service.connectionName), 1);
  const closedAt = performance.now();
  const response = await inFlight;
  const failedAfterMs = performance.now() - closedAt;

  assertUnavailable(t, response);
  t.true(
    failedAfterMs < AT_ONCE_MS,
    `the in-flight call failed ${failedAfterMs} ms after the close, with a 60 s timeout`,
  );
  await waitFor(() => !service.client.isReady, 10_000, 'the client to see the connection gone');
  // While disconnected a call is not queued for the reconnect: it fails at once, unsent.
  const { sent, unavailable } = service.client.stats;
  const callStarted = performance.now();
  await t.throwsAsync(service.client.validate('any-token', { requestId: 'while-down' }), {
    instanceOf: ServiceUnavailableError,
  });
  t.true(performance.now() - callStarted < AT_ONCE_MS);
  t.like(service.client.stats, { sent, unavailable: unavailable + 1 });
  t.is(service.client.pendingCount, 0);

  proxy.restore();
  await waitFor(() => service.client.isReady, 15_000, 'the reconnect');
  const after = await create(service, ctx.responder.tokenFor({ reply: 'valid', userId: newUserId() }));
  t.is(after.status, 201);
});

// Serial: AVA runs serial tests before the concurrent ones, so this load runs alone in this file.
// 1 000 tokens: one token's concurrent checks would share one RPC (see auth-cache.test.ts).
test.serial('1 000 concurrent creates with 1 000 tokens → 1 000 RPCs, all 201, 1 000 rows, none pending', async (t) => {
  // 1 000 requests at once is past LOAD_SHED_MAX_IN_FLIGHT (128): shedding is off here, so this
  // measures the RPC client's concurrency, not the door's (tested in shared-runtime and faults/).
  const service = await ctx.startAnother({
    env: { AUTH_RPC_TIMEOUT_MS: '20000', LOAD_SHED_MAX_IN_FLIGHT: '0', LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0' },
  });
  const ownerId = newUserId();
  const tokens = Array.from({ length: 1000 }, () => ctx.responder.tokenFor({ reply: 'valid', userId: ownerId }));

  const started = performance.now();
  const responses = await Promise.all(tokens.map((token) => create(service, token)));
  t.log(`1000 creates in ${Math.round(performance.now() - started)} ms`);

  t.deepEqual([...new Set(responses.map((response) => response.status))], [201]);
  t.is(new Set(responses.map((response) => response.body.id)).size, 1000);
  t.is((await ctx.db.productRowsOwnedBy(ownerId)).length, 1000);
  t.is(service.client.pendingCount, 0);
  t.like(service.client.stats, { sent: 1000, timeouts: 0, unavailable: 0, lateOrUnknownReplies: 0 });
});
