import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';

import { RabbitCluster, TestEnvironment, metricSample, type RabbitNode } from '@shop/test-harness';

import {
  reportMissingTool,
  MISSING_RABBITMQ_SERVER,
  EventTap,
  eventually,
  flood,
  quantile,
  startSystem,
  unpublishedOutboxRows,
  type RunningSystem,
} from '../../src';

// Alarms and floods on a private RabbitMQ node of this file's own: an alarm on the shared broker
// would block every other test's publishers.

/** product-service's RPC timeout here: the default, so "fails at once" is measured against it. */
const RPC_TIMEOUT_MS = 3000;
/** A fast failure answers in well under the RPC timeout: this much at most, in ms (measured: < 50). */
const FAST_FAILURE_MS = RPC_TIMEOUT_MS / 3;
/** Writes with fresh (never validated) tokens made while an alarm holds. */
const FRESH_WRITES = 6;
/** Writes with a cached token made while an alarm holds. */
const CACHED_WRITES = 6;

/** The flood: connections past product-service's in-flight limit, for a bounded time. */
const FLOOD_IN_FLIGHT_LIMIT = 64;
const FLOOD_CONNECTIONS = 4 * FLOOD_IN_FLIGHT_LIMIT;
const FLOOD_SECONDS = 8;
/**
 * The bounds docs/benchmarks.md ("Load shedding") states for this flood on the shared 2-core
 * machine, about twice the worst measured there: what holds while neighbours load the machine.
 */
const SHED_P99_BOUND_MS = 5000;
const ACCEPTED_P99_BOUND_MS = 15_000;
const FLOOD_RSS_BOUND_MIB = 300;

let cluster: RabbitCluster | undefined;
let env: TestEnvironment | undefined;
let system: RunningSystem | undefined;

const credentials = { username: 'flow_user', password: 'flow-password-1' };
const json = { 'content-type': 'application/json' };

function theNode(): RabbitNode {
  const node = cluster?.nodes[0];
  if (!node) throw new Error('the private RabbitMQ node has not started');
  return node;
}

function running(): RunningSystem {
  if (!system) throw new Error('the system has not started');
  return system;
}

/** A serial test on the private node, or what stands for it where Debian's rabbitmq-server is missing. */
function clusterTest(title: string, body: (t: ExecutionContext) => Promise<void>): void {
  if (RabbitCluster.isAvailable()) test.serial(title, body);
  else reportMissingTool(title, MISSING_RABBITMQ_SERVER);
}

test.before(async () => {
  if (!RabbitCluster.isAvailable()) return;
  cluster = await RabbitCluster.start({ size: 1, label: 'flow' });
  env = await TestEnvironment.start();
  const amqpUrl = theNode().amqpUrl;
  system = await startSystem(env, {
    user: { AMQP_URL: amqpUrl },
    product: {
      AMQP_URL: amqpUrl,
      AUTH_RPC_TIMEOUT_MS: String(RPC_TIMEOUT_MS),
      // Long enough that a token validated before an alarm is still cached during it.
      AUTH_CACHE_TTL_MS: String(5 * 60 * 1000),
      LOAD_SHED_MAX_IN_FLIGHT: String(FLOOD_IN_FLIGHT_LIMIT),
      // Off here: on a machine shared with other test runs the loop's delay belongs to the machine,
      // and would shed this file's writes at random. The delay limit has its own unit tests.
      LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
    },
  });
  await fetch(`${system.user.baseUrl}/register`, { method: 'POST', headers: json, body: JSON.stringify(credentials) });
});

test.after.always(async () => {
  await system?.stop();
  await env?.close();
  await cluster?.stop();
});

async function login(): Promise<string> {
  const response = await fetch(`${running().user.baseUrl}/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify(credentials),
  });
  if (response.status !== 200) throw new Error(`login → ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

interface Write {
  status: number;
  ms: number;
  retryAfter: string | null;
  id?: number;
}

async function createProduct(token: string, name: string): Promise<Write> {
  const started = performance.now();
  const response = await fetch(`${running().product.baseUrl}/products`, {
    method: 'POST',
    headers: { ...json, authorization: `Bearer ${token}` },
    body: JSON.stringify({ name, price: 2.5, quantity: 1 }),
  });
  const body = (await response.json()) as { id?: number };
  return {
    status: response.status,
    ms: performance.now() - started,
    retryAfter: response.headers.get('retry-after'),
    ...(response.status === 201 ? { id: body.id } : {}),
  };
}

interface Health {
  status: string;
  checks: Record<string, { status: string; reason?: string }>;
}

async function health(baseUrl: string): Promise<{ code: number; body: Health }> {
  const response = await fetch(`${baseUrl}/health`);
  return { code: response.status, body: (await response.json()) as Health };
}

async function brokerStatus(baseUrl: string): Promise<string | undefined> {
  return (await health(baseUrl)).body.checks.broker?.status;
}

/**
 * One alarm scenario: a cached token and fresh ones ready, the alarm raised, writes of both kinds
 * during it, the alarm cleared (always), writes again, and every event of every 201 counted.
 */
async function alarmScenario(
  t: ExecutionContext,
  alarm: { name: string; reason: RegExp; raise: string[]; clear: string[] },
): Promise<void> {
  const node = theNode();
  const chaos = running();
  if (!cluster || !env) throw new Error('not started');
  const tap = await (
    await EventTap.open(node.amqpUrl, chaos.exchanges.product, env.queueName(`flow.${alarm.name}`))
  ).consume();
  t.teardown(() => tap.close());
  const failuresBefore = await metricSample(chaos.product.baseUrl, 'outbox_publish_failures_total');

  const cached = await login();
  const created: number[] = [];
  const before = await createProduct(cached, `${alarm.name}-before`);
  t.is(before.status, 201);
  if (before.id !== undefined) created.push(before.id);
  const fresh = await Promise.all(Array.from({ length: FRESH_WRITES }, () => login()));

  const during: { fresh: Write[]; cached: Write[] } = { fresh: [], cached: [] };
  try {
    await cluster.ctl(node, alarm.raise);
    await eventually(async () => alarm.reason.test(await alarms(node)), 30_000, `the ${alarm.name} alarm raised`);
    // RabbitMQ blocks a connection (and says so with connection.blocked) when it next publishes:
    // here the relay, publishing the event of a write with the cached token.
    const first = await createProduct(cached, `${alarm.name}-cached-first`);
    during.cached.push(first);
    await eventually(
      async () => (await brokerStatus(chaos.product.baseUrl)) === 'blocked',
      30_000,
      `product-service reporting the broker blocked by the ${alarm.name} alarm`,
    );
    const productHealth = await health(chaos.product.baseUrl);
    t.is(productHealth.code, 200, 'readiness stays 200: reads and cached writes still work');
    t.is(productHealth.body.status, 'degraded');
    t.regex(productHealth.body.checks.broker?.reason ?? '', alarm.reason);
    t.is(await metricSample(chaos.product.baseUrl, 'amqp_publishing_blocked'), 1);

    // Interleaved, as traffic would be: a fresh token (an RPC) and then a cached one.
    for (let i = 0; i < Math.max(FRESH_WRITES, CACHED_WRITES); i += 1) {
      const token = fresh[i];
      if (token !== undefined) during.fresh.push(await createProduct(token, `${alarm.name}-fresh-${i}`));
      if (i < CACHED_WRITES) during.cached.push(await createProduct(cached, `${alarm.name}-cached-${i}`));
    }
    // The first write's event may have slipped through before the block; the others wait.
    t.true(
      (await unpublishedOutboxRows(chaos.databaseUrls.product)) >= CACHED_WRITES,
      'the events of the writes made while blocked wait in the outbox',
    );
  } finally {
    await cluster.ctl(node, alarm.clear);
  }
  await eventually(async () => !alarm.reason.test(await alarms(node)), 30_000, `the ${alarm.name} alarm cleared`);

  t.log(`${alarm.name}: fresh-token writes ${JSON.stringify(during.fresh.map((w) => [w.status, Math.round(w.ms)]))}`);
  for (const write of during.fresh) {
    t.is(write.status, 503, 'an uncached check cannot be made while the broker is blocked');
    t.is(write.retryAfter, '5');
    t.true(
      write.ms < FAST_FAILURE_MS,
      `answered in ${Math.round(write.ms)} ms, well under the ${RPC_TIMEOUT_MS} ms timeout`,
    );
  }
  for (const write of during.cached) {
    t.is(write.status, 201, 'a cached validation needs no broker');
    if (write.id !== undefined) created.push(write.id);
  }
  t.true(
    (await metricSample(chaos.product.baseUrl, 'amqp_blocked_fast_failures_total')) >= FRESH_WRITES,
    'fast failures counted',
  );

  await eventually(
    async () => (await brokerStatus(chaos.product.baseUrl)) === 'up',
    30_000,
    'the broker reported up again',
  );
  t.is(await metricSample(chaos.product.baseUrl, 'amqp_publishing_blocked'), 0);
  const fresher = await login();
  const after = await createProduct(fresher, `${alarm.name}-after`);
  t.is(after.status, 201, 'a fresh token validates again the moment the broker unblocks');
  if (after.id !== undefined) created.push(after.id);

  // Every event of every 201: delivered, exactly once (no dedup needed), none parked or failed.
  await eventually(
    async () => (await unpublishedOutboxRows(chaos.databaseUrls.product)) === 0,
    30_000,
    'outbox drained',
  );
  const events = await tap.waitForDistinct(created.length, 15_000);
  t.deepEqual(
    events.map((event) => (event.body.data.product as { id: number }).id).sort((a, b) => a - b),
    [...created].sort((a, b) => a - b),
    'one product.created per 201, for exactly those products',
  );
  t.is(tap.deliveries.length, created.length, 'no event delivered twice');
  t.is(await metricSample(chaos.product.baseUrl, 'outbox_events_parked_total'), 0, 'nothing parked');
  t.is(
    await metricSample(chaos.product.baseUrl, 'outbox_publish_failures_total'),
    failuresBefore,
    'no publish attempt failed because of the alarm',
  );
  const lines = chaos.product.lines.filter((line) => /RabbitMQ (is not accepting|accepts) our messages/.test(line.msg));
  t.true(lines.length >= 2, 'a log line when the block began and one when it ended');
}

clusterTest(
  'memory alarm → uncached writes 503 at once, cached ones 201, broker blocked; after it every event once',
  async (t) => {
    await alarmScenario(t, {
      name: 'memory',
      reason: /memory/i,
      raise: ['set_vm_memory_high_watermark', '0.0001'],
      clear: ['set_vm_memory_high_watermark', '0.4'],
    });
  },
);

clusterTest(
  'disk alarm → uncached writes 503 at once, cached ones 201, broker blocked; after it every event once',
  async (t) => {
    await alarmScenario(t, {
      name: 'disk',
      reason: /disk/i,
      // Far above any disk's free space; back to RabbitMQ's default afterwards.
      raise: ['set_disk_free_limit', '1000000000000000'],
      clear: ['set_disk_free_limit', '50000000'],
    });
  },
);

/** The node's alarms as `rabbit_alarm:get_alarms()` lists them (`[]` when none). */
async function alarms(node: RabbitNode): Promise<string> {
  if (!cluster) throw new Error('not started');
  return cluster.ctl(node, ['eval', 'rabbit_alarm:get_alarms().']);
}

function statusCountsOf(answers: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of answers) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kib / 1024;
}

clusterTest(
  'flood past capacity → stays up, work in progress bounded, memory bounded, shed requests 503 fast, normal service at once after',
  async (t) => {
    const chaos = running();
    const base = chaos.product.baseUrl;
    const url = `${base}/products?limit=100`;
    const shedBefore = await metricSample(base, 'http_requests_shed_total', { limit: 'in_flight' });

    // Liveness and the in-flight gauge, sampled all along (neither is ever shed), and a polite
    // client beside the flood: one request at a time, a fresh connection each, as a new user.
    const watch = { on: true, probes: 0, failures: 0, maxInFlight: 0 };
    const polite: { status: number; ms: number }[] = [];
    const watcher = (async () => {
      while (watch.on) {
        const code = await fetch(`${base}/health/live`, { signal: AbortSignal.timeout(5000) }).then(
          (response) => response.status,
          () => 0,
        );
        watch.probes += 1;
        if (code !== 200) watch.failures += 1;
        const inFlight = await metricSample(base, 'http_requests_in_flight').catch(() => Number.NaN);
        watch.maxInFlight = Math.max(watch.maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    const politeClient = (async () => {
      while (watch.on) {
        const started = performance.now();
        const status = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(20_000) }).then(
          async (response) => {
            await response.arrayBuffer();
            return response.status;
          },
          () => 0,
        );
        polite.push({ status, ms: performance.now() - started });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const result = await flood({ url, connections: FLOOD_CONNECTIONS, seconds: FLOOD_SECONDS });
    watch.on = false;
    await Promise.all([watcher, politeClient]);

    const accepted = result.latenciesByStatus['200'] ?? [];
    const shed = result.latenciesByStatus['503'] ?? [];
    const others = Object.keys(result.latenciesByStatus).filter((status) => status !== '200' && status !== '503');
    const politeShed = polite.filter((answer) => answer.status === 503).map((answer) => answer.ms);
    const ms = (values: number[], q: number) => Math.round(quantile(values, q));
    t.log(
      `flood of ${FLOOD_CONNECTIONS} connections, limit ${FLOOD_IN_FLIGHT_LIMIT}: ` +
        `${accepted.length} × 200 (p50 ${ms(accepted, 0.5)} / p99 ${ms(accepted, 0.99)} ms), ` +
        `${shed.length} × 503 (p50 ${ms(shed, 0.5)} / p99 ${ms(shed, 0.99)} ms), ${result.errors} errors; ` +
        `polite client ${JSON.stringify(statusCountsOf(polite))}, its 503s p50 ${ms(politeShed, 0.5)} / max ` +
        `${ms(politeShed, 1)} ms; liveness ${watch.probes - watch.failures}/${watch.probes}, most in flight ${watch.maxInFlight}`,
    );
    t.true(chaos.product.running, 'the service stayed up');
    t.is(watch.failures, 0, 'liveness answered 200 throughout');
    t.true(watch.maxInFlight <= FLOOD_IN_FLIGHT_LIMIT, 'never more requests in progress than the limit');
    t.deepEqual(others, [], 'only 200 and 503');
    t.is(result.errors, 0, 'no request went unanswered');
    t.true(shed.length > 0, 'past the limit, requests were shed');
    t.true(accepted.length > 0, 'within the limit, requests were served');
    t.true(
      polite.every((answer) => answer.status === 200 || answer.status === 503),
      'the polite client got 200 or 503',
    );
    t.true(quantile(shed, 0.99) <= SHED_P99_BOUND_MS, `shed p99 ≤ ${SHED_P99_BOUND_MS} ms`);
    t.true(
      politeShed.every((latency) => latency <= SHED_P99_BOUND_MS),
      `every 503 of the polite client ≤ ${SHED_P99_BOUND_MS} ms`,
    );
    t.true(quantile(accepted, 0.99) <= ACCEPTED_P99_BOUND_MS, `accepted p99 ≤ ${ACCEPTED_P99_BOUND_MS} ms`);
    const rss = await residentMiB(chaos.product.pid);
    t.log(`product-service resident after the flood: ${rss.toFixed(1)} MiB`);
    t.true(rss <= FLOOD_RSS_BOUND_MIB, `resident ${rss.toFixed(1)} MiB ≤ ${FLOOD_RSS_BOUND_MIB} MiB`);
    t.true(
      (await metricSample(base, 'http_requests_shed_total', { limit: 'in_flight' })) - shedBefore >= shed.length,
      'every shed request counted',
    );

    // Normal service at once: the very next requests are served.
    const token = await login();
    t.is((await fetch(url)).status, 200);
    t.is((await createProduct(token, 'after-flood')).status, 201);
    // The flood's last requests, cut off when autocannon closed its sockets, leave the count too.
    await eventually(
      async () => (await metricSample(base, 'http_requests_in_flight')) === 0,
      10_000,
      'nothing in flight',
    );
  },
);
