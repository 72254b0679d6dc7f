import type { Footprint } from '../results';
import type { Stack } from '../stack';
import { brokerPending } from './unavailable';

const MIB = 1024 * 1024;

/** Scenario 6: each service's resident memory after the run, and the RPC calls left pending. */
export async function footprint(
  stack: Stack,
  extra: { probeServicePending: number; requesterPendingAfterRuns: number },
): Promise<Footprint> {
  return {
    userServiceRssMiB: Math.round((stack.user.rssBytes() / MIB) * 10) / 10,
    productServiceRssMiB: Math.round((stack.product.rssBytes() / MIB) * 10) / 10,
    productServicePending: await brokerPending(stack.product.baseUrl),
    ...extra,
  };
}
