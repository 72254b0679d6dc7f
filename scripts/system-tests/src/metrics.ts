/**
 * The value of one sample in a service's Prometheus exposition (`GET /metrics`), 0 when the
 * series does not exist yet. Labels not named are not checked; with several matching series
 * the first is returned, so name enough labels to pick one.
 */
export async function metricSample(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((label) => line.includes(label))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Token-validation RPCs a product-service has sent and seen settle so far, whatever their outcome. */
export async function rpcCallsSent(productBaseUrl: string): Promise<number> {
  let total = 0;
  for (const outcome of ['valid', 'invalid', 'timeout', 'unavailable', 'error_reply', 'malformed_reply']) {
    total += await metricSample(productBaseUrl, 'rpc_client_calls_total', { outcome });
  }
  return total;
}
