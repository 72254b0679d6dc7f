import test from 'ava';

import { TestEnvironment } from '@shop/test-harness';

import { eventually, OtlpReceiver, SPAN_KIND, startSystem, type ReceivedSpan, type RunningSystem } from '../src';

let env: TestEnvironment | undefined;
let receiver: OtlpReceiver | undefined;
let system: RunningSystem | undefined;

/** Spans leave each process in batches; a short delay keeps the test from waiting 5 s for each. */
const BATCH_DELAY_MS = '200';

test.before(async () => {
  env = await TestEnvironment.start();
  receiver = await OtlpReceiver.start();
  system = await startSystem(env, {
    // user-service speaks OTLP/JSON; product-service the default, OTLP/protobuf.
    user: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: BATCH_DELAY_MS,
    },
    product: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: BATCH_DELAY_MS },
  });
});

test.after.always(async () => {
  await system?.stop();
  await receiver?.close();
  await env?.close();
});

async function login(running: RunningSystem): Promise<string> {
  const credentials = { username: 'traced_user', password: 'traced-password-1' };
  const headers = { 'content-type': 'application/json' };
  const body = JSON.stringify(credentials);
  await fetch(`${running.user.baseUrl}/register`, { method: 'POST', headers, body });
  const response = await fetch(`${running.user.baseUrl}/login`, { method: 'POST', headers, body });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Whether `ancestor` is `span`'s parent, grandparent, ... among `spans`. */
function descendsFrom(span: ReceivedSpan, ancestor: ReceivedSpan, spans: readonly ReceivedSpan[]): boolean {
  let current: ReceivedSpan | undefined = span;
  while (current && current.parentSpanId !== '') {
    if (current.parentSpanId === ancestor.spanId) return true;
    const parentId: string = current.parentSpanId;
    current = spans.find((candidate) => candidate.spanId === parentId);
  }
  return false;
}

test('one authenticated POST /products → one trace across both processes: HTTP server → RPC publish → consume → query, and the outbox event links back', async (t) => {
  if (!system || !receiver) throw new Error('the system has not started');
  const { spans } = receiver;
  const token = await login(system);

  const response = await fetch(`${system.product.baseUrl}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': 'traced-write' },
    body: JSON.stringify({ name: 'Traced mug', price: 7.5, quantity: 3 }),
  });
  t.is(response.status, 201);

  const serverSpan = () =>
    spans.find(
      (span) => span.service === 'product-service' && span.kind === SPAN_KIND.server && span.name.includes('POST'),
    );
  const inTrace = (service: string, kind: number) =>
    spans.filter((span) => span.service === service && span.kind === kind && span.traceId === serverSpan()?.traceId);
  const outboxSpan = () =>
    spans.find((span) => span.service === 'product-service' && span.name === 'outbox publish product.created');
  await eventually(
    () =>
      Boolean(
        serverSpan() &&
        inTrace('product-service', SPAN_KIND.producer).length > 0 &&
        inTrace('user-service', SPAN_KIND.consumer).length > 0 &&
        inTrace('user-service', SPAN_KIND.client).length > 0 &&
        outboxSpan(),
      ),
    20_000,
    'the spans of the write reaching the receiver',
  );

  const server = serverSpan();
  if (!server) throw new Error('no server span');
  t.regex(server.name, /POST \/products/, 'the server span is named by the route');

  const [rpcPublish] = inTrace('product-service', SPAN_KIND.producer);
  if (!rpcPublish) throw new Error('no RPC publish span');
  t.true(descendsFrom(rpcPublish, server, spans), 'the RPC publish runs inside the HTTP request');

  const consume = inTrace('user-service', SPAN_KIND.consumer).find((span) => span.parentSpanId === rpcPublish.spanId);
  t.truthy(consume, 'user-service’s consume span is the child of product-service’s publish span');
  if (!consume) return;
  t.true(consume.name.includes('process'), consume.name);

  const queries = inTrace('user-service', SPAN_KIND.client).filter((span) => descendsFrom(span, consume, spans));
  t.true(queries.length > 0, 'user-service’s database queries run inside the consume span');
  t.true(
    inTrace('user-service', SPAN_KIND.producer).some((span) => descendsFrom(span, consume, spans)),
    'the reply is published inside the consume span',
  );

  const outbox = outboxSpan();
  t.truthy(
    outbox?.links.some((link) => link.traceId === server.traceId),
    'the outbox publish span links to the request’s trace',
  );
  t.not(outbox?.traceId, server.traceId, 'the event goes out in a trace of its own');

  // The W3C traceparent the services already carried stays in step: user-service logs the same trace id.
  const handled = system.user.lines.find(
    (line) => line.request_id === 'traced-write' && line.msg === 'token-validation request handled',
  );
  t.is(handled?.trace_id, server.traceId);

  t.deepEqual([...(receiver.encodings.get('user-service') ?? [])], ['json']);
  t.deepEqual([...(receiver.encodings.get('product-service') ?? [])], ['protobuf']);
});

test('health checks and metrics scrapes → no spans (they would bury the requests worth seeing)', async (t) => {
  if (!system || !receiver) throw new Error('the system has not started');
  await fetch(`${system.product.baseUrl}/health`);
  await fetch(`${system.product.baseUrl}/metrics`);
  const marker = await fetch(`${system.product.baseUrl}/products?limit=1`);
  t.is(marker.status, 200);
  await eventually(
    () =>
      receiver?.spans.some((span) => span.kind === SPAN_KIND.server && span.name.includes('GET /products')) ?? false,
    20_000,
    'the span of GET /products',
  );
  t.false(receiver.spans.some((span) => span.kind === SPAN_KIND.server && /health|metrics/.test(span.name)));
});
