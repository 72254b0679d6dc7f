import type { ScalingResults } from './results';

/** Processes shown as columns of the cost table, in this order; others are summed as "rest". */
const COLUMNS = [
  'user-service',
  'user-service #2',
  'product-service',
  'product-service (cache)',
  'rabbitmq (private)',
  'rabbitmq',
  'postgresql',
];

/** The scaling group's figures as plain-text tables, for stdout (docs/scaling.md reads them). */
export function renderScaling(scaling: ScalingResults): string {
  const lines = ['Scaling: CPU µs per answer, by process (mean of the runs)', ''];
  const header = ['operation', 'load', 'answers/s', ...COLUMNS, 'load generator', 'neighbours'];
  const rows = scaling.costs.map((row) => [
    row.operation,
    row.load,
    row.opsPerSecond.toFixed(0),
    ...COLUMNS.map((label) => (row.microsPerOp[label] === undefined ? '—' : String(row.microsPerOp[label]))),
    String(row.microsPerOp['load generator'] ?? '—'),
    String(row.microsPerOp['other processes'] ?? 0),
  ]);
  lines.push(...table([header, ...rows]), '');
  lines.push('Responders on the token-validation queue', '');
  lines.push(
    ...table([
      ['responders', 'validations/s', 'answered by each', 'shares', 'neighbour cores'],
      ...scaling.responders.map((row) => [
        String(row.responders),
        row.opsPerSecond.toFixed(0),
        row.handled.join(' / '),
        row.shares.map((share) => `${(share * 100).toFixed(1)}%`).join(' / '),
        row.neighbourCores.toFixed(2),
      ]),
    ]),
    '',
  );
  const { cache } = scaling;
  lines.push(
    `Validation cache: ${cache.rpcCalls} RPCs for ${cache.writes} measured writes over ${cache.tokens} tokens ` +
      `(${cache.writes > 0 ? ((1 - cache.rpcCalls / cache.writes) * 100).toFixed(2) : '—'}% of writes needed no RPC)`,
  );
  return lines.join('\n');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}
