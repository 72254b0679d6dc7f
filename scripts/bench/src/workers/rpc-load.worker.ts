/**
 * Keeps `inFlight` token-validation RPCs outstanding for a while — each loop sends the next
 * call as soon as its last one settles — with either the project's requester (product-service's
 * compiled TokenValidationClient on its own broker connection) or the bare one. Runs in its
 * own process, apart from the bench and the responder. Prints a RunMeasurement.
 */
import { performance } from 'node:perf_hooks';

import { TokenValidationClient } from '@shop/product-service';
import { brokerUserOf, createLogger } from '@shop/shared-runtime';
import { connectToBroker } from '@shop/shared-runtime/messaging';

import { BareRpcClient } from '../baselines/bare-rpc-client';
import { summariseRun, type RunMeasurement } from '../measurement';
import { finishWorker, markWindow, workerInput } from '../processes';

export interface RpcLoadSpec {
  requester: 'project' | 'bare';
  amqpUrl: string;
  queue: string;
  token: string;
  inFlight: number;
  warmupSeconds: number;
  durationSeconds: number;
  timeoutMs: number;
}

/** What the worker prints: the run, and the calls still pending once every loop stopped. */
export type RpcLoadResult = RunMeasurement & { pendingAfter: number };

interface Requester {
  /** Resolves with the outcome's name: `valid`, or why not. */
  call(token: string): Promise<string>;
  pendingCount(): number;
  close(): Promise<void>;
}

async function projectRequester(spec: RpcLoadSpec): Promise<Requester> {
  const logger = createLogger({ level: 'warn', service: 'bench-requester', version: '0' });
  // The bench's broker user answers and asks (user-service runs on the same login).
  const user = brokerUserOf(spec.amqpUrl);
  const client = new TokenValidationClient({
    queue: spec.queue,
    timeoutMs: spec.timeoutMs,
    userId: user,
    responderUserId: user,
    logger,
  });
  const broker = await connectToBroker({
    urls: [spec.amqpUrl],
    connectionName: 'bench-requester',
    setup: client.setup,
    logger,
  });
  const deadline = Date.now() + 10_000;
  while (!client.isReady) {
    if (Date.now() > deadline) throw new Error('TokenValidationClient not ready after 10 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  let sequence = 0;
  return {
    call: (token) =>
      client.validate(token, { requestId: `bench-${(sequence += 1)}` }).then(
        () => 'valid',
        (error: unknown) => (error instanceof Error ? error.name : 'error'),
      ),
    pendingCount: () => client.pendingCount,
    async close() {
      await client.close();
      await broker.close().catch(() => undefined);
    },
  };
}

async function bareRequester(spec: RpcLoadSpec): Promise<Requester> {
  const client = await BareRpcClient.connect(spec);
  return {
    call: (token) =>
      client.call(token).then(
        (reply) => ((reply as { valid?: unknown }).valid === true ? 'valid' : 'invalid'),
        (error: unknown) => (error instanceof Error ? error.message : 'error'),
      ),
    pendingCount: () => client.pendingCount,
    close: () => client.close(),
  };
}

async function drive(requester: Requester, spec: RpcLoadSpec, seconds: number, record: boolean) {
  const latenciesMs: number[] = [];
  const outcomes: Record<string, number> = {};
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const sent = performance.now();
      const outcome = await requester.call(spec.token);
      if (!record) continue;
      latenciesMs.push(performance.now() - sent);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: spec.inFlight }, loop));
  return { latenciesMs, outcomes, errors: 0, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const spec = workerInput() as RpcLoadSpec;
  const requester = spec.requester === 'project' ? await projectRequester(spec) : await bareRequester(spec);
  if (spec.warmupSeconds > 0) await drive(requester, spec, spec.warmupSeconds, false);
  markWindow('start');
  const measured = await drive(requester, spec, spec.durationSeconds, true);
  // The loops stop sending at the end of the window; the last answers arrive within ms.
  markWindow('end');
  const pendingAfter = requester.pendingCount();
  await requester.close();
  const result: RpcLoadResult = { ...summariseRun({ ...measured, expected: ['valid'] }), pendingAfter };
  finishWorker(result);
}

main().catch((error: unknown) => {
  process.stderr.write(`rpc-load: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
