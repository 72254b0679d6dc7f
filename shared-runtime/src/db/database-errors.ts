import { ConnectionError, DatabaseError, TimeoutError, UniqueConstraintError } from 'sequelize';

import { AppError, ConflictError, ServiceUnavailableError } from '../errors';
import { CONNECTION_LOST } from './plain-sql';

/**
 * Runs a query and translates driver errors into the application's errors, so that no
 * Sequelize error leaves `repositories/`: an outage becomes a 503, a unique violation a 409
 * with `conflictDetail` (when none is given it stays an error, i.e. a bug).
 */
export async function translateDatabaseErrors<T>(query: () => Promise<T>, conflictDetail?: () => string): Promise<T> {
  try {
    return await query();
  } catch (error) {
    throw translateDatabaseError(error, conflictDetail);
  }
}

function translateDatabaseError(error: unknown, conflictDetail?: () => string): Error {
  if (error instanceof AppError) return error;
  if (conflictDetail && isUniqueViolation(error)) return new ConflictError(conflictDetail(), error);
  if (
    error instanceof ConnectionError ||
    error instanceof TimeoutError ||
    isPoolTimeout(error) ||
    isConnectionLost(error) ||
    isDriverOutage(error)
  ) {
    return new ServiceUnavailableError('The database is unavailable; try again shortly.', { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * SQLSTATE classes that say the server could not serve the query, not that the query was wrong:
 * 08 connection exception, 53 insufficient resources (too many connections), 57 operator
 * intervention (`pg_terminate_backend`, shutdown, statement timeout).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57)/;

/**
 * A query failed because its connection was lost mid-flight (the backend terminated, the
 * server restarting): Sequelize reports it as a plain DatabaseError, yet it is an outage.
 */
function isConnectionLost(error: unknown): boolean {
  if (!(error instanceof DatabaseError)) return false;
  return isDriverOutage(error.parent);
}

/** pg's own error (from plainQuery, or under a Sequelize one) that says the server could not serve the query. */
function isDriverOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as Error & { code?: unknown };
  return (typeof code === 'string' && UNAVAILABLE_SQLSTATE.test(code)) || CONNECTION_LOST.test(error.message);
}

/** SQLSTATE of a unique violation, as pg reports it. */
const UNIQUE_VIOLATION = '23505';

/** A unique violation, as Sequelize reports it or as pg does (from plainQuery). */
function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof UniqueConstraintError ||
    (error instanceof Error && (error as Error & { code?: unknown }).code === UNIQUE_VIOLATION)
  );
}

/** Sequelize's pool gives up with a plain error when no connection can be had in time. */
function isPoolTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'SequelizeConnectionAcquireTimeoutError';
}
