import type { Sequelize } from 'sequelize-typescript';

import type { DomainEvent } from '@shop/shared-contracts';

import { activeTraceparent } from '../trace-context';
import { translateDatabaseErrors } from './database-errors';
import { plainQuery, type SqlTransaction } from './plain-sql';

/** Where an outbox statement runs: in the caller's transaction (Sequelize's or a plain one), or on its own. */
export interface OutboxTransactionOptions {
  transaction?: SqlTransaction;
}

/**
 * An event as a service records it: the whole envelope but `occurred_at`, which the database
 * stamps with the clock of the transaction that records it (see {@link OutboxRepository.add}).
 */
export type NewEvent<E extends DomainEvent = DomainEvent> = E extends DomainEvent ? Omit<E, 'occurred_at'> : never;

/** An unpublished event, locked for publishing. `payload` is checked against its schema before it goes out. */
export interface ClaimedEvent {
  id: string;
  type: string;
  payload: unknown;
  /** W3C `traceparent` of the span that recorded the event (the request's), for the publish span's link. */
  traceparent: string | null;
}

/** How far publishing lags behind: events waiting (parked ones excluded), and the oldest one's age. */
export interface OutboxBacklog {
  events: number;
  /** Seconds since the oldest waiting event occurred; 0 when none waits. */
  oldestAgeSeconds: number;
}

/** Longest `last_error` kept, in characters. */
const MAX_ERROR_LENGTH = 1000;

/**
 * SQL that renders `expression`, a timestamptz, exactly as `Date.prototype.toISOString()` does
 * (UTC, milliseconds, `Z`). `MS` truncates the microseconds as pg's parser does, so the text is
 * the same as the same instant read into a JS Date and printed.
 */
export function isoTimestampSql(expression: string): string {
  return `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * The transactional outbox (`outbox_events`): events are written in the same transaction as
 * the change they describe, and published from here by the relay once committed, so an event
 * goes out if and only if its change was stored. Rows are kept 24 h after publishing, then purged.
 * Every statement is plain SQL run by plainQuery: the relay runs them for every batch.
 */
export class OutboxRepository {
  private readonly sequelize: Sequelize;

  constructor(deps: { sequelize: Sequelize }) {
    this.sequelize = deps.sequelize;
  }

  /**
   * Records `event`, to be published once the caller's `transaction` commits (without one it is
   * stored on its own). Its `occurred_at` is the transaction's `now()`, the same instant as every
   * other row the transaction stamps with `now()`. The trace context running now (the request's)
   * is stored beside it, so the span that later publishes it can link back to that request.
   */
  async add(event: NewEvent, options: OutboxTransactionOptions = {}): Promise<void> {
    await this.run(() =>
      plainQuery(
        this.sequelize,
        `INSERT INTO outbox_events (id, type, payload, occurred_at, traceparent)
         VALUES ($1, $2, $3::jsonb || jsonb_build_object('occurred_at', ${isoTimestampSql('now()')}), now(), $4)`,
        [event.id, event.type, JSON.stringify(event), activeTraceparent() ?? null],
        options.transaction,
      ),
    );
  }

  /**
   * Locks and returns up to `limit` events that are neither published nor parked, oldest first.
   * SKIP LOCKED passes over rows another relay holds instead of waiting for them, so several
   * instances share the backlog and never publish the same row at once. The locks last until
   * `transaction` ends.
   */
  async claimBatch(limit: number, transaction: SqlTransaction): Promise<ClaimedEvent[]> {
    return this.run(async () => {
      const { rows } = await plainQuery<ClaimedEvent>(
        this.sequelize,
        `SELECT id, type, payload, traceparent
           FROM outbox_events
          WHERE published_at IS NULL AND failed_at IS NULL
          ORDER BY occurred_at, id
          LIMIT $1
            FOR UPDATE SKIP LOCKED`,
        [limit],
        transaction,
      );
      return rows;
    });
  }

  /** Marks claimed events as published (the broker confirmed them); final when `transaction` commits. */
  async markPublished(ids: readonly string[], transaction: SqlTransaction): Promise<void> {
    if (ids.length === 0) return;
    await this.run(() =>
      plainQuery(
        this.sequelize,
        `UPDATE outbox_events
            SET published_at = clock_timestamp(), attempts = attempts + 1
          WHERE id = ANY($1::uuid[])`,
        [ids],
        transaction,
      ),
    );
  }

  /**
   * Parks an event that can never be published (it fails its schema): it stays, with the reason,
   * for someone to look at, and is never tried again. Pass the transaction that claimed it.
   */
  async markFailed(id: string, error: string, options: OutboxTransactionOptions = {}): Promise<void> {
    await this.run(() =>
      plainQuery(
        this.sequelize,
        `UPDATE outbox_events
            SET failed_at = clock_timestamp(), attempts = attempts + 1, last_error = $2
          WHERE id = $1`,
        [id, error.slice(0, MAX_ERROR_LENGTH)],
        options.transaction,
      ),
    );
  }

  /** Notes a failed publish attempt of events that stay in the outbox, to be tried again. */
  async recordAttemptFailure(ids: readonly string[], error: string): Promise<void> {
    if (ids.length === 0) return;
    await this.run(() =>
      plainQuery(
        this.sequelize,
        `UPDATE outbox_events
            SET attempts = attempts + 1, last_error = $2
          WHERE id = ANY($1::uuid[]) AND published_at IS NULL`,
        [ids, error.slice(0, MAX_ERROR_LENGTH)],
      ),
    );
  }

  /** Deletes the events published before `olderThan`; returns how many. Parked events stay. */
  async purgePublished(olderThan: Date): Promise<number> {
    return this.run(async () => {
      const { rowCount } = await plainQuery(this.sequelize, 'DELETE FROM outbox_events WHERE published_at < $1', [
        olderThan,
      ]);
      return rowCount;
    });
  }

  /** Events waiting to be published and the age of the oldest, for metrics. */
  async backlog(): Promise<OutboxBacklog> {
    return this.run(async () => {
      const { rows } = await plainQuery<OutboxBacklog>(
        this.sequelize,
        `SELECT count(*)::int AS events,
                COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(occurred_at)), 0)::float8 AS "oldestAgeSeconds"
           FROM outbox_events
          WHERE published_at IS NULL AND failed_at IS NULL`,
      );
      return rows[0] ?? { events: 0, oldestAgeSeconds: 0 };
    });
  }

  private run<T>(query: () => Promise<T>): Promise<T> {
    return translateDatabaseErrors(query);
  }
}
