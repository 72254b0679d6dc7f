import type { BenchResults, BudgetLine, Comparison, ComparisonScenario } from './results';

type Measured = Pick<BenchResults, 'comparisons' | 'unavailable' | 'footprint'>;

/** The budget; every line is checked against the numbers of this same run. */
export function evaluateBudget(results: Measured): BudgetLine[] {
  const at = (scenario: ComparisonScenario, concurrency: number): Comparison | undefined =>
    results.comparisons.find((row) => row.scenario === scenario && row.concurrency === concurrency);
  const ratioLine = (line: string, row: Comparison | undefined, min: number): BudgetLine => ({
    line,
    measured: row ? `${row.ratio.toFixed(2)}×${spreadOf(row)}` : 'not measured',
    target: `≥ ${min.toFixed(1)}×`,
    met: row !== undefined && row.ratio >= min,
  });
  const atMost = (line: string, value: number | undefined, max: number, unit: string): BudgetLine => ({
    line,
    measured: value === undefined ? 'not measured' : `${value.toFixed(unit === 'ms' ? 2 : 1)} ${unit}`,
    target: `≤ ${max} ${unit}`,
    met: value !== undefined && value >= 0 && value <= max,
  });
  const rpcAtOne = at('rpc-round-trip', 1);
  const absent = results.unavailable.find((row) => row.scenario === 'unavailable-queue-absent');
  const noConsumer = results.unavailable.find((row) => row.scenario === 'unavailable-no-consumer');
  const { footprint } = results;
  const pending = footprint.productServicePending + footprint.probeServicePending + footprint.requesterPendingAfterRuns;
  return [
    ratioLine('RPC round trip at 16 in flight vs bare echo', at('rpc-round-trip', 16), 0.8),
    atMost('RPC round trip p99 at 1 in flight', rpcAtOne?.systemResult.p99Ms, 2, 'ms'),
    ratioLine('POST /products at 16 vs hand-written ideal', at('post-products', 16), 0.8),
    ratioLine('GET /products?limit=100 at 16 vs bare Express + pg', at('get-products-list', 16), 0.8),
    ratioLine(
      'POST /products at 16, validation cache on, vs local JWT verification',
      at('post-products-cached', 16),
      0.9,
    ),
    ratioLine(
      'POST /login vs async bcrypt ceiling',
      results.comparisons.find((row) => row.scenario === 'login'),
      0.9,
    ),
    atMost('503 with the queue absent: p99', absent?.p99Ms, 50, 'ms'),
    atMost(
      `503 with no consumer: p99 (timeout ${noConsumer?.timeoutMs ?? '?'} ms + 100)`,
      noConsumer?.p99Ms,
      (noConsumer?.timeoutMs ?? 0) + 100,
      'ms',
    ),
    atMost('user-service resident after the run', footprint.userServiceRssMiB, 150, 'MiB'),
    atMost('product-service resident after the run', footprint.productServiceRssMiB, 150, 'MiB'),
    { line: 'RPC calls pending after the run', measured: String(pending), target: '= 0', met: pending === 0 },
  ];
}

/**
 * The ratio of each pair of runs (the i-th of the system beside the i-th of the ceiling), as
 * ` (runs 0.74–0.81×)`: how far one run of the same code can land from the mean on this machine,
 * so a reader can tell a real gap from noise. Empty with a single pair.
 */
function spreadOf(row: Comparison): string {
  const ratios = row.systemResult.runs.flatMap((run, index) => {
    const ceiling = row.ceilingResult.runs[index];
    return ceiling && ceiling.opsPerSecond > 0 ? [run.opsPerSecond / ceiling.opsPerSecond] : [];
  });
  if (ratios.length < 2) return '';
  return ` (runs ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×)`;
}
