import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InternalError } from '../core/errors.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres.js';
import { createDatabase, type DatabaseHandle } from './database.js';
import { migrateToLatest, migrationStatus } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';

const ALL = Object.keys(MIGRATIONS).sort();
const LATEST = ALL[ALL.length - 1];

let testDb: TestDatabase;
let handles: DatabaseHandle[];

function connect(): DatabaseHandle {
  const handle = createDatabase({ url: testDb.url, poolSize: 2 });
  handles.push(handle);
  return handle;
}

async function tableNames(handle: DatabaseHandle): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'interlock' order by 1`.execute(handle.db);
  return rows.map((row) => row.name);
}

async function failure(promise: Promise<unknown>): Promise<InternalError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InternalError);
  return error as InternalError;
}

beforeEach(async () => {
  testDb = await createTestDatabase('store_migrate');
  handles = [];
});

afterEach(async () => {
  await Promise.all(handles.map((handle) => handle.close()));
  await testDb.drop();
});

describe('migrateToLatest', () => {
  it('creates the schema on an empty database, then finds nothing to do', async () => {
    const { db } = connect();
    expect(await migrationStatus(db)).toEqual(ALL.map((name) => ({ name, appliedAt: null })));

    const before = Date.now();
    expect(await migrateToLatest(db)).toEqual({ applied: ALL, current: LATEST });
    expect(await migrateToLatest(db)).toEqual({ applied: [], current: LATEST });

    const status = await migrationStatus(db);
    expect(status.map((migration) => migration.name)).toEqual(ALL);
    for (const migration of status) expect(migration.appliedAt).toBeGreaterThanOrEqual(before - 1_000);
    expect(await tableNames(connect())).toEqual(['action_log', 'api_tokens', 'approval_votes', 'approvals', 'audit_checkpoints', 'audit_entries', 'audit_export_cursors', 'audit_tree_nodes', 'frozen_actions', 'incidents', 'kill_switches', 'kysely_migration', 'kysely_migration_lock', 'mcp_tool_pins', 'mission_steps', 'mission_transitions', 'missions', 'notification_outbox', 'principals', 'signal_intakes', 'signals', 'ticket_missions', 'tickets', 'workers']);
  });

  it('applies each migration exactly once when several processes migrate at once', async () => {
    const reports = await Promise.all([connect(), connect(), connect()].map((handle) => migrateToLatest(handle.db)));

    expect(reports.flatMap((report) => report.applied).sort()).toEqual(ALL);
    for (const report of reports) expect(report.current).toBe(LATEST);
    const { rows } = await sql<{ name: string }>`select name from interlock.kysely_migration order by name`.execute(connect().db);
    expect(rows.map((row) => row.name)).toEqual(ALL);
  });

  it('throws MIGRATION_FAILED naming the failed migration and leaves the schema as it was', async () => {
    const { db } = connect();
    // Something already owns one of the names the first migration creates.
    await sql`create schema interlock`.execute(db);
    await sql`create table interlock.workers (id text primary key)`.execute(db);

    const error = await failure(migrateToLatest(db));

    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.details).toEqual({ migration: '0001-missions' });
    expect(error.message).toContain('Database migration 0001-missions failed: relation "workers" already exists');
    expect(await tableNames(connect())).toEqual(['kysely_migration', 'kysely_migration_lock', 'workers']);
    expect((await migrationStatus(db)).every((migration) => migration.appliedAt === null)).toBe(true);
  });

  it('throws MIGRATION_FAILED when a newer Interlock migrated the database', async () => {
    const { db } = connect();
    await migrateToLatest(db);
    await sql`insert into interlock.kysely_migration (name, timestamp) values ('9999-from-the-future', ${new Date().toISOString()})`.execute(db);

    const error = await failure(migrateToLatest(db));

    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.details).toEqual({ migration: null });
    expect(error.message).toContain('9999-from-the-future');
    expect(error.message).toContain('upgrade');
  });
});
