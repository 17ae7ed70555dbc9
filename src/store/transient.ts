/** errno codes of a connection that failed or dropped. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** SQLSTATE classes and codes that mean "the server is away or restarting; try again" (PostgreSQL Appendix A). */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/** Messages `pg` uses for a connection lost without an errno code. */
const LOST_CONNECTION = /Connection terminated|connection timeout|Client has encountered a connection error|terminating connection|the database system is (starting up|shutting down)/i;

/**
 * True for a PostgreSQL error worth retrying after a pause: a refused, reset or timed-out connection,
 * a server shutting down or starting up (SQLSTATE 57P0x), too many connections (53300), or a
 * serialization failure or deadlock (40001, 40P01). Walks `cause` chains and AggregateErrors.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export function isTransientDatabaseError(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  if (error instanceof Error && LOST_CONNECTION.test(error.message)) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isTransientDatabaseError(inner, depth + 1))) return true;
  return error instanceof Error && error.cause !== undefined && isTransientDatabaseError(error.cause, depth + 1);
}
