import pg from 'pg';
import { ConnectorError, InterlockError } from '../../core/errors.js';
import { isTransientDatabaseError } from '../../store/transient.js';

const SYSTEM = 'postgres';

/** The `application_name` of the connector's own sessions (they are never terminated: `pg_backend_pid()` is excluded too). */
export const CONNECTOR_APPLICATION_NAME = 'interlock-postgres-connector';

/** Runs one SQL statement with positional parameters (`$1`...) and returns its rows. */
export type Query = <R extends Record<string, unknown>>(sql: string, params?: readonly unknown[]) => Promise<R[]>;

/** Where the managed database is and how long the connector's statements may run. */
export interface PostgresClientOptions {
  /** The connection URL, password included; never put in messages. */
  readonly url: string;
  /** The session's `statement_timeout`, and the bound on connecting, ms. */
  readonly statementTimeoutMs: number;
}

/** Opens a session for one tool call, runs `fn` on it and closes it. */
export interface PostgresClient {
  /**
   * Connects, runs `fn` with a {@link Query} on the session, and disconnects. `write` says whether a
   * failure after a statement was sent may have left an effect (`outcomeUnknown`).
   * @throws ConnectorError (system `postgres`): `TOOL_FAILED` when connecting fails (retryable for a
   *   refused or lost connection and a server starting, stopping or full; not for authentication,
   *   SQLSTATE class 28), or a statement fails (`status` = its SQLSTATE; retryable as above and for
   *   57014, the statement timeout; 42501 names the role the connector needs); `TOOL_TIMEOUT` when
   *   the server does not answer within `statementTimeoutMs` + 1 s; `TOOL_FAILED` (not retryable)
   *   when `signal` aborts. Lost connections and timeouts of a `write` have `outcomeUnknown`.
   */
  session<T>(signal: AbortSignal, write: boolean, fn: (query: Query) => Promise<T>): Promise<T>;
}

/**
 * A client of the managed database that opens one session per tool call (no pool to close, nothing
 * kept between calls), with `application_name` {@link CONNECTOR_APPLICATION_NAME} and the configured
 * `statement_timeout`. Messages name the host and database, never the URL or the password.
 */
export function createPostgresClient(options: PostgresClientOptions): PostgresClient {
  const where = describeTarget(options.url);
  return {
    async session(signal, write, fn) {
      if (signal.aborted) throw aborted(where, false);
      const client = new pg.Client({
        connectionString: options.url,
        application_name: CONNECTOR_APPLICATION_NAME,
        statement_timeout: options.statementTimeoutMs,
        query_timeout: options.statementTimeoutMs + 1000,
        connectionTimeoutMillis: options.statementTimeoutMs,
      });
      // A backend that goes away between statements emits 'error' on the client; the pending call fails on its own.
      client.on('error', () => undefined);
      const abort = (): void => {
        void client.end().catch(() => undefined);
      };
      signal.addEventListener('abort', abort, { once: true });
      let connected = false;
      try {
        await client.connect();
        connected = true;
        return await fn(async <R extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> => (await client.query<R>(sql, [...params])).rows);
      } catch (error) {
        if (error instanceof InterlockError) throw error; // the call's own refusals and failures
        if (signal.aborted) throw aborted(where, write && connected);
        throw translate(error, where, write && connected, options.statementTimeoutMs);
      } finally {
        signal.removeEventListener('abort', abort);
        await client.end().catch(() => undefined);
      }
    },
  };
}

/** `host:port/database` of a connection URL, for messages; no user, no password. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.host === '' ? (parsed.searchParams.get('host') ?? 'localhost') : parsed.host;
    return `${host}${parsed.pathname === '' ? '/' : parsed.pathname}`;
  } catch {
    return '(the configured database)';
  }
}

function aborted(where: string, outcomeUnknown: boolean): ConnectorError {
  return new ConnectorError('TOOL_FAILED', `The call to PostgreSQL at ${where} was aborted (the call timed out or its mission was cancelled).`, { system: SYSTEM, retryable: false, outcomeUnknown });
}

/** A `pg` or network error as a {@link ConnectorError}; `sent` when a statement may have run. */
function translate(error: unknown, where: string, sent: boolean, statementTimeoutMs: number): ConnectorError {
  const code = typeof (error as { code?: unknown } | null)?.code === 'string' ? (error as { code: string }).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const sqlstate = code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (/query read timeout/i.test(message)) {
    return new ConnectorError('TOOL_TIMEOUT', `PostgreSQL at ${where} did not answer within ${statementTimeoutMs + 1000} ms${sent ? '; the statement may have run, re-observe before trying again' : ''}.`, {
      system: SYSTEM, retryable: true, outcomeUnknown: sent, cause: error,
    });
  }
  if (sqlstate === '57014') {
    return new ConnectorError('TOOL_FAILED', `A statement ran longer than connectors.postgres.statementTimeoutMs (${statementTimeoutMs} ms) on ${where} and was cancelled.`, {
      system: SYSTEM, status: sqlstate, retryable: true, cause: error,
    });
  }
  if (sqlstate?.startsWith('28') === true) {
    return new ConnectorError('TOOL_FAILED', `PostgreSQL at ${where} refused the connector's login (${sqlstate}: ${message}); check the user and password of the connection URL.`, {
      system: SYSTEM, status: sqlstate, retryable: false, cause: error,
    });
  }
  if (sqlstate === '42501') {
    return new ConnectorError('TOOL_FAILED', `PostgreSQL at ${where} refused the connector a privilege (${message}); its role needs pg_signal_backend (to terminate) and pg_read_all_stats (to read other roles' queries).`, {
      system: SYSTEM, status: sqlstate, retryable: false, cause: error,
    });
  }
  const transient = isTransientDatabaseError(error);
  if (sqlstate !== undefined) {
    return new ConnectorError('TOOL_FAILED', `PostgreSQL at ${where} failed a statement of the connector (${sqlstate}: ${message}).`, {
      system: SYSTEM, status: sqlstate, retryable: transient, outcomeUnknown: sent && transient, cause: error,
    });
  }
  return new ConnectorError('TOOL_FAILED', `Could not ${sent ? 'finish the call to' : 'connect to'} PostgreSQL at ${where}: ${code ?? message}; check that it is up and the URL is right.`, {
    system: SYSTEM, status: code, retryable: transient || code !== undefined, outcomeUnknown: sent, cause: error,
  });
}
