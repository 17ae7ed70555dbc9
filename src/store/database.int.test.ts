import getPort from 'get-port';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../core/errors.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres.js';
import { checkConnection, createDatabase } from './database.js';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase('store_database');
});

afterAll(async () => {
  await testDb.drop();
});

async function unreachable(url: string): Promise<ConnectorError> {
  const error: unknown = await checkConnection(url, 2_000).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConnectorError);
  return error as ConnectorError;
}

describe('checkConnection', () => {
  it('passes against a running server', async () => {
    await expect(checkConnection(testDb.url, 2_000)).resolves.toBeUndefined();
  });

  it('reports a closed port as DATABASE_UNREACHABLE in one line naming host:port, never the password', async () => {
    const port = await getPort({ host: '127.0.0.1' });
    const error = await unreachable(`postgres://interlock:s3cret-pw@127.0.0.1:${port}/interlock`);

    expect(error.code).toBe('DATABASE_UNREACHABLE');
    expect(error.message).toBe(
      `Cannot reach PostgreSQL at 127.0.0.1:${port}: connection refused. Check the database URL and that the server is running.`,
    );
    expect(error.message).not.toContain('s3cret-pw');
    expect(JSON.stringify(error.details)).not.toContain('s3cret-pw');
    expect(error.system).toBe('postgres');
    expect(error.retryable).toBe(true);
    expect(error.systemStatus).toBe('ECONNREFUSED');
  });

  it('reports a missing database as not retryable', async () => {
    const url = new URL(testDb.url);
    url.pathname = '/no_such_database_here';
    const error = await unreachable(url.toString());

    expect(error.code).toBe('DATABASE_UNREACHABLE');
    expect(error.message).toContain('database does not exist');
    expect(error.retryable).toBe(false);
  });
});

describe('createDatabase', () => {
  it('reads timestamptz as ms since the epoch and bigint as a number', async () => {
    const handle = createDatabase({ url: testDb.url });
    try {
      const { rows } = await sql<{ at: number; total: number }>`select cast('2026-01-02T03:04:05.678Z' as timestamptz) as at, cast(9007199254740991 as bigint) as total`.execute(handle.db);
      expect(rows[0]).toEqual({ at: Date.UTC(2026, 0, 2, 3, 4, 5, 678), total: Number.MAX_SAFE_INTEGER });
    } finally {
      await handle.close();
    }
  });

  it('leaves the global pg type parsers alone', async () => {
    const handle = createDatabase({ url: testDb.url });
    const client = new pg.Client({ connectionString: testDb.url });
    try {
      await client.connect();
      const { rows } = await client.query<{ at: unknown }>('select now() as at');
      expect(rows[0]?.at).toBeInstanceOf(Date);
    } finally {
      await client.end();
      await handle.close();
    }
  });

  it('survives the server dropping an idle connection, and the next query reconnects', async () => {
    const errors: Error[] = [];
    const handle = createDatabase({ url: testDb.url, applicationName: 'interlock-drop-test', onError: (error) => errors.push(error) });
    try {
      await sql`select 1`.execute(handle.db);
      const admin = new pg.Client({ connectionString: testDb.url });
      await admin.connect();
      await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'interlock-drop-test'");
      await admin.end();
      await expect.poll(() => errors.length).toBeGreaterThan(0);

      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(handle.db);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await handle.close();
    }
  });

  it('closes more than once without error', async () => {
    const handle = createDatabase({ url: testDb.url });
    await sql`select 1`.execute(handle.db);
    await handle.close();
    await expect(handle.close()).resolves.toBeUndefined();
  });
});
