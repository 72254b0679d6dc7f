import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { TestEnvironment } from '@shop/test-harness';

import { TEST_SECRET_KEY } from '../helpers/user-service';

const MAIN = path.resolve(__dirname, '../../src/main.js');

let env: TestEnvironment | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
});

test.after.always(async () => {
  await env?.close();
});

interface LogLine {
  msg: string;
  port?: number;
  level: number;
}

/** Starts `node dist/src/main.js` as a real process and collects its JSON log lines. */
function startProcess(extraEnv: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // not a log line
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      resolve(code);
    }),
  );
  const waitFor = async (message: RegExp, timeoutMs = 20_000): Promise<LogLine> => {
    const started = Date.now();
    for (;;) {
      const found = lines.find((line) => message.test(line.msg));
      if (found) return found;
      if (Date.now() - started > timeoutMs || child.exitCode !== null) {
        throw new Error(`no log line ${message} (stderr: ${stderr})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, exited, waitFor, stderr: () => stderr, lines };
}

test('the built service starts, creates and migrates its database, serves, and exits 0 on SIGTERM', async (t) => {
  const environment = env!;
  const name = environment.reserveDatabaseName('process');
  const service = startProcess({
    PORT: '0',
    DATABASE_URL: environment.databaseUrl(name),
    AMQP_URL: environment.amqpUrl,
    AUTH_RPC_QUEUE: environment.queueName('auth.validate_token'),
    AUTH_EVENTS_EXCHANGE: environment.exchangeName('auth.events'),
    SECRET_KEY: TEST_SECRET_KEY,
    BCRYPT_ROUNDS: '4',
  });
  t.teardown(() => service.child.kill('SIGKILL'));

  const { port } = await service.waitFor(/listening/);
  await service.waitFor(/consuming token-validation requests/);
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  t.is(health.status, 200);
  t.true(service.lines.some((line) => line.msg === 'created database'));
  t.true(service.lines.some((line) => line.msg === 'applied migrations'));

  const stopped = Date.now();
  service.child.kill('SIGTERM');
  t.is(await service.exited, 0);
  t.true(Date.now() - stopped < 10_000);
  t.truthy(service.lines.find((line) => line.msg === 'shut down cleanly'));
});

test('invalid configuration → exit 1 with one line naming the variable', async (t) => {
  const service = startProcess({ PORT: 'not-a-port', NODE_ENV: 'production' });
  t.is(await service.exited, 1);
  const output = service.stderr().trim();
  t.is(output.split('\n').length, 1);
  t.regex(output, /^Invalid configuration: .*PORT.*SECRET_KEY/);
});

test('unreachable PostgreSQL → exit 1 naming the URL', async (t) => {
  const service = startProcess({
    DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere',
    SECRET_KEY: TEST_SECRET_KEY,
  });
  t.is(await service.exited, 1);
  t.regex(service.stderr(), /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/nowhere/);
});
