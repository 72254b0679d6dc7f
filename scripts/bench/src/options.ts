import path from 'node:path';
import { parseArgs } from 'node:util';

/** The repository root, from `scripts/bench/dist/src`. */
export const REPO_ROOT = path.resolve(__dirname, '../../../..');

export const SCENARIO_GROUPS = ['rpc', 'products', 'cached', 'login', 'unavailable', 'scaling'] as const;
export type ScenarioGroup = (typeof SCENARIO_GROUPS)[number];

export interface BenchOptions {
  /** Load before each level's first measured run, untimed, so JIT and pools are warm; seconds. */
  warmupSeconds: number;
  /** Length of one measured run, in seconds. */
  durationSeconds: number;
  /** Measured runs per level and target, interleaved with the ceiling's. */
  repeats: number;
  /** Products seeded into product-service's database before the reads. */
  products: number;
  /** user-service's BCRYPT_ROUNDS, and the bcrypt ceiling's cost. */
  bcryptRounds: number;
  /** AUTH_RPC_TIMEOUT_MS of the product-service that measures the time to 503, in ms. */
  unavailableTimeoutMs: number;
  /** Requests sent in each time-to-503 case. */
  unavailableRequests: number;
  /** Where the JSON results go. */
  resultsPath: string;
  /** Where the Markdown report goes; undefined to write none. */
  docsPath: string | undefined;
  /** When set, both services run with `--cpu-prof` and write their profiles here at exit. */
  profileDir: string | undefined;
  /** Extra node flags for both services, e.g. `--max-old-space-size=96`, to try a runtime setting. */
  serviceNodeArgs: string[];
  /**
   * Scenario groups to run; all but `scaling` when empty (budget lines of the others read "not
   * measured"). `scaling` (docs/scaling.md) runs only when named.
   */
  only: ScenarioGroup[];
  /**
   * Both services export OpenTelemetry traces (OTLP/HTTP protobuf) to a sink in the bench
   * process, to measure what tracing costs; off by default, as in production without an endpoint.
   */
  tracing: boolean;
  /**
   * Run the stack on a private RabbitMQ node (Debian's rabbitmq-server, started and stopped by
   * the bench), so the broker's CPU counts this run's messages only, not a neighbour's.
   */
  privateBroker: boolean;
  /** The tiny preset of the smoke test. */
  smoke: boolean;
  /** The command line, as the report shows it. */
  command: string;
}

const USAGE = `npm run bench -- [options]   (each also as an environment variable)
  --warmup <s>          BENCH_WARMUP_S            untimed load before a level (default 2)
  --duration <s>        BENCH_DURATION_S          one measured run (default 8)
  --repeats <n>         BENCH_REPEATS             measured runs per level (default 2)
  --products <n>        BENCH_PRODUCTS            products seeded (default 10000)
  --bcrypt-rounds <n>   BENCH_BCRYPT_ROUNDS       user-service BCRYPT_ROUNDS (default 12)
  --rpc-timeout <ms>    BENCH_RPC_TIMEOUT_MS      AUTH_RPC_TIMEOUT_MS of the time-to-503 probe (default 1000)
  --results <file>      BENCH_RESULTS             JSON results (default scripts/bench/results/latest.json)
  --docs <file|none>    BENCH_DOCS                Markdown report (default docs/benchmarks.md)
  --profile <dir>       BENCH_PROFILE_DIR         services, workers and baselines write --cpu-prof profiles into <dir>
  --service-node-args <flags>  BENCH_SERVICE_NODE_ARGS  node flags for both services (default none)
  --only <a,b>          BENCH_ONLY                scenario groups: ${SCENARIO_GROUPS.join(', ')} (default all but scaling)
  --tracing             BENCH_TRACING=1           services export traces to an OTLP sink (default off)
  --private-broker      BENCH_PRIVATE_BROKER=1    run on a private RabbitMQ node (Debian's rabbitmq-server), not the shared one
  --smoke                                         0.3 s runs, no warm-up, one run, bcrypt cost 4, 200 products`;

/** Reads flags, then `BENCH_*` variables, then the defaults (the smoke preset's when --smoke). */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      warmup: { type: 'string' },
      duration: { type: 'string' },
      repeats: { type: 'string' },
      products: { type: 'string' },
      'bcrypt-rounds': { type: 'string' },
      'rpc-timeout': { type: 'string' },
      results: { type: 'string' },
      docs: { type: 'string' },
      profile: { type: 'string' },
      'service-node-args': { type: 'string' },
      only: { type: 'string' },
      tracing: { type: 'boolean', default: false },
      'private-broker': { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const smoke = values.smoke;
  const number = (flag: string | undefined, variable: string, fallback: number, min: number, max: number): number => {
    const raw = flag ?? env[variable];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new Error(`${variable} (or its flag) must be a number from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
  const docs = values.docs ?? env.BENCH_DOCS;
  const profileDir = values.profile ?? env.BENCH_PROFILE_DIR;
  const only = (values.only ?? env.BENCH_ONLY ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const unknown = only.filter((name) => !(SCENARIO_GROUPS as readonly string[]).includes(name));
  if (unknown.length)
    throw new Error(`BENCH_ONLY (or --only): unknown ${unknown.join(', ')}; use ${SCENARIO_GROUPS.join(', ')}`);
  return {
    warmupSeconds: number(values.warmup, 'BENCH_WARMUP_S', smoke ? 0 : 2, 0, 60),
    durationSeconds: number(values.duration, 'BENCH_DURATION_S', smoke ? 0.3 : 8, 0.2, 120),
    repeats: Math.round(number(values.repeats, 'BENCH_REPEATS', smoke ? 1 : 2, 1, 10)),
    products: Math.round(number(values.products, 'BENCH_PRODUCTS', smoke ? 200 : 10_000, 1, 1_000_000)),
    bcryptRounds: Math.round(number(values['bcrypt-rounds'], 'BENCH_BCRYPT_ROUNDS', smoke ? 4 : 12, 4, 15)),
    unavailableTimeoutMs: Math.round(
      number(values['rpc-timeout'], 'BENCH_RPC_TIMEOUT_MS', smoke ? 200 : 1000, 50, 60_000),
    ),
    unavailableRequests: smoke ? 20 : 200,
    resultsPath: path.resolve(
      values.results ?? env.BENCH_RESULTS ?? path.join(REPO_ROOT, 'scripts/bench/results/latest.json'),
    ),
    docsPath: docs === 'none' ? undefined : path.resolve(docs ?? path.join(REPO_ROOT, 'docs/benchmarks.md')),
    profileDir: profileDir ? path.resolve(profileDir) : undefined,
    only: only as ScenarioGroup[],
    serviceNodeArgs: (values['service-node-args'] ?? env.BENCH_SERVICE_NODE_ARGS ?? '')
      .split(' ')
      .filter((flag) => flag.length > 0),
    tracing: values.tracing || env.BENCH_TRACING === '1',
    privateBroker: values['private-broker'] || ['1', 'true'].includes(env.BENCH_PRIVATE_BROKER ?? ''),
    smoke,
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
  };
}
