/** The Prometheus text a running instance serves on `GET /metrics`. */
export async function scrapeMetrics(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics → ${response.status}: ${text}`);
  return text;
}

/**
 * The value of the sample `name` whose labels include every one of `labels`, in a scrape's
 * text; 0 when there is none (a labelled counter has no sample until it is first incremented).
 * Labels not named are not checked: with several matching series the first is returned, so
 * name enough labels to pick one.
 */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[2] ?? '';
    if (Object.entries(labels).every(([key, value]) => present.includes(`${key}="${value}"`))) return Number(match[3]);
  }
  return 0;
}

/** {@link sampleValue} of a running instance's `GET /metrics`. */
export async function metricSample(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return sampleValue(await scrapeMetrics(baseUrl), name, labels);
}
