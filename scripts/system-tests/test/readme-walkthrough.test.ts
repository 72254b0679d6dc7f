import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { TestEnvironment } from '@shop/test-harness';

import { maskVolatile, readWalkthrough, startSystem, type RunningSystem } from '../src';

const run = promisify(execFile);

let env: TestEnvironment | undefined;
let system: RunningSystem | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
  system = await startSystem(env);
});

test.after.always(async () => {
  await system?.stop();
  await env?.close();
});

test('README walkthrough → every curl block runs as printed and prints the response shown', async (t) => {
  if (!system) throw new Error('the system has not started');
  const steps = readWalkthrough();
  t.true(steps.length >= 10);

  // One shell for the whole walkthrough (TOKEN carries over), pointed at this run's ports.
  const marker = '@@walkthrough-step@@';
  const script = steps
    .map((step) =>
      step.command
        .replaceAll('http://localhost:8001', system!.user.baseUrl)
        .replaceAll('http://localhost:8002', system!.product.baseUrl),
    )
    .map((command) => `echo '${marker}'\n${command}\necho`)
    .join('\n');
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { timeout: 60_000 });
  const outputs = stdout.split(`${marker}\n`).slice(1);
  t.is(outputs.length, steps.length);

  steps.forEach((step, i) => {
    const printed = (outputs[i] ?? '').trim();
    if (!step.expected) {
      t.is(printed, '', `step ${i + 1} prints nothing`);
      return;
    }
    if (step.expected.language === 'text') {
      t.is(printed, step.expected.body.trim(), `step ${i + 1}: ${step.command.split('\n')[0] ?? ''}`);
      return;
    }
    t.deepEqual(
      maskVolatile(JSON.parse(printed)),
      maskVolatile(JSON.parse(step.expected.body)),
      `step ${i + 1}: ${step.command.split('\n')[0] ?? ''}`,
    );
  });
});
