/**
 * `npm run bench:cluster`: the `auth.validate_token` queue as a classic and as a quorum queue on a
 * private 3-node RabbitMQ cluster (never the broker on 5672), to choose `AUTH_RPC_QUEUE_TYPE`.
 * For each type: user-service in production mode connected to node 1 (where it declares the
 * queue, so the queue's home or leader is there), product-service's TokenValidationClient on node
 * 2; latency and throughput at 1 and 16 calls in flight (the rpc-load worker of the main bench),
 * then node 1 killed with 16 in flight: how long until calls are answered again, and how many fail.
 * Prints a Markdown table for docs/benchmarks.md. Everything is stopped at the end, on failure and
 * on Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { TokenValidationClient } from '@shop/product-service';
import { createLogger } from '@shop/shared-runtime';
import { connectToBroker } from '@shop/shared-runtime/messaging';
import { RabbitCluster, TestEnvironment, type RabbitNode } from '@shop/test-harness';

import { Cleanup } from './cleanup';
import { killAllChildren, runWorker } from './processes';
import { progress } from './progress';
import { startService, type BenchService } from './service-process';
import type { RpcLoadResult, RpcLoadSpec } from './workers/rpc-load.worker';

const QUEUE_TYPES = ['classic', 'quorum'] as const;
type QueueType = (typeof QUEUE_TYPES)[number];
const LEVELS = [1, 16];
/** The contract's default AUTH_RPC_TIMEOUT_MS. */
const TIMEOUT_MS = 3000;
/** How long calls are watched after the kill before the node is started again, in ms. */
const OUTAGE_WATCH_MS = 30_000;
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const DURATION_SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 10);

interface Failover {
  /** ms from the kill to the first answered call after the last failed one; undefined: none within the watch. */
  recoveredAfterMs: number | undefined;
  /** ms from the node's restart to the first answered call, when it did not recover before. */
  afterRestartMs: number | undefined;
  failedCalls: number;
  answeredCalls: number;
  /** The longest an answered call waited among those answered after the kill, in ms. */
  slowestAnswerMs: number;
}

interface TypeResult {
  type: QueueType;
  levels: { inFlight: number; run: RpcLoadResult }[];
  failover: Failover;
}

async function main(cleanup: Cleanup): Promise<void> {
  progress(`load average ${loadavg().join(', ')} on ${cpus().length} cores`);
  const env = await TestEnvironment.start();
  cleanup.add('drop the databases', () => env.close());
  progress('starting a private 3-node RabbitMQ cluster');
  const cluster = await RabbitCluster.start({ size: 3, label: 'b' });
  cleanup.add('stop the cluster', () => cluster.stop());
  const [n1, n2, n3] = cluster.nodes;
  if (!n1 || !n2 || !n3) throw new Error('the cluster has fewer than 3 nodes');
  const database = await env.createDatabase('benchclusterusers');
  const secretKey = randomBytes(32).toString('hex');

  const results: TypeResult[] = [];
  for (const type of QUEUE_TYPES) {
    const queue = `bench.auth.validate_token.${type}`;
    progress(`${type}: user-service on ${n1.name}`);
    const user = await startService('user-service', {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      AMQP_URL: [n1, n2, n3].map((node) => node.amqpUrl).join(','),
      AUTH_RPC_QUEUE: queue,
      AUTH_RPC_QUEUE_TYPE: type,
      SECRET_KEY: secretKey,
      BCRYPT_ROUNDS: '4',
      RATE_LIMIT_PER_MINUTE: '0',
    });
    cleanup.add(`stop user-service (${type})`, () => user.stop(5000));
    const token = await tokenOf(user, type);
    const levels: TypeResult['levels'] = [];
    for (const inFlight of LEVELS) {
      progress(`${type}: ${inFlight} in flight for ${DURATION_SECONDS} s`);
      const run = await runWorker<RpcLoadResult>('workers/rpc-load.worker', {
        requester: 'project',
        amqpUrl: n2.amqpUrl,
        queue,
        token,
        inFlight,
        warmupSeconds: WARMUP_SECONDS,
        durationSeconds: DURATION_SECONDS,
        timeoutMs: TIMEOUT_MS,
      } satisfies RpcLoadSpec);
      levels.push({ inFlight, run });
    }
    const hosting = (await cluster.leaderOf(queue)) ?? n1;
    progress(`${type}: killing ${hosting.name}, which hosts the queue, with 16 calls in flight`);
    const failover = await measureFailover(cluster, hosting, [n2, n3, n1], queue, token);
    await waitForHealth(user);
    await user.stop(5000);
    results.push({ type, levels, failover });
  }
  process.stdout.write(
    `\n${renderTable(results)}\n\nload average at the end: ${loadavg().join(', ')} on ${cpus().length} cores\n`,
  );
}

/** Registers and logs in a user of this run, for a token user-service will find valid. */
async function tokenOf(user: BenchService, label: string): Promise<string> {
  const credentials = { username: `bench_cluster_${label}`, password: 'bench-cluster-password' };
  const headers = { 'content-type': 'application/json' };
  await fetch(`${user.baseUrl}/register`, { method: 'POST', headers, body: JSON.stringify(credentials) });
  const response = await fetch(`${user.baseUrl}/login`, { method: 'POST', headers, body: JSON.stringify(credentials) });
  if (response.status !== 200) throw new Error(`login answered ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/**
 * 16 loops of calls through the project's client on the surviving nodes; `node` killed once
 * they run. Watched for {@link OUTAGE_WATCH_MS}; when calls are still failing, the node is started
 * again and the time to the first answer after that is measured too.
 */
async function measureFailover(
  cluster: RabbitCluster,
  node: RabbitNode,
  urls: RabbitNode[],
  queue: string,
  token: string,
): Promise<Failover> {
  const logger = createLogger({ level: 'silent', service: 'bench-requester', version: '0' });
  const client = new TokenValidationClient({
    queue,
    timeoutMs: TIMEOUT_MS,
    logger,
    userId: 'guest',
    responderUserId: 'guest',
  });
  const broker = await connectToBroker({
    urls: urls.map((candidate) => candidate.amqpUrl),
    connectionName: 'bench-cluster-requester',
    setup: client.setup,
    logger,
  });
  while (!client.isReady) await new Promise((resolve) => setTimeout(resolve, 10));
  const outcomes: { sent: number; at: number; ok: boolean }[] = [];
  let running = true;
  let sequence = 0;
  const loop = async (): Promise<void> => {
    while (running) {
      const sent = performance.now();
      const ok = await client.validate(token, { requestId: `bench-failover-${(sequence += 1)}` }).then(
        () => true,
        () => false,
      );
      outcomes.push({ sent, at: performance.now(), ok });
      // A failing call returns at once while the channel is down: do not spin.
      if (!ok) await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const loops = Array.from({ length: 16 }, loop);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const killedAt = performance.now();
  cluster.kill(node);
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_WATCH_MS));
  const watched = outcomes.filter((outcome) => outcome.at > killedAt);
  const lastFailure = watched.filter((outcome) => !outcome.ok).at(-1);
  const recovered = lastFailure ? watched.find((outcome) => outcome.ok && outcome.at > lastFailure.at) : watched[0];
  const tailOk = watched.slice(-16).every((outcome) => outcome.ok);
  let afterRestartMs: number | undefined;
  progress(`starting ${node.name} again`);
  const restartedAt = performance.now();
  await cluster.restart(node);
  if (!tailOk) {
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline && afterRestartMs === undefined) {
      const answer = outcomes.find((outcome) => outcome.ok && outcome.at > restartedAt);
      if (answer) afterRestartMs = Math.round(answer.at - restartedAt);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  running = false;
  await Promise.all(loops);
  await client.close();
  await broker.close().catch(() => undefined);
  return {
    recoveredAfterMs: tailOk && recovered ? Math.round(recovered.at - killedAt) : undefined,
    afterRestartMs,
    failedCalls: watched.filter((outcome) => !outcome.ok).length,
    answeredCalls: watched.filter((outcome) => outcome.ok).length,
    slowestAnswerMs: Math.round(
      Math.max(0, ...watched.filter((outcome) => outcome.ok).map((outcome) => outcome.at - outcome.sent)),
    ),
  };
}

async function waitForHealth(service: BenchService): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const status = await fetch(`${service.baseUrl}/health`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function renderTable(results: TypeResult[]): string {
  const rows = results.map(({ type, levels, failover }) => {
    const cells = levels.map(
      ({ run }) => `${Math.round(run.opsPerSecond)}/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms`,
    );
    const outage =
      failover.recoveredAfterMs === undefined
        ? `no answer for ${OUTAGE_WATCH_MS / 1000} s; answers ${failover.afterRestartMs ?? '?'} ms after the node restarted`
        : failover.failedCalls === 0
          ? `no call failed; the slowest answer took ${failover.slowestAnswerMs} ms`
          : `answers again ${failover.recoveredAfterMs} ms after the kill; the slowest answer took ${failover.slowestAnswerMs} ms`;
    return `| ${type} | ${cells.join(' | ')} | ${outage} (${failover.failedCalls} calls failed, ${failover.answeredCalls} answered in ${OUTAGE_WATCH_MS / 1000} s) |`;
  });
  return [
    `| queue type | 1 in flight | 16 in flight | node hosting the queue killed (16 in flight) |`,
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

const cleanup = new Cleanup();
process.once('SIGINT', () => {
  killAllChildren('SIGKILL');
  void cleanup.run().then(() => process.exit(130));
});
main(cleanup)
  .then(() => cleanup.run())
  .catch(async (error: unknown) => {
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await cleanup.run();
    process.exitCode = 1;
  });
