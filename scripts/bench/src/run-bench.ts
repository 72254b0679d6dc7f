/**
 * `npm run bench`: starts both services in production mode on fresh databases, seeds the
 * catalogue, runs every scenario beside the ceiling measured in the same run, prints one table
 * and writes scripts/bench/results/latest.json and docs/benchmarks.md. Everything it created is
 * removed at the end, on failure and on Ctrl-C.
 */
import { RabbitCluster, TestEnvironment } from '@shop/test-harness';

import { evaluateBudget } from './budget';
import { Cleanup } from './cleanup';
import { labelProcess } from './cpu-usage';
import { describeMachine } from './machine';
import { parseOptions, type ScenarioGroup } from './options';
import { killAllChildren, profileWorkersInto } from './processes';
import { progress } from './progress';
import { describeRevision } from './revision';
import { renderText, writeJson, writeMarkdown } from './report';
import { renderScaling } from './scaling-report';
import type { BenchResults } from './results';
import type { ScenarioContext } from './scenarios/context';
import { cachedWrites } from './scenarios/cached-writes';
import { footprint } from './scenarios/footprint';
import { login } from './scenarios/login';
import { productsHttp } from './scenarios/products-http';
import { rpcRoundTrip } from './scenarios/rpc-round-trip';
import { scaling } from './scenarios/scaling';
import { unavailable } from './scenarios/unavailable';
import { startStack } from './stack';

async function main(cleanup: Cleanup): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const startedAt = new Date();
  if (options.profileDir) profileWorkersInto(options.profileDir);

  progress('finding PostgreSQL and RabbitMQ');
  const env = await TestEnvironment.start();
  cleanup.add('drop the databases and queues', () => env.close());
  const machine = await describeMachine(env.databaseUrl('postgres'), env.amqpUrl);
  progress(
    `${machine.cpuModel}, ${machine.cores} cores, load average ${machine.loadAverageAtStart}; ` +
      `PostgreSQL ${machine.postgresql}, RabbitMQ ${machine.rabbitmq}, Node ${machine.node}`,
  );

  if (machine.loadAverageAtStart > machine.cores / 2) {
    progress(
      `warning: load average ${machine.loadAverageAtStart} on ${machine.cores} cores before the bench started: ` +
        'another job is running, and the ratios will be noisy (see the "neighbour cores" column)',
    );
  }
  const stack = await startStack(env, options, cleanup, await privateBrokerUrl(options.privateBroker, cleanup));
  const context: ScenarioContext = { env, stack, options, cleanup };

  const wanted = (group: ScenarioGroup): boolean => options.only.length === 0 || options.only.includes(group);
  const rpc = wanted('rpc') ? await rpcRoundTrip(context) : { comparisons: [], pendingAfter: 0 };
  const http = wanted('products') ? await productsHttp(context) : [];
  const cached = wanted('cached') ? await cachedWrites(context) : [];
  const logins = wanted('login') ? await login(context) : [];
  const down = wanted('unavailable') ? await unavailable(context) : { cases: [], probePending: 0 };
  const memory = await footprint(stack, {
    probeServicePending: down.probePending,
    requesterPendingAfterRuns: rpc.pendingAfter,
  });
  // Only when asked for (docs/scaling.md), and after the memory figure, which it would change.
  const scaled = options.only.includes('scaling') ? await scaling(context) : undefined;

  const finishedAt = new Date();
  const measured = {
    comparisons: [...rpc.comparisons, ...http, ...cached, ...logins],
    unavailable: down.cases,
    footprint: memory,
  };
  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    wallSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    command: options.command,
    settings: {
      warmupSeconds: options.warmupSeconds,
      durationSeconds: options.durationSeconds,
      repeats: options.repeats,
      products: options.products,
      bcryptRounds: options.bcryptRounds,
      serviceNodeArgs: options.serviceNodeArgs,
      smoke: options.smoke,
    },
    machine,
    revision: describeRevision(),
    ...measured,
    ...(scaled ? { scaling: scaled } : {}),
    budget: evaluateBudget(measured),
  };

  writeJson(options.resultsPath, results);
  if (options.docsPath) writeMarkdown(options.docsPath, results);
  process.stdout.write(`${renderText(results)}\n`);
  if (results.scaling) process.stdout.write(`\n${renderScaling(results.scaling)}\n`);
  progress(`wrote ${options.resultsPath}${options.docsPath ? ` and ${options.docsPath}` : ''}`);
}

/**
 * With `--private-broker`, a RabbitMQ node of the bench's own (the test harness's RabbitCluster),
 * its VM labelled so its CPU shows apart from the shared broker's; otherwise undefined.
 */
async function privateBrokerUrl(wanted: boolean, cleanup: Cleanup): Promise<string | undefined> {
  if (!wanted) return undefined;
  if (!RabbitCluster.isAvailable()) throw new Error("--private-broker needs Debian's rabbitmq-server package");
  progress('starting a private RabbitMQ node');
  const broker = await RabbitCluster.start({ size: 1, label: 'bench' });
  cleanup.add('stop the private RabbitMQ node', () => broker.stop());
  const [node] = broker.nodes;
  labelProcess(node?.pid, 'rabbitmq (private)');
  return node?.amqpUrl;
}

const cleanup = new Cleanup();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping and cleaning up`);
    killAllChildren('SIGTERM');
    void cleanup.run().finally(() => process.exit(130));
  });
}

main(cleanup)
  .then(() => cleanup.run())
  .catch(async (error: unknown) => {
    // After Ctrl-C the workers die on purpose; their errors are not the news.
    if (!interrupted) progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await cleanup.run();
    process.exitCode = 1;
  });
