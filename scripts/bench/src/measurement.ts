import { neighbourCores, pathCores, type CpuShares } from './cpu-usage';

/** One measured run of one load level against one target. */
export interface RunMeasurement {
  /** Answers with the expected outcome per second over the measured window. */
  opsPerSecond: number;
  /** Latency percentiles over every answer in the window, in ms. */
  p50Ms: number;
  p99Ms: number;
  /** Answers with the expected outcome. */
  completed: number;
  /** Answers with another outcome, and errors (connection resets, timeouts). */
  failed: number;
  /** Count of each outcome, e.g. `{ "201": 9000 }` or `{ "valid": 5000 }`. */
  outcomes: Record<string, number>;
  /** Length of the measured window, in seconds. */
  seconds: number;
  /** CPU used by each process during the measured window, in cores; see cpu-usage.ts. */
  cpu?: CpuShares;
}

/** Several runs of the same level and target, summarised. */
export interface Measurement {
  /** Mean over the runs: interleaving the runs with the ceiling's makes the mean fair to both. */
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  /**
   * CPU time spent on the measured path per answer, in µs (services, baselines, load generator,
   * PostgreSQL and RabbitMQ together). Steadier than throughput when a neighbour takes cores.
   */
  cpuMicrosPerOp: number;
  /** Cores used by other jobs on the machine during the runs, on average. */
  neighbourCores: number;
  runs: RunMeasurement[];
}

/** The `p`-th percentile (0–100) of ascending `sorted`, nearest rank; 0 when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

/** Turns the latencies (ms) and outcomes of one window into a {@link RunMeasurement}. */
export function summariseRun(input: {
  latenciesMs: number[];
  outcomes: Record<string, number>;
  expected: readonly string[];
  errors: number;
  seconds: number;
}): RunMeasurement {
  const sorted = Float64Array.from(input.latenciesMs).sort();
  let completed = 0;
  let failed = input.errors;
  for (const [outcome, count] of Object.entries(input.outcomes)) {
    if (input.expected.includes(outcome)) completed += count;
    else failed += count;
  }
  return {
    opsPerSecond: input.seconds > 0 ? completed / input.seconds : 0,
    p50Ms: round(percentile(sorted, 50), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    completed,
    failed,
    outcomes: input.outcomes,
    seconds: round(input.seconds, 3),
  };
}

export function combineRuns(runs: RunMeasurement[]): Measurement {
  const mean = (pick: (run: RunMeasurement) => number): number =>
    runs.length ? runs.reduce((sum, run) => sum + pick(run), 0) / runs.length : 0;
  return {
    opsPerSecond: round(
      mean((run) => run.opsPerSecond),
      1,
    ),
    p50Ms: round(
      mean((run) => run.p50Ms),
      3,
    ),
    p99Ms: round(
      mean((run) => run.p99Ms),
      3,
    ),
    failed: runs.reduce((sum, run) => sum + run.failed, 0),
    cpuMicrosPerOp: round(
      mean((run) => (run.cpu && run.opsPerSecond > 0 ? (pathCores(run.cpu) / run.opsPerSecond) * 1e6 : 0)),
      0,
    ),
    neighbourCores: round(
      mean((run) => (run.cpu ? neighbourCores(run.cpu) : 0)),
      2,
    ),
    runs,
  };
}

/** `system / ceiling`, rounded; NaN-free: 0 when the ceiling measured nothing. */
export function ratio(system: number, ceiling: number): number {
  return ceiling > 0 ? round(system / ceiling, 3) : 0;
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
