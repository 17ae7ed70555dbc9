import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase, migrateToLatest, type DatabaseHandle } from '../../src/store/index.js';

/** A database created for one test file; `drop()` removes it. */
export interface TestDatabase {
  /** Connection URL of the new database. */
  readonly url: string;
  /** Terminates the database's connections and drops it. Safe to call more than once. */
  drop(): Promise<void>;
}

/** Admin connection to the machine's PostgreSQL server (trust auth); override with TEST_DATABASE_ADMIN_URL. */
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates a uniquely named, empty database on the test PostgreSQL server, so test files never share
 * one. `prefix` (letters, digits, `_`) starts the name, e.g. `store_missions`.
 */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 40)}_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`create database ${client.escapeIdentifier(name)}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop() {
      dropping ??= withAdmin(async (client) => {
        await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
        await client.query(`drop database if exists ${client.escapeIdentifier(name)}`);
      });
      return dropping;
    },
  };
}

/** A {@link TestDatabase} with Interlock's schema migrated and a connection pool open on it. */
export interface MigratedTestDatabase extends TestDatabase {
  readonly handle: DatabaseHandle;
  /** Closes the pool, then drops the database. */
  close(): Promise<void>;
}

/** Creates a fresh test database, migrates it to the latest schema and opens a pool on it. */
export async function createMigratedTestDatabase(prefix: string, poolSize?: number): Promise<MigratedTestDatabase> {
  const database = await createTestDatabase(prefix);
  const handle = createDatabase({ url: database.url, ...(poolSize === undefined ? {} : { poolSize }) });
  await migrateToLatest(handle.db);
  return {
    ...database,
    handle,
    async close() {
      await handle.close();
      await database.drop();
    },
  };
}
