#!/usr/bin/env node
// `npm start`: build (incremental), check that PostgreSQL and RabbitMQ answer, then run both
// services as child processes until Ctrl-C. Each service reads its own `.env` when present.
// Their logs are readable coloured lines at a terminal, and the services' JSON lines otherwise
// (`npm start | tee log.json`, a process manager).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { copyLines, prettyFormatter } from './log-output.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const services = [
  { name: 'user-service', defaultDatabaseUrl: 'postgres://postgres@localhost:5432/user_service_db' },
  { name: 'product-service', defaultDatabaseUrl: 'postgres://postgres@localhost:5432/product_service_db' },
];
const DEFAULT_AMQP_URL = 'amqp://guest:guest@localhost:5672';

/** The variable as the service will see it: its environment first, then its `.env`. */
function setting(service, name, fallback) {
  if (process.env[name]) return process.env[name];
  const file = path.join(root, service, '.env');
  if (existsSync(file)) {
    const match = readFileSync(file, 'utf8').match(new RegExp(`^\\s*${name}\\s*=\\s*"?([^"\\n]*)"?\\s*$`, 'm'));
    if (match) return match[1];
  }
  return fallback;
}

function reachable(url, defaultPort) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || defaultPort), timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

function redact(url) {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

async function checkDependencies() {
  const problems = [];
  for (const service of services) {
    const databaseUrl = setting(service.name, 'DATABASE_URL', service.defaultDatabaseUrl);
    if (!(await reachable(databaseUrl, 5432))) {
      problems.push(
        `${service.name}: PostgreSQL is not reachable at ${redact(databaseUrl)}.\n` +
          '  Start it (e.g. `pg_ctlcluster 15 main start`, `brew services start postgresql`, or\n' +
          '  `docker compose up -d user-db product-db` and set DATABASE_URL to port 5433/5434), or set DATABASE_URL.',
      );
    }
    const amqpUrl = setting(service.name, 'AMQP_URL', DEFAULT_AMQP_URL);
    if (!(await reachable(amqpUrl, 5672))) {
      problems.push(
        `${service.name}: RabbitMQ is not reachable at ${redact(amqpUrl)}.\n` +
          '  Start it (e.g. `rabbitmq-server -detached`, `brew services start rabbitmq`, or\n' +
          '  `docker compose up -d rabbitmq`), or set AMQP_URL.',
      );
    }
  }
  return [...new Set(problems)];
}

const build = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);

const problems = await checkDependencies();
if (problems.length > 0) {
  process.stderr.write(`Cannot start:\n${problems.join('\n')}\n`);
  process.exit(1);
}

const format = process.stdout.isTTY ? prettyFormatter() : undefined;

let stopping = false;
const children = services.map((service) => {
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: path.join(root, service.name),
    stdio: ['inherit', format ? 'pipe' : 'inherit', 'inherit'],
  });
  if (format) copyLines(child.stdout, process.stdout, format);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${service.name} exited (${signal ?? code}); stopping the other service\n`);
      stop(1);
    }
  });
  return child;
});

let exitCode = 0;
function stop(code) {
  exitCode = Math.max(exitCode, code);
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stop(0));
await Promise.all(
  children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)))),
);
process.exit(exitCode);
