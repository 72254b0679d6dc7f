import { plainQuery, translateDatabaseErrors, type Transaction } from '@shop/shared-runtime/db';
import type { Sequelize } from 'sequelize-typescript';

/** How long a key is remembered: a repeat within it is replayed; later, the key is free again. In ms. */
export const IDEMPOTENCY_KEY_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * How long a create in flight may hold its key while its transaction sits idle, in ms: if the
 * process stalls or its host vanishes mid-create, PostgreSQL ends the session after this, the
 * transaction rolls back and the key is free (a crashed process frees it at once, its
 * connection closing). A create's transaction runs only database statements, milliseconds apart.
 */
export const IN_FLIGHT_IDLE_LIMIT_MS = 30_000;

/** {@link IDEMPOTENCY_KEY_RETENTION_MS} as a PostgreSQL interval. */
const RETENTION = `${IDEMPOTENCY_KEY_RETENTION_MS} milliseconds`;

/** The answer the first request with a key got, replayed to its repeats. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** A key's row: whose request it was (by body fingerprint) and what it was answered. */
export interface StoredKey {
  fingerprint: string;
  response: StoredResponse;
}

/**
 * The advisory-lock class of idempotency keys (the first of the two-key form, a space apart
 * from the single-key locks of the migrator); the second key is a hash of the user and the key.
 */
const LOCK_CLASS_SQL = "hashtext('product-service:idempotency-keys')";

/**
 * `Idempotency-Key`s of `POST /products`, per user, in the table of migration 0004. A create
 * with a key runs in one transaction: {@link tryLock} (a transaction-scoped advisory lock on the
 * user and key: a second request with the key, on any replica, fails to take it and is told
 * 409), {@link findLive}, then the product, its event and {@link save} — all committed
 * together or not at all. Nothing marks a create "in progress" in a table, so a crash leaves
 * nothing to clean up: the lock goes with the transaction.
 */
export class IdempotencyKeyRepository {
  constructor(private readonly sequelize: Sequelize) {}

  /**
   * Takes the key for this transaction, or returns false at once when another transaction holds
   * it (a request with the same key in flight). Also bounds how long this transaction may sit
   * idle holding it ({@link IN_FLIGHT_IDLE_LIMIT_MS}).
   */
  async tryLock(userId: number, key: string, transaction: Transaction): Promise<boolean> {
    return this.run(async () => {
      const { rows } = await plainQuery<{ locked: boolean }>(
        this.sequelize,
        `SELECT set_config('idle_in_transaction_session_timeout', $3, true),
                pg_try_advisory_xact_lock(${LOCK_CLASS_SQL}, hashtext($1::text || ':' || $2)) AS locked`,
        [userId, key, String(IN_FLIGHT_IDLE_LIMIT_MS)],
        transaction,
      );
      return rows[0]?.locked === true;
    });
  }

  /** The user's key if it was used within the retention; a statement after {@link tryLock}, so it sees every commit before the lock. */
  async findLive(userId: number, key: string, transaction: Transaction): Promise<StoredKey | null> {
    return this.run(async () => {
      const { rows } = await plainQuery<{
        fingerprint: string;
        status: number;
        headers: Record<string, string>;
        body: unknown;
      }>(
        this.sequelize,
        `SELECT fingerprint, response_status AS status, response_headers AS headers, response_body AS body
           FROM idempotency_keys
          WHERE user_id = $1 AND key = $2 AND created_at > now() - $3::interval`,
        [userId, key, RETENTION],
        transaction,
      );
      const [row] = rows;
      return row
        ? { fingerprint: row.fingerprint, response: { status: row.status, headers: row.headers, body: row.body } }
        : null;
    });
  }

  /**
   * Records the key with the response of the create made in `transaction`. A row already there
   * is one past its retention (findLive found none), and is replaced; should a live one be there
   * after all, nothing is written and false comes back, so the caller rolls back its create.
   */
  async save(userId: number, key: string, stored: StoredKey, transaction: Transaction): Promise<boolean> {
    return this.run(async () => {
      const { rowCount } = await plainQuery(
        this.sequelize,
        `INSERT INTO idempotency_keys (user_id, key, fingerprint, response_status, response_headers, response_body)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, key) DO UPDATE
            SET fingerprint = EXCLUDED.fingerprint, response_status = EXCLUDED.response_status,
                response_headers = EXCLUDED.response_headers, response_body = EXCLUDED.response_body,
                created_at = EXCLUDED.created_at
          WHERE idempotency_keys.created_at <= now() - $7::interval`,
        [
          userId,
          key,
          stored.fingerprint,
          stored.response.status,
          JSON.stringify(stored.response.headers),
          JSON.stringify(stored.response.body),
          RETENTION,
        ],
        transaction,
      );
      return rowCount === 1;
    });
  }

  /** Deletes keys past their retention; returns how many. */
  async purgeExpired(): Promise<number> {
    return this.run(async () => {
      const { rowCount } = await plainQuery(
        this.sequelize,
        'DELETE FROM idempotency_keys WHERE created_at <= now() - $1::interval',
        [RETENTION],
      );
      return rowCount;
    });
  }

  private async run<T>(query: () => Promise<T>): Promise<T> {
    return translateDatabaseErrors(query);
  }
}
