import type { BareEchoInput } from '../baselines/bare-echo';
import type { WindowMark } from '../cpu-usage';
import { runWorker, startServerWorker } from '../processes';
import { SCENARIOS, type Comparison } from '../results';
import { JWT_AUDIENCE, JWT_ISSUER } from '../stack';
import type { RpcLoadResult, RpcLoadSpec } from '../workers/rpc-load.worker';
import { compareAtLevels } from './compare';
import type { ScenarioContext } from './context';

/** user-service's AUTH_RPC_PREFETCH default; the bare echo gets the same. */
const PREFETCH = 64;

/** The contract's default AUTH_RPC_TIMEOUT_MS: a call that takes longer counts as failed. */
const TIMEOUT_MS = 3000;

/**
 * Scenario 1: token-validation round trips kept 1, 16 and 128 in flight — product-service's
 * TokenValidationClient against user-service's responder, beside a bare requester against a
 * bare echo responder doing the same jwt verify on the same broker.
 */
export async function rpcRoundTrip(ctx: ScenarioContext): Promise<{ comparisons: Comparison[]; pendingAfter: number }> {
  const { env, stack, options, cleanup } = ctx;
  const echoQueue = env.queueName('bench.echo');
  const echoInput: BareEchoInput = {
    amqpUrl: stack.amqpUrl,
    queue: echoQueue,
    secretKey: stack.secretKey,
    issuer: JWT_ISSUER,
    audience: JWT_AUDIENCE,
    prefetch: PREFETCH,
  };
  const echo = await startServerWorker('baselines/bare-echo', echoInput);
  cleanup.add('stop the bare echo responder', () => echo.stop());

  let pendingAfter = 0;
  const run = async (
    spec: Omit<RpcLoadSpec, 'durationSeconds' | 'timeoutMs' | 'token' | 'amqpUrl'>,
    onMark: (mark: WindowMark) => void,
  ) => {
    const result = await runWorker<RpcLoadResult>(
      'workers/rpc-load.worker',
      {
        ...spec,
        amqpUrl: stack.amqpUrl,
        token: stack.token,
        durationSeconds: options.durationSeconds,
        timeoutMs: TIMEOUT_MS,
      } satisfies RpcLoadSpec,
      onMark,
    );
    pendingAfter += result.pendingAfter;
    return result;
  };

  const comparisons = await compareAtLevels(
    {
      scenario: SCENARIOS.rpc,
      system: 'TokenValidationClient → user-service responder',
      ceiling: 'bare requester → bare echo (same jwt verify)',
      levels: [1, 16, 128],
      unit: 'in flight',
      runSystem: (inFlight, warmupSeconds, onMark) =>
        run({ requester: 'project', queue: stack.queue, inFlight, warmupSeconds }, onMark),
      runCeiling: (inFlight, warmupSeconds, onMark) =>
        run({ requester: 'bare', queue: echoQueue, inFlight, warmupSeconds }, onMark),
    },
    options,
  );
  await echo.stop();
  return { comparisons, pendingAfter };
}
