import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { TestEnvironment } from '@shop/test-harness';

import { newUserId, productInput } from '../helpers/factories';
import { call } from '../helpers/http';
import { TestResponder } from '../helpers/test-responder';

const MAIN = path.resolve(__dirname, '../../src/main.js');

let env: TestEnvironment | undefined;
let responder: TestResponder | undefined;
let queue = '';

test.before(async () => {
  env = await TestEnvironment.start();
  queue = env.queueName('auth.validate_token');
  responder = await TestResponder.start(env.amqpUrl, queue);
});

test.after.always(async () => {
  await responder?.close();
  await env?.close();
});

interface LogLine {
  msg: string;
  port?: number;
  level: number;
}

/** Starts `node dist/src/main.js` as a real process and collects its JSON log lines. */
function startProcess(extraEnv: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // Not a log line: only pino's JSON lines are of interest.
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
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

test('the built service starts, creates and migrates its database, finishes in-flight writes on SIGTERM, exits 0', async (t) => {
  const environment = env!;
  const service = startProcess({
    PORT: '0',
    DATABASE_URL: environment.databaseUrl(environment.reserveDatabaseName('process')),
    AMQP_URL: environment.amqpUrl,
    AUTH_RPC_QUEUE: queue,
  });
  t.teardown(() => service.child.kill('SIGKILL'));

  const { port } = await service.waitFor(/listening/);
  await service.waitFor(/ready to validate tokens/);
  const baseUrl = `http://127.0.0.1:${port}`;
  t.is((await call(baseUrl, 'GET', '/health')).status, 200);
  t.true(service.lines.some((line) => line.msg === 'created database'));
  t.true(service.lines.some((line) => line.msg === 'applied migrations'));

  // A write whose token check takes 300 ms is in flight when SIGTERM arrives: it still gets its 201.
  const ownerId = newUserId();
  const slowToken = responder!.tokenFor({ reply: 'valid', userId: ownerId, delayMs: 300 });
  const inFlight = call<{ owner_id: number }>(baseUrl, 'POST', '/products', { token: slowToken, json: productInput() });
  await new Promise((resolve) => setTimeout(resolve, 100));
  service.child.kill('SIGTERM');
  const stoppedAt = Date.now();

  const write = await inFlight;
  t.is(write.status, 201);
  t.is(write.body.owner_id, ownerId);
  t.is(await service.exited, 0);
  // Well under the keep-alive timeout: connections that go idle during shutdown are closed at once.
  t.true(Date.now() - stoppedAt < 3000, `exited ${Date.now() - stoppedAt} ms after SIGTERM`);
  t.truthy(service.lines.find((line) => line.msg === 'shut down cleanly'));
});

test('invalid configuration → exit 1 with one line naming every bad variable', async (t) => {
  const service = startProcess({ PORT: 'not-a-port', AUTH_RPC_TIMEOUT_MS: 'soon' });

  t.is(await service.exited, 1);
  const output = service.stderr().trim();
  t.is(output.split('\n').length, 1);
  t.regex(output, /^Invalid configuration: .*PORT.*AUTH_RPC_TIMEOUT_MS/);
});

test('unreachable PostgreSQL → exit 1 naming the URL', async (t) => {
  const service = startProcess({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });

  t.is(await service.exited, 1);
  t.regex(service.stderr(), /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/nowhere/);
});
