import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Pool } from 'pg';

/** As product-service's relay: a pass waits this long so that the writes meanwhile share it, in ms. */
const LINGER_MS = 5;

/** Rows per pass, as product-service's relay. */
const BATCH_SIZE = 100;

/**
 * The hand-written ideal of delivering a transactional outbox: after each write, a pass that
 * deletes up to a batch of rows (`FOR UPDATE SKIP LOCKED`), publishes them persistent on a
 * confirm channel, waits for the confirms and commits — three statements a pass, the payload
 * passed on as the text PostgreSQL stored. It leaves out what product-service's relay does
 * beyond delivery: no schema check before publishing, no 24 h of published rows kept to look
 * into, no parking, no counters or metrics, no reconnection.
 */
export class BareOutboxRelay {
  private draining = false;
  private requested = false;

  private constructor(
    private readonly pool: Pool,
    private readonly table: string,
    private readonly model: ChannelModel,
    private readonly channel: ConfirmChannel,
    private readonly exchange: string,
  ) {}

  static async start(options: {
    pool: Pool;
    table: string;
    amqpUrl: string;
    exchange: string;
  }): Promise<BareOutboxRelay> {
    const model = await connect(options.amqpUrl, { noDelay: true });
    const channel = await model.createConfirmChannel();
    await channel.assertExchange(options.exchange, 'topic', { durable: true });
    return new BareOutboxRelay(options.pool, options.table, model, channel, options.exchange);
  }

  /** Called after each committed write. */
  notify(): void {
    this.requested = true;
    if (this.draining) return;
    this.draining = true;
    this.drain()
      .catch((error: unknown) => {
        process.stderr.write(`bare outbox relay: ${error instanceof Error ? error.message : String(error)}\n`);
      })
      .finally(() => {
        this.draining = false;
      });
  }

  async close(): Promise<void> {
    await this.model.close().catch(() => undefined);
  }

  private async drain(): Promise<void> {
    while (this.requested) {
      this.requested = false;
      await new Promise((resolve) => setTimeout(resolve, LINGER_MS));
      let full = true;
      while (full) full = (await this.pass()) === BATCH_SIZE;
    }
  }

  private async pass(): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string; type: string; payload: string }>(
        `DELETE FROM ${this.table}
          WHERE id IN (SELECT id FROM ${this.table}
                        WHERE published_at IS NULL AND failed_at IS NULL -- the partial index's predicate
                        ORDER BY occurred_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING id, type, payload::text AS payload`,
        [BATCH_SIZE],
      );
      for (const row of rows) {
        this.channel.publish(this.exchange, row.type, Buffer.from(row.payload), {
          persistent: true,
          messageId: row.id,
          type: row.type,
          contentType: 'application/json',
        });
      }
      if (rows.length > 0) await this.channel.waitForConfirms();
      await client.query('COMMIT');
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
