import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

import type { BenchResults } from './results';

const HEADER = [
  'scenario',
  'load',
  'system',
  'ceiling',
  'ratio',
  'system p50 / p99',
  'ceiling p50 / p99',
  'CPU µs/op sys / ceil',
  'neighbour cores',
];

const ms = (p50: number, p99: number): string => `${p50.toFixed(2)} / ${p99.toFixed(2)} ms`;
const perSecond = (value: number): string => `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}/s`;

/** Every figure of the run as rows of the one table: comparisons, then time to 503, then memory. */
export function tableRows(results: BenchResults): string[][] {
  const rows = results.comparisons.map((row) => [
    row.scenario,
    `${row.concurrency}`,
    perSecond(row.systemResult.opsPerSecond),
    perSecond(row.ceilingResult.opsPerSecond),
    `${row.ratio.toFixed(2)}×`,
    ms(row.systemResult.p50Ms, row.systemResult.p99Ms),
    ms(row.ceilingResult.p50Ms, row.ceilingResult.p99Ms),
    `${row.systemResult.cpuMicrosPerOp} / ${row.ceilingResult.cpuMicrosPerOp}`,
    Math.max(row.systemResult.neighbourCores, row.ceilingResult.neighbourCores).toFixed(2),
  ]);
  for (const row of results.unavailable) {
    rows.push([
      row.scenario,
      row.ratePerSecond ? `${row.ratePerSecond}/s` : `${row.connections}`,
      `${row.status503}/${row.requests} → 503`,
      row.scenario === 'unavailable-no-consumer' ? `timeout ${row.timeoutMs} ms` : '—',
      '—',
      ms(row.p50Ms, row.p99Ms),
      '—',
      '—',
      '—',
    ]);
  }
  const { footprint } = results;
  rows.push([
    'memory-after-run',
    '—',
    `user ${footprint.userServiceRssMiB} MiB`,
    `product ${footprint.productServiceRssMiB} MiB`,
    '—',
    `pending RPCs ${footprint.productServicePending + footprint.probeServicePending + footprint.requesterPendingAfterRuns}`,
    '—',
    '—',
    '—',
  ]);
  return rows;
}

/** The table as aligned plain text, for the terminal. */
export function renderText(results: BenchResults): string {
  const rows = [HEADER, ...tableRows(results)];
  const widths = HEADER.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  const budget = results.budget.map(
    (item) => `  ${item.met ? 'met  ' : 'SHORT'}  ${item.line}: ${item.measured} (target ${item.target})`,
  );
  return [
    line(HEADER),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.slice(1).map(line),
    '',
    'Budget:',
    ...budget,
  ].join('\n');
}

/** The generated part of docs/benchmarks.md: command, machine, table, budget. */
export function renderMarkdown(results: BenchResults): string {
  const { machine, settings } = results;
  const table = markdownTable(HEADER, tableRows(results));
  return [
    `Measured ${results.startedAt} with \`${results.command}\` in ${Math.round(results.wallSeconds)} s` +
      ` (warm-up ${settings.warmupSeconds} s, ${settings.repeats} × ${settings.durationSeconds} s measured per level and side,` +
      ` ${settings.products} seeded products, bcrypt cost ${settings.bcryptRounds}` +
      (settings.serviceNodeArgs.length ? `, services run with \`${settings.serviceNodeArgs.join(' ')}\`` : '') +
      ').',
    '',
    `Code: commit ${results.revision.commit}` +
      (results.revision.uncommitted.length
        ? ` plus ${results.revision.uncommitted.length} uncommitted change(s) under the services (listed in latest.json).`
        : ', no uncommitted changes under the services.'),
    '',
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os};` +
      ` Node ${machine.node}, PostgreSQL ${machine.postgresql}, RabbitMQ ${machine.rabbitmq};` +
      ` load average ${machine.loadAverageAtStart} when the run started.`,
    '',
    ...table,
    '',
    ...markdownTable(
      ['budget line', 'measured', 'target', 'verdict'],
      results.budget.map((item) => [item.line, item.measured, item.target, item.met ? 'met' : '**short**']),
    ),
  ].join('\n');
}

/**
 * A Markdown table padded the way Prettier pads one, so `prettier --check` (part of
 * `npm run lint`) accepts the page as the bench writes it.
 */
function markdownTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((_, column) => Math.max(3, ...[header, ...rows].map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [line(header), `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`, ...rows.map(line)];
}

export const GENERATED_START = '<!-- bench:generated:start -->';
export const GENERATED_END = '<!-- bench:generated:end -->';

/**
 * Writes the generated part between the markers of `docsPath`, keeping the hand-written
 * analysis around it; a missing file (or one without markers) gets a minimal page.
 */
export function writeMarkdown(docsPath: string, results: BenchResults): void {
  const generated = `${GENERATED_START}\n\n${renderMarkdown(results)}\n\n${GENERATED_END}`;
  const current = existsSync(docsPath) ? readFileSync(docsPath, 'utf8') : '';
  const start = current.indexOf(GENERATED_START);
  const end = current.indexOf(GENERATED_END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${generated}${current.slice(end + GENERATED_END.length)}`
      : `# Benchmarks\n\nWritten by \`npm run bench\`.\n\n${generated}\n`;
  mkdirSync(path.dirname(docsPath), { recursive: true });
  writeFileSync(docsPath, next);
}

export function writeJson(resultsPath: string, results: BenchResults): void {
  mkdirSync(path.dirname(resultsPath), { recursive: true });
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
}
