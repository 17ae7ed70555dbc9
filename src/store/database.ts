import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ConfigError, ConnectorError } from '../core/errors.js';
import type { Database } from './schema.js';

/** Options of {@link createDatabase}. */
export interface DatabaseOptions {
  /** A `postgres://` connection URL. */
  readonly url: string;
  /** Most connections the pool opens. @default 10 */
  readonly poolSize?: number;
  /** Shown in `pg_stat_activity.application_name`. @default 'interlock' */
  readonly applicationName?: string;
  /**
   * Called when an idle pooled connection fails (the server restarted, the network dropped). The
   * pool discards that connection and opens a new one for the next query; the error never crashes
   * the process. @default ignore
   */
  readonly onError?: (error: Error) => void;
}

/** A connection pool to PostgreSQL with its Kysely instance. */
export interface DatabaseHandle {
  /** Typed query builder over the `interlock` schema ({@link Database}). */
  readonly db: Kysely<Database>;
  /** The underlying pool, for libraries that take a `pg.Pool`. */
  readonly pool: pg.Pool;
  /** Closes every connection; waits for running queries. Safe to call more than once. */
  close(): Promise<void>;
}

/** How long opening one connection may take before the query that needed it fails, ms. */
const CONNECT_TIMEOUT_MS = 10_000;

/** PostgreSQL type OIDs (`pg_type.oid`) parsed differently from `pg`'s defaults. */
const INT8_OID = 20;
const TIMESTAMPTZ_OID = 1184;

type TextParser = (value: string) => unknown;

const parseTimestamptzAsDate = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (value: string) => Date | number;

/**
 * Type parsers of the pool: `int8` as a number (counts; exact below 2^53) and `timestamptz` as ms
 * since the epoch (`infinity` as `Infinity`). Scoped to Interlock's pool, so other `pg` users in the
 * process (DBOS) keep the defaults.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): TextParser => {
    if (format !== 'binary') {
      if (oid === INT8_OID) return (value) => Number(value);
      if (oid === TIMESTAMPTZ_OID) {
        return (value) => {
          const parsed = parseTimestamptzAsDate(value);
          return parsed instanceof Date ? parsed.getTime() : parsed;
        };
      }
    }
    return pg.types.getTypeParser(oid, format) as TextParser;
  }) as typeof pg.types.getTypeParser,
};

/**
 * Opens a connection pool to PostgreSQL and a Kysely instance over it. Nothing connects until the
 * first query; use {@link checkConnection} at start-up to fail fast. Timestamps are read as ms since
 * the epoch and `bigint`s as numbers.
 */
export function createDatabase(options: DatabaseOptions): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'interlock',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    types: TYPES,
  });
  const onError = options.onError ?? (() => undefined);
  pool.on('error', (error) => onError(error));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  return {
    db,
    pool,
    close() {
      closing ??= db.destroy();
      return closing;
    },
  };
}

/** Where a connection URL points, as `host:port`, without user or password. */
function describeEndpoint(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('CONFIG_INVALID', 'The database URL is not a valid URL; expected postgres://user:password@host:port/database.', [
      { path: 'database.url', message: 'not a valid URL', expected: 'postgres://user:password@host:port/database' },
    ]);
  }
  const host = parsed.hostname !== '' ? parsed.hostname : (parsed.searchParams.get('host') ?? 'localhost');
  const port = parsed.port !== '' ? parsed.port : (parsed.searchParams.get('port') ?? '5432');
  return `${host}:${port}`;
}

const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
};

/** SQLSTATEs of a server that answered but refused us; trying again will not help. */
const REFUSED_STATES: Readonly<Record<string, string>> = {
  '28P01': 'password authentication failed',
  '28000': 'authentication rejected',
  '3D000': 'database does not exist',
};

/**
 * Checks that PostgreSQL at `url` accepts a connection and answers `select 1` within `timeoutMs`
 * (ms). Use it at start-up and in `/readyz`.
 *
 * @throws ConnectorError `DATABASE_UNREACHABLE` (system `postgres`) with a one-line message naming
 *   `host:port` (never the password): `retryable` for network failures and timeouts, not for a
 *   rejected password or a missing database. `status` is the errno code or SQLSTATE.
 * @throws ConfigError `CONFIG_INVALID` when `url` is not a URL.
 */
export async function checkConnection(url: string, timeoutMs: number): Promise<void> {
  const endpoint = describeEndpoint(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    const code = errorCode(error);
    const refused = code === undefined ? undefined : REFUSED_STATES[code];
    const reason = refused ?? (code === undefined ? undefined : NETWORK_REASONS[code]) ?? oneLine(error);
    throw new ConnectorError(
      'DATABASE_UNREACHABLE',
      `Cannot reach PostgreSQL at ${endpoint}: ${reason}. Check the database URL and that the server is running.`,
      { system: 'postgres', status: code, retryable: refused === undefined, details: { endpoint }, cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The errno code (`ECONNREFUSED`) or SQLSTATE (`28P01`) of a `pg` or socket error, if any. */
function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node reports a failed connection to every address of a host name as an AggregateError.
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const innerCode = errorCode(inner);
      if (innerCode !== undefined) return innerCode;
    }
  }
  return undefined;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.replace(/\s+/g, ' ').trim();
  return line === '' ? 'unknown error' : line;
}

/**
 * Runs `task` while holding PostgreSQL advisory lock `key` (session level, on one pooled connection),
 * so that several Interlock processes starting at once do it one at a time (e.g. schema migrations).
 * It polls `pg_try_advisory_lock` every `pollMs` instead of blocking in `pg_advisory_lock`: a waiter
 * blocked inside a statement holds a virtual transaction ID, and `CREATE INDEX CONCURRENTLY` run by
 * the holder (DBOS's migrations do) would wait for it forever.
 * @see https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
 */
export async function withAdvisoryLock<T>(pool: pg.Pool, key: number, task: () => Promise<T>, pollMs = 100): Promise<T> {
  const client = await pool.connect();
  try {
    for (;;) {
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [key]);
      if (rows[0]?.locked === true) break;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    try {
      return await task();
    } finally {
      await client.query('select pg_advisory_unlock($1)', [key]);
    }
  } finally {
    client.release();
  }
}
