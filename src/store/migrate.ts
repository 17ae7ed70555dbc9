import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { InternalError } from '../core/errors.js';
import { MIGRATIONS } from './migrations/index.js';
import { SCHEMA, type Database } from './schema.js';

/** What {@link migrateToLatest} did. */
export interface MigrationReport {
  /** Names of the migrations this call applied, in order; empty when the schema was up to date. */
  readonly applied: string[];
  /** Name of the latest applied migration: the schema version now in the database. */
  readonly current: string;
}

/** One known migration and when it was applied. */
export interface MigrationState {
  readonly name: string;
  /** Milliseconds since the Unix epoch; null while pending. */
  readonly appliedAt: number | null;
}

/** Serves the static {@link MIGRATIONS} list to Kysely's `Migrator` (no directory scan). */
class StaticMigrationProvider implements MigrationProvider {
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve({ ...MIGRATIONS });
  }
}

function createMigrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: new StaticMigrationProvider(), migrationTableSchema: SCHEMA });
}

/**
 * Applies every pending migration, each in the same transaction as its bookkeeping row in
 * `interlock.kysely_migration`. Safe to run from several processes at once: Kysely holds a
 * PostgreSQL advisory lock while it migrates, so each migration runs exactly once and the others
 * wait, then find nothing to do.
 *
 * @throws InternalError `MIGRATION_FAILED` naming the failed migration (`details.migration`); the
 *   schema is left at the last good migration. Also when the database holds a migration this
 *   version does not know (it was migrated by a newer Interlock; `details.migration` is null).
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<MigrationReport> {
  const { error, results = [] } = await createMigrator(db).migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : JSON.stringify(error);
    const message =
      failed === undefined
        ? `Could not migrate the database schema: ${reason}. If the database was migrated by a newer Interlock, upgrade this one.`
        : `Database migration ${failed} failed: ${reason}. The schema was left at the last good migration; fix the cause and start again.`;
    throw new InternalError(message, { code: 'MIGRATION_FAILED', details: { migration: failed ?? null }, cause: error });
  }
  const names = Object.keys(MIGRATIONS).sort();
  return {
    applied: results.filter((result) => result.status === 'Success').map((result) => result.migrationName),
    current: names[names.length - 1] ?? '',
  };
}

/**
 * Every migration this version knows, in order, with when it was applied (null while pending).
 * Reads only; works on a database that was never migrated.
 */
export async function migrationStatus(db: Kysely<Database>): Promise<MigrationState[]> {
  const migrations = await createMigrator(db).getMigrations();
  return migrations.map((migration) => ({ name: migration.name, appliedAt: migration.executedAt?.getTime() ?? null }));
}
