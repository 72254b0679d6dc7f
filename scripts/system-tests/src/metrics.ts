import { metricSample } from '@shop/test-harness';

/** Token-validation RPCs a product-service has sent and seen settle so far, whatever their outcome. */
export async function rpcCallsSent(productBaseUrl: string): Promise<number> {
  let total = 0;
  for (const outcome of ['valid', 'invalid', 'timeout', 'unavailable', 'error_reply', 'malformed_reply']) {
    total += await metricSample(productBaseUrl, 'rpc_client_calls_total', { outcome });
  }
  return total;
}
