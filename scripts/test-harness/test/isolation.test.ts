import test from 'ava';
import { connect as connectAmqp } from 'amqplib';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';

import { resolveInfrastructure } from '../src';

interface ProbeEvent {
  event: 'ready' | 'done';
  marker?: string;
  database: string;
  queue: string;
  rows?: string[];
  messages?: string[];
}

/** Starts one probe process and hands back its events as they arrive. */
function startProbe() {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'isolation-probe.js')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const events: ProbeEvent[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line) as ProbeEvent);
    waiters.splice(0).forEach((wake) => {
      wake();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const next = (name: ProbeEvent['event']) =>
    new Promise<ProbeEvent>((resolve, reject) => {
      const check = () => {
        const found = events.find((event) => event.event === name);
        if (found) {
          resolve(found);
          return;
        }
        waiters.push(check);
      };
      void exited.then((code) => {
        reject(new Error(`probe exited with ${String(code)} before '${name}'`));
      });
      check();
    });
  return { child, exited, next };
}

test('two concurrent test processes each create and see only their own database and queue', async (t) => {
  const first = startProbe();
  const second = startProbe();

  // Both are alive, each with its database and queue, before either reads anything back.
  const [firstReady, secondReady] = await Promise.all([first.next('ready'), second.next('ready')]);
  t.not(firstReady.database, secondReady.database);
  t.not(firstReady.queue, secondReady.queue);

  first.child.stdin.end('go\n');
  second.child.stdin.end('go\n');
  const [firstDone, secondDone] = await Promise.all([first.next('done'), second.next('done')]);
  t.deepEqual(await Promise.all([first.exited, second.exited]), [0, 0]);

  t.deepEqual(firstDone.rows, [firstDone.marker]);
  t.deepEqual(firstDone.messages, [firstDone.marker]);
  t.deepEqual(secondDone.rows, [secondDone.marker]);
  t.deepEqual(secondDone.messages, [secondDone.marker]);

  // Closing the environment removed what each process made.
  const infrastructure = await resolveInfrastructure();
  const client = new Client({ connectionString: infrastructure.postgresUrl });
  await client.connect();
  const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [
    [firstReady.database, secondReady.database],
  ]);
  await client.end();
  t.deepEqual(rows, []);

  const connection = await connectAmqp(infrastructure.amqpUrl);
  for (const queue of [firstReady.queue, secondReady.queue]) {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await t.throwsAsync(channel.checkQueue(queue), { message: /NOT_FOUND/ });
  }
  await connection.close();
  await infrastructure.stop();
});
