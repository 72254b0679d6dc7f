import type { ExecutionContext } from 'ava';
import { connect } from 'amqplib';

import type { TestEnvironment } from '@shop/test-harness';

import { startSystem, waitUntilHealthy, type RunningSystem } from './system';
import { WriteStream, statusCounts, storedProductNames, type WriteOutcome } from './write-stream';

/** product-service's RPC timeout in the chaos suite, in ms: short, so faults resolve quickly. */
export const CHAOS_RPC_TIMEOUT_MS = 1000;

/**
 * A client gives up on a request after this long and counts it as a hang: a generous limit past
 * the RPC timeout (the house figure of 10 s), so that only a request nobody answers is a hang.
 */
export const CLIENT_DEADLINE_MS = CHAOS_RPC_TIMEOUT_MS + 10_000;

export interface ChaosSystem extends RunningSystem {
  /** A bearer token of a registered user, valid for the whole scenario. */
  token: string;
}

/**
 * Both services as processes, with a short RPC timeout, no validation cache (unless `overrides`
 * of product-service's environment say otherwise) and a registered, logged-in user.
 */
export async function startChaosSystem(
  env: TestEnvironment,
  overrides: Record<string, string> = {},
): Promise<ChaosSystem> {
  // The validation cache off: the faults below are about the RPC path, which a cached token
  // would skip (the cache's own behaviour under faults has its own tests).
  const system = await startSystem(env, {
    product: { AUTH_RPC_TIMEOUT_MS: String(CHAOS_RPC_TIMEOUT_MS), AUTH_CACHE_TTL_MS: '0', ...overrides },
  });
  const credentials = { username: 'chaos_user', password: 'chaos-password-1' };
  const headers = { 'content-type': 'application/json' };
  await fetch(`${system.user.baseUrl}/register`, { method: 'POST', headers, body: JSON.stringify(credentials) });
  const login = await fetch(`${system.user.baseUrl}/login`, {
    method: 'POST',
    headers,
    body: JSON.stringify(credentials),
  });
  const { access_token: token } = (await login.json()) as { access_token: string };
  return { ...system, token };
}

export function startWriteStream(system: ChaosSystem, prefix: string, concurrency = 4): WriteStream {
  return new WriteStream({
    productUrl: system.product.baseUrl,
    token: system.token,
    concurrency,
    prefix,
    clientDeadlineMs: CLIENT_DEADLINE_MS,
  });
}

/**
 * What every scenario must show: clients were told only 201 or 503 (never a 500, a 401 or a
 * hang), and the products stored are exactly the creates acknowledged with 201 — nothing
 * lost, nothing doubled.
 */
export async function assertNothingLostOrDoubled(
  t: ExecutionContext,
  system: ChaosSystem,
  prefix: string,
  outcomes: WriteOutcome[],
): Promise<void> {
  const counts = statusCounts(outcomes);
  t.log(`answers: ${JSON.stringify(counts)}`);
  const unexpected = outcomes.filter((outcome) => outcome.status !== 201 && outcome.status !== 503);
  t.deepEqual(unexpected, [], 'only 201 or 503, never a 500, a 401 or a hang');
  t.true((counts[201] ?? 0) > 0, 'some writes succeeded');

  const stored = await storedProductNames(system.databaseUrls.product, prefix);
  const acknowledged = outcomes.filter((outcome) => outcome.status === 201).map((outcome) => outcome.name);
  t.deepEqual([...stored].sort(), [...acknowledged].sort(), 'stored products = creates acknowledged with 201');
}

/** Both services answer /health 200 again; resolves with how long that took, in ms. */
export async function timeUntilHealthy(system: RunningSystem, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  await Promise.all([
    waitUntilHealthy(system.user.baseUrl, timeoutMs),
    waitUntilHealthy(system.product.baseUrl, timeoutMs),
  ]);
  return Date.now() - started;
}

/**
 * Resolves once `condition` holds, polling every `intervalMs`; throws after `timeoutMs`. Tests
 * wait for the state they need with this (with a generous deadline, 10 s unless a fault takes
 * longer) instead of sleeping for a guessed time.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Recovery times measured by the scenarios, logged so the README table can quote them. */
export function logRecovery(t: ExecutionContext, fault: string, milliseconds: number): void {
  t.log(`recovery: ${fault} → writes succeed again after ${milliseconds} ms`);
}

/** Resolves once RabbitMQ accepts AMQP connections again (after start_app), within a minute. */
export async function brokerAcceptsConnections(env: TestEnvironment): Promise<void> {
  await eventually(
    async () => {
      try {
        const connection = await connect(env.amqpUrl);
        await connection.close();
        return true;
      } catch {
        return false;
      }
    },
    60_000,
    'RabbitMQ accepting connections',
  );
}
