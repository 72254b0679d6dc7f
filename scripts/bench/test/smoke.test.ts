import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { GENERATED_END, GENERATED_START } from '../src/report';
import { SCENARIOS, type BenchResults } from '../src/results';

const run = promisify(execFile);

// The whole bench at its smoke preset (short runs, no warm-up, bcrypt cost 4), writing to a
// temporary folder so the committed docs/benchmarks.md and results/latest.json stay as measured.
// It checks the output's shape, never the speed: this machine's speed is not under test.
test('npm run bench --smoke → every scenario, finite ratios, no pending RPC, a table and a report', async (t) => {
  const folder = mkdtempSync(path.join(tmpdir(), 'bench-smoke-'));
  t.teardown(() => {
    rmSync(folder, { recursive: true, force: true });
  });
  const resultsPath = path.join(folder, 'latest.json');
  const docsPath = path.join(folder, 'benchmarks.md');

  const { stdout, stderr } = await run(
    process.execPath,
    [path.join(__dirname, '../src/run-bench.js'), '--smoke', '--results', resultsPath, '--docs', docsPath],
    { timeout: 90_000 },
  );

  const results = JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchResults;
  for (const scenario of Object.values(SCENARIOS)) {
    t.true(
      results.comparisons.some((row) => row.scenario === scenario),
      `${scenario} missing`,
    );
  }
  t.deepEqual(
    results.comparisons.filter((row) => row.scenario === SCENARIOS.rpc).map((row) => row.concurrency),
    [1, 16, 128],
  );
  for (const row of results.comparisons) {
    t.true(Number.isFinite(row.ratio) && row.ratio > 0, `${row.scenario} at ${row.concurrency}: ratio ${row.ratio}`);
    t.true(row.systemResult.opsPerSecond > 0 && row.ceilingResult.opsPerSecond > 0);
    t.true(Number.isFinite(row.systemResult.cpuMicrosPerOp) && Number.isFinite(row.ceilingResult.cpuMicrosPerOp));
  }
  t.deepEqual(
    results.unavailable.map((row) => [row.scenario, row.status503 === row.requests]),
    [
      ['unavailable-queue-absent', true],
      ['unavailable-no-consumer', true],
    ],
  );
  t.is(results.footprint.productServicePending, 0);
  t.is(results.footprint.probeServicePending, 0);
  t.is(results.footprint.requesterPendingAfterRuns, 0);
  t.true(results.footprint.userServiceRssMiB > 0 && results.footprint.productServiceRssMiB > 0);
  t.is(results.budget.length, 11);
  t.true(results.budget.every((line) => line.measured !== 'not measured'));

  t.regex(stdout, /^scenario\s+load\s+system\s+ceiling\s+ratio/m);
  t.regex(stdout, /^Budget:/m);
  t.regex(stderr, /\[bench .*rpc-round-trip · 16 in flight/);
  const docs = readFileSync(docsPath, 'utf8');
  t.true(docs.includes(GENERATED_START) && docs.includes(GENERATED_END));
  t.regex(docs, /\| rpc-round-trip +\| 16 +\|/);
  t.regex(docs, /Machine: .*\d+ cores/);
});

// The scaling group (docs/scaling.md) runs only when named; its shape, never its speed.
test('npm run bench --smoke --only scaling → CPU per answer by process, two responders sharing the queue, the cache’s RPCs', async (t) => {
  const folder = mkdtempSync(path.join(tmpdir(), 'bench-smoke-scaling-'));
  t.teardown(() => {
    rmSync(folder, { recursive: true, force: true });
  });
  const resultsPath = path.join(folder, 'latest.json');

  const { stdout } = await run(
    process.execPath,
    [
      path.join(__dirname, '../src/run-bench.js'),
      '--smoke',
      '--only',
      'scaling',
      '--results',
      resultsPath,
      '--docs',
      'none',
    ],
    { timeout: 110_000 },
  );

  const { scaling } = JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchResults;
  t.truthy(scaling);
  t.deepEqual(
    scaling?.costs.map((row) => row.operation),
    [
      'token validation, 1 responder(s)',
      'token validation, 2 responder(s)',
      'GET /products/{id}',
      'GET /products?limit=100',
      'POST /products, validation cache off',
      'POST /products, validation cache on',
    ],
  );
  // A 0.3 s run may see no 10 ms CPU tick of a process: finite figures, not positive ones.
  for (const row of scaling?.costs ?? []) {
    t.true(row.opsPerSecond > 0, `${row.operation}: answers`);
    t.true(Object.values(row.microsPerOp).every((micros) => Number.isFinite(micros) && micros >= 0));
  }
  t.deepEqual(
    scaling?.responders.map((row) => row.handled.length),
    [1, 2],
  );
  t.true(
    scaling?.responders[1]?.handled.every((count) => count > 0),
    'both responders answered',
  );
  t.true((scaling?.cache.writes ?? 0) > 0);
  t.regex(stdout, /^Responders on the token-validation queue/m);
});
