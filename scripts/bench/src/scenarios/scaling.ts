import { scrapeMetrics } from '@shop/test-harness';

import { CpuWindow, MACHINE_BUSY, type WindowMark } from '../cpu-usage';
import { runHttpLoad, type HttpLoadSpec } from '../load';
import { round, type RunMeasurement } from '../measurement';
import { runWorker } from '../processes';
import { progress } from '../progress';
import type { CostRow, ResponderRow, ScalingResults } from '../results';
import { startService } from '../service-process';
import type { RpcLoadResult, RpcLoadSpec } from '../workers/rpc-load.worker';
import type { ScenarioContext } from './context';

/**
 * Token validations kept in flight: twice the prefetch (64), so one responder always has a full
 * prefetch and a backlog, and each of two has a full prefetch: both cases saturate the responders.
 */
const RPC_IN_FLIGHT = 128;

/** HTTP connections of the cost runs: the machine's 2 cores are saturated well before. */
const CONNECTIONS = 16;

/** The contract's default AUTH_RPC_TIMEOUT_MS. */
const TIMEOUT_MS = 3000;

const NEW_PRODUCT = JSON.stringify({
  name: 'Scaling widget',
  description: 'Created by npm run bench (scaling)',
  price: 4.5,
  quantity: 2,
});

/**
 * What capacity planning needs, in CPU time rather than wall-clock throughput (the machine is
 * shared and has 2 cores): the CPU each process spends per token validation, per write (with
 * and without the validation cache) and per read; the RPCs a cached write still makes; and
 * whether a second responder shares `auth.validate_token` evenly without losing throughput.
 */
export async function scaling(ctx: ScenarioContext): Promise<ScalingResults> {
  const { stack, options, cleanup } = ctx;
  const costs: CostRow[] = [];
  const measure = async (
    operation: string,
    load: string,
    run: Runner,
    warmupSeconds = options.warmupSeconds,
  ): Promise<RunMeasurement[]> => {
    const runs = await repeat(`scaling · ${operation}`, options.repeats, warmupSeconds, run);
    costs.push(costRow(operation, load, runs));
    return runs;
  };

  const rpcRun =
    (): Runner =>
    (warmupSeconds, onMark): Promise<RpcLoadResult> =>
      runWorker<RpcLoadResult>(
        'workers/rpc-load.worker',
        {
          requester: 'project',
          amqpUrl: stack.amqpUrl,
          queue: stack.queue,
          token: stack.token,
          inFlight: RPC_IN_FLIGHT,
          warmupSeconds,
          durationSeconds: options.durationSeconds,
          timeoutMs: TIMEOUT_MS,
        } satisfies RpcLoadSpec,
        onMark,
      );

  // 1 and 2 responders alternate (1 2, then 2 1, …), a second user-service started and stopped
  // around its runs, so a drift of the shared machine's speed weighs on both alike.
  const byCount = new Map<number, { runs: RunMeasurement[]; handled: number[] }>([
    [1, { runs: [], handled: [0] }],
    [2, { runs: [], handled: [0, 0] }],
  ]);
  for (let index = 0; index < options.repeats; index += 1) {
    for (const count of index % 2 === 0 ? [1, 2] : [2, 1]) {
      const instances = [stack.user];
      if (count === 2) {
        const second = await startService('user-service', stack.userEnv, {
          nodeArgs: options.serviceNodeArgs,
          label: 'user-service #2',
        });
        cleanup.add('stop user-service #2', () => second.stop());
        instances.push(second);
      }
      const before = await Promise.all(instances.map((instance) => requestsHandled(instance.baseUrl)));
      const [run] = await repeat(
        `scaling · token validation, ${count} responder(s) · round ${index + 1}/${options.repeats}`,
        1,
        // Every run warms up: the second responder is a fresh process each time.
        options.warmupSeconds,
        rpcRun(),
      );
      const after = await Promise.all(instances.map((instance) => requestsHandled(instance.baseUrl)));
      const entry = byCount.get(count);
      if (entry && run) {
        entry.runs.push(run);
        after.forEach((value, position) => {
          entry.handled[position] = (entry.handled[position] ?? 0) + value - (before[position] ?? 0);
        });
      }
      await Promise.all(instances.slice(1).map((instance) => instance.stop()));
    }
  }
  const responders: ResponderRow[] = [];
  for (const [count, { runs, handled }] of byCount) {
    costs.push(costRow(`token validation, ${count} responder(s)`, `${RPC_IN_FLIGHT} in flight`, runs));
    const total = handled.reduce((sum, value) => sum + value, 0);
    responders.push({
      responders: count,
      opsPerSecond: mean(runs.map((run) => run.opsPerSecond)),
      handled,
      shares: handled.map((value) => (total > 0 ? round(value / total, 3) : 0)),
      neighbourCores: mean(runs.map((run) => run.cpu?.['other processes'] ?? 0)),
    });
  }

  const http =
    (
      baseUrl: string,
      spec: Omit<HttpLoadSpec, 'url' | 'connections' | 'warmupSeconds' | 'durationSeconds'>,
      path: string,
    ): Runner =>
    (warmupSeconds, onMark) =>
      runHttpLoad(
        {
          ...spec,
          url: `${baseUrl}${path}`,
          connections: CONNECTIONS,
          warmupSeconds,
          durationSeconds: options.durationSeconds,
        },
        onMark,
      );
  const write = {
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    bearerTokens: stack.bearerTokens,
    body: NEW_PRODUCT,
    expectStatuses: [201],
  };
  const load = `${CONNECTIONS} connections`;
  await measure(
    'GET /products/{id}',
    load,
    http(
      stack.product.baseUrl,
      {
        method: 'GET',
        expectStatuses: [200],
        idPath: { prefix: '/products/', ...stack.productIds },
      },
      '',
    ),
  );
  await measure(
    'GET /products?limit=100',
    load,
    http(stack.product.baseUrl, { method: 'GET', expectStatuses: [200] }, '/products?limit=100'),
  );
  await measure('POST /products, validation cache off', load, http(stack.product.baseUrl, write, '/products'));

  const cached = await startService('product-service', stack.productEnv, {
    nodeArgs: options.serviceNodeArgs,
    label: 'product-service (cache)',
  });
  cleanup.add('stop product-service (cache)', () => cached.stop());
  // One untimed run fills the cache; the RPCs counted around the measured runs are then what
  // the steady state still makes (TTL expiries, and nothing else with these tokens).
  progress('scaling · filling the validation cache');
  await runHttpLoad({
    ...write,
    url: `${cached.baseUrl}/products`,
    connections: CONNECTIONS,
    warmupSeconds: options.warmupSeconds,
    durationSeconds: 1,
  });
  const rpcsBefore = await rpcCalls(cached.baseUrl);
  const cachedRuns = await measure(
    'POST /products, validation cache on',
    load,
    http(cached.baseUrl, write, '/products'),
    0,
  );
  const rpcsAfter = await rpcCalls(cached.baseUrl);
  await cached.stop();
  const writes = cachedRuns.reduce((sum, run) => sum + run.completed, 0);

  return {
    costs,
    responders,
    cache: {
      tokens: stack.bearerTokens.length,
      rpcCalls: rpcsAfter - rpcsBefore,
      writes,
    },
  };
}

type Runner = (warmupSeconds: number, onMark: (mark: WindowMark) => void) => Promise<RunMeasurement>;

/** `repeats` measured runs, the first after the warm-up, each with the CPU every process used. */
async function repeat(what: string, repeats: number, warmupSeconds: number, run: Runner): Promise<RunMeasurement[]> {
  const runs: RunMeasurement[] = [];
  for (let index = 0; index < repeats; index += 1) {
    progress(`${what} · run ${index + 1}/${repeats}`);
    const window = new CpuWindow();
    const measured = await run(index === 0 ? warmupSeconds : 0, window.mark);
    const cpu = window.shares();
    progress(`  → ${measured.opsPerSecond.toFixed(1)}/s; cores: ${JSON.stringify(cpu)}`);
    runs.push({ ...measured, cpu });
  }
  return runs;
}

/** CPU µs per answer of each process (mean over the runs), and the throughput they ran at. */
function costRow(operation: string, load: string, runs: RunMeasurement[]): CostRow {
  const micros: Record<string, number[]> = {};
  for (const run of runs) {
    if (!run.cpu || run.opsPerSecond <= 0) continue;
    for (const [label, cores] of Object.entries(run.cpu)) {
      if (label === MACHINE_BUSY || label === 'bench') continue;
      (micros[label] ??= []).push((cores / run.opsPerSecond) * 1e6);
    }
  }
  return {
    operation,
    load,
    opsPerSecond: mean(runs.map((run) => run.opsPerSecond)),
    failed: runs.reduce((sum, run) => sum + run.failed, 0),
    microsPerOp: Object.fromEntries(Object.entries(micros).map(([label, values]) => [label, Math.round(mean(values))])),
  };
}

/** Token-validation requests an instance has answered, whatever the outcome. */
async function requestsHandled(baseUrl: string): Promise<number> {
  return sumOf(await scrapeMetrics(baseUrl), 'rpc_server_requests_total');
}

/** Token-validation RPCs a product-service has made, whatever the outcome. */
async function rpcCalls(baseUrl: string): Promise<number> {
  return sumOf(await scrapeMetrics(baseUrl), 'rpc_client_calls_total');
}

/** The sum of every sample of `name` (all its label sets) in a Prometheus scrape. */
function sumOf(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) sum += Number(match[2]);
  }
  return sum;
}

function mean(values: number[]): number {
  return values.length ? round(values.reduce((sum, value) => sum + value, 0) / values.length, 1) : 0;
}
