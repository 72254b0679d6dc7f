import { Client } from 'pg';

/** One authorised create as the client saw it. */
export interface WriteOutcome {
  name: string;
  /** HTTP status, or 0 when the request failed or did not finish within the client deadline. */
  status: number;
  /** When the answer arrived, in ms since the stream started. */
  at: number;
}

export interface WriteStreamOptions {
  productUrl: string;
  token: string;
  /** Concurrent writers. */
  concurrency: number;
  /** Prefix of every product name, so stored rows can be matched to outcomes. */
  prefix: string;
  /** A request still unanswered after this many ms counts as a hang (status 0). */
  clientDeadlineMs: number;
  /** Pause between a writer's requests, in ms, so a fault spans many requests, not a few long ones. */
  pauseMs?: number;
}

/**
 * A steady stream of authorised `POST /products`, each with a unique name, recording every
 * answer, until stopped. Chaos scenarios run faults against it and then compare what the
 * clients were told with what was stored.
 */
export class WriteStream {
  readonly outcomes: WriteOutcome[] = [];
  private readonly started = Date.now();
  private running = true;
  private counter = 0;
  private readonly writers: Promise<void>[];

  constructor(private readonly options: WriteStreamOptions) {
    this.writers = Array.from({ length: options.concurrency }, () => this.writer());
  }

  /** Milliseconds since the stream started. */
  now(): number {
    return Date.now() - this.started;
  }

  /** Resolves with the first moment (ms since start) after `since` at which a write got 201. */
  firstSuccessAfter(since: number, timeoutMs: number): Promise<number> {
    return this.successesAfter(since, 1, timeoutMs);
  }

  /**
   * Resolves once `count` writes answered after `since` (ms since start) got 201, with the moment
   * the last of them did; throws after `timeoutMs`. What a scenario waits for instead of a
   * fixed pause: traffic flowing before a fault, or again after it.
   */
  async successesAfter(since: number, count: number, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const successes = this.outcomes.filter((outcome) => outcome.status === 201 && outcome.at > since);
      const last = successes[count - 1];
      if (last) return last.at;
      if (Date.now() > deadline) {
        throw new Error(`${successes.length} of ${count} writes got 201 within ${timeoutMs} ms after ${since} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves once `count` writes were answered (whatever the status) after `since`; throws after `timeoutMs`. */
  async answersAfter(since: number, count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.outcomes.filter((outcome) => outcome.at > since).length < count) {
      if (Date.now() > deadline)
        throw new Error(`fewer than ${count} answers within ${timeoutMs} ms after ${since} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<WriteOutcome[]> {
    this.running = false;
    await Promise.all(this.writers);
    return this.outcomes;
  }

  private async writer(): Promise<void> {
    while (this.running) {
      this.counter += 1;
      const name = `${this.options.prefix}-${this.counter}`;
      const status = await this.create(name);
      this.outcomes.push({ name, status, at: this.now() });
      await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs ?? 5));
    }
  }

  private async create(name: string): Promise<number> {
    try {
      const response = await fetch(`${this.options.productUrl}/products`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.token}` },
        body: JSON.stringify({ name, price: 1.5, quantity: 1 }),
        signal: AbortSignal.timeout(this.options.clientDeadlineMs),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }
}

/** Names of the stored products whose name starts with `prefix`, duplicates kept. */
export async function storedProductNames(databaseUrl: string, prefix: string): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>('SELECT name FROM products WHERE starts_with(name, $1)', [
      `${prefix}-`,
    ]);
    return rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

/** Counts of each status in a list of outcomes, e.g. `{ 201: 480, 503: 12 }`. */
export function statusCounts(outcomes: WriteOutcome[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of outcomes) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}
