import type { MachineInfo } from './machine';
import type { Measurement } from './measurement';
import type { Revision } from './revision';

/** Scenario ids, stable across runs: the smoke test and anyone diffing results key on them. */
export const SCENARIOS = {
  rpc: 'rpc-round-trip',
  createProduct: 'post-products',
  createProductCached: 'post-products-cached',
  listProducts: 'get-products-list',
  getProduct: 'get-product-by-id',
  login: 'login',
} as const;

export type ComparisonScenario = (typeof SCENARIOS)[keyof typeof SCENARIOS];

/** One load level of one scenario: the system beside its ceiling, measured in the same run. */
export interface Comparison {
  scenario: ComparisonScenario;
  /** What the system is, e.g. "TokenValidationClient → user-service responder". */
  system: string;
  /** What the ceiling is, e.g. "bare amqplib echo (jwt verify)". */
  ceiling: string;
  /** The load level, e.g. 16 (in flight, connections or concurrent compares). */
  concurrency: number;
  systemResult: Measurement;
  ceilingResult: Measurement;
  /** systemResult.opsPerSecond / ceilingResult.opsPerSecond. */
  ratio: number;
}

/** Time to a 503 when no user-service can answer, as clients see it. */
export interface UnavailableCase {
  scenario: 'unavailable-queue-absent' | 'unavailable-no-consumer';
  requests: number;
  connections: number;
  /** Requests sent per second, or null for as fast as the answers come back. */
  ratePerSecond: number | null;
  /** Answers that were 503, of `requests`. */
  status503: number;
  p50Ms: number;
  p99Ms: number;
  /** The probe product-service's AUTH_RPC_TIMEOUT_MS, in ms. */
  timeoutMs: number;
}

export interface Footprint {
  /** VmRSS after the run, in MiB. */
  userServiceRssMiB: number;
  productServiceRssMiB: number;
  /** product-service's `GET /health` `checks.broker.pending` after the run. */
  productServicePending: number;
  /** The same on the product-service that measured the time to 503. */
  probeServicePending: number;
  /** TokenValidationClient calls still pending in the RPC workers when they stopped (summed). */
  requesterPendingAfterRuns: number;
}

/** One operation's cost: the CPU each process spent per answer, at the throughput it ran at. */
export interface CostRow {
  operation: string;
  /** The load it ran under, e.g. "16 connections". */
  load: string;
  opsPerSecond: number;
  failed: number;
  /**
   * CPU µs per answer by process label ("user-service", "rabbitmq", "postgresql", "load
   * generator", "other processes" = neighbours), mean over the runs.
   */
  microsPerOp: Record<string, number>;
}

/** Token validations with 1 or 2 user-service responders on the queue. */
export interface ResponderRow {
  responders: number;
  opsPerSecond: number;
  /** Requests each instance answered (its rpc_server_requests_total), warm-up included. */
  handled: number[];
  /** Each instance's fraction of `handled`. */
  shares: number[];
  neighbourCores: number;
}

/** What `--only scaling` measures for docs/scaling.md. */
export interface ScalingResults {
  costs: CostRow[];
  responders: ResponderRow[];
  /** Validation RPCs a product-service with the cache on made during the measured writes. */
  cache: { tokens: number; rpcCalls: number; writes: number };
}

export interface BudgetLine {
  line: string;
  /** The measured value, formatted with its unit or as a ratio. */
  measured: string;
  target: string;
  met: boolean;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  command: string;
  settings: {
    warmupSeconds: number;
    durationSeconds: number;
    repeats: number;
    products: number;
    bcryptRounds: number;
    serviceNodeArgs: string[];
    smoke: boolean;
  };
  machine: MachineInfo;
  revision: Revision;
  comparisons: Comparison[];
  unavailable: UnavailableCase[];
  footprint: Footprint;
  /** Absent when the scaling group did not run. */
  scaling?: ScalingResults;
  budget: BudgetLine[];
}
