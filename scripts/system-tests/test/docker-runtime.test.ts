import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

import { TestEnvironment } from '@shop/test-harness';

import { REPO_ROOT, eventually, replayRuntimeStage, type RuntimeStageReplay } from '../src';

const run = promisify(execFile);

let env: TestEnvironment | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
});

test.after.always(async () => {
  await env?.close();
});

/** Runs the stage's CMD on the host; resolves with the port it listens on and a way to stop it. */
async function startCmd(stage: RuntimeStageReplay, extraEnv: Record<string, string>) {
  const [command = 'node', ...args] = stage.cmd;
  const child = spawn(command === 'node' ? process.execPath : command, args, {
    cwd: stage.workdir,
    env: { PATH: process.env.PATH ?? '', ...stage.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const log = JSON.parse(line) as { msg?: string; port?: number };
      if (log.msg?.endsWith('listening') && log.port) resolve(log.port);
    });
    child.once('exit', (code) => {
      reject(new Error(`exited with ${code}: ${stderr}`));
    });
  });
  return {
    port,
    stop: () =>
      new Promise<number | null>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
        else child.once('exit', resolve).kill('SIGTERM');
      }),
  };
}

// No image is built here (README, Testing): the runtime stage's commands run on the host, with
// FROM and USER not honoured and this checkout's build standing in for the build stage's output.
// What it does check: the production install and the COPYs give a tree that starts with the CMD
// and passes the HEALTHCHECK.
for (const service of ['user-service', 'product-service'] as const) {
  test(`${service} Dockerfile → the runtime stage's commands run on the host: production dependencies only, CMD starts, HEALTHCHECK passes`, async (t) => {
    const environment = env!;
    const stage = await replayRuntimeStage(path.join(REPO_ROOT, service, 'Dockerfile'));
    t.teardown(() => rm(stage.root, { recursive: true, force: true }));

    const modules = path.join(stage.root, 'app', 'node_modules');
    t.true(existsSync(path.join(modules, 'express')), 'runtime dependencies installed');
    // The service runs on shared-runtime: its build output and its own dependencies are copied and installed.
    t.true(
      existsSync(path.join(modules, '@shop', 'shared-runtime', 'dist', 'src', 'index.js')),
      'shared-runtime built',
    );
    t.true(existsSync(path.join(modules, 'helmet')), "shared-runtime's dependencies installed");
    for (const devOnly of ['ava', 'typescript', 'testcontainers', 'eslint']) {
      t.false(existsSync(path.join(modules, devOnly)), `${devOnly} is not installed`);
    }
    t.is(stage.env.NODE_ENV, 'production');
    // ReDoc's bundle is copied alone; the packages the redoc package would pull in are not installed.
    t.true(existsSync(path.join(modules, 'redoc', 'bundles', 'redoc.standalone.js')), "ReDoc's bundle copied");
    for (const redocOnly of ['react-dom', 'mobx', 'core-js']) {
      t.false(existsSync(path.join(modules, redocOnly)), `${redocOnly} (pulled in by redoc) is not installed`);
    }

    const started = await startCmd(stage, {
      PORT: '0',
      DATABASE_URL: environment.databaseUrl(environment.reserveDatabaseName(`img${service.slice(0, 4)}`)),
      AMQP_URL: environment.amqpUrl,
      AUTH_RPC_QUEUE: environment.queueName('auth.validate_token'),
      SECRET_KEY: 'image-test-secret-key-of-at-least-32-characters',
      LOG_LEVEL: 'info',
    });
    t.teardown(() => started.stop());

    const [command = 'node', ...args] = stage.healthcheck;
    // The HEALTHCHECK retries while the service connects to the broker (its start period is
    // 20 s); so do we, within the same 20 s.
    const healthcheck = () =>
      run(command === 'node' ? process.execPath : command, args, {
        env: { PATH: process.env.PATH ?? '', PORT: String(started.port) },
      }).then(
        () => true,
        () => false,
      );
    await eventually(healthcheck, 20_000, 'the HEALTHCHECK passing', 250).catch(() => undefined);
    t.true(await healthcheck(), 'HEALTHCHECK passes');
    const bundle = await fetch(`http://127.0.0.1:${started.port}/redoc/redoc.standalone.js`);
    t.is(bundle.status, 200, 'GET /redoc has its bundle');
    await bundle.arrayBuffer();
    t.is(await started.stop(), 0, 'the CMD exits 0 on SIGTERM');
  });
}
