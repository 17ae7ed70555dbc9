import type { Kysely } from 'kysely';
import { InputError } from '../core/errors.js';
import { PgAuditLog, type AuditRecord } from './audit-log.js';
import type { Database } from './schema.js';

/** A sink's export cursor: the index of the next entry to export, and when it last moved. */
export interface AuditExportCursor {
  /** The sink's configured name. */
  readonly sink: string;
  /** Index of the next entry to export: every entry below it was confirmed by the sink. */
  readonly next: number;
  /** When the cursor was created or last moved, ms since the epoch. */
  readonly updatedAt: number;
}

/** A cursor held by {@link PgAuditExportCursors.claim}: where it stands, and the entries from there. */
export interface ClaimedAuditExportCursor {
  readonly sink: string;
  /** Index of the next entry to export. */
  readonly next: number;
  /** Up to `limit` (1..1000) entries from `next` on, in index order; fewer (or none) at the end of the log. */
  read(limit: number): Promise<readonly AuditRecord[]>;
}

/** What {@link PgAuditExportCursors.claim} did: ran the work holding the cursor, or found it held by another process. */
export type AuditExportClaim<T> = { readonly claimed: true; readonly value: T } | { readonly claimed: false };

/**
 * The export cursors of the SIEM sinks (table `interlock.audit_export_cursors`), one row per sink
 * name, shared by every worker of the database. {@link claim} holds a sink's row lock for one
 * delivery, so one process at a time exports a sink, and the cursor moves in the same transaction
 * that held it, only as far as the sink confirmed: nothing is skipped, and after a crash the next
 * claim starts where the last commit left off.
 */
export class PgAuditExportCursors {
  readonly #db: Kysely<Database>;

  /** `db` comes from `createDatabase`. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Claims `sink`'s cursor (creating it at 0 on first use) with `SELECT ... FOR UPDATE SKIP LOCKED`
   * in one transaction, runs `work` with it, moves the cursor to the `next` that `work` returns when
   * that is further, and commits. When another transaction holds the cursor, resolves `{ claimed:
   * false }` at once without running `work`. When `work` (or the database) throws, the transaction
   * rolls back, the cursor stays, and the error propagates.
   *
   * @throws InputError `INPUT_INVALID` when `work` returns a `next` that is not a whole number.
   */
  async claim<T>(sink: string, work: (cursor: ClaimedAuditExportCursor) => Promise<{ readonly next: number; readonly value: T }>): Promise<AuditExportClaim<T>> {
    // Created outside the claiming transaction: a first claim must not hold a new row's insert
    // (which a concurrent insert of the same key would wait for) for the whole delivery.
    await this.#create(this.#db, sink);
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('interlock.audit_export_cursors').select('next_idx').where('sink', '=', sink).forUpdate().skipLocked().executeTakeFirst();
      if (row === undefined) return { claimed: false } as const;
      const log = new PgAuditLog(trx);
      const done = await work({
        sink,
        next: row.next_idx,
        read: async (limit) => (await log.query({ after: row.next_idx - 1, limit })).entries,
      });
      if (!Number.isSafeInteger(done.next) || done.next < 0) throw new InputError('INPUT_INVALID', `An export cursor must be a whole number >= 0; got ${String(done.next)}.`, [{ path: 'next', message: 'is not an entry index', expected: 'an integer >= 0', received: String(done.next) }]);
      if (done.next > row.next_idx) {
        await trx.updateTable('interlock.audit_export_cursors').set({ next_idx: done.next, updated_at: new Date() }).where('sink', '=', sink).execute();
      }
      return { claimed: true, value: done.value } as const;
    });
  }

  /** The cursor of `sink`, or undefined before its first export. */
  async get(sink: string): Promise<AuditExportCursor | undefined> {
    const row = await this.#db.selectFrom('interlock.audit_export_cursors').selectAll().where('sink', '=', sink).executeTakeFirst();
    return row === undefined ? undefined : { sink: row.sink, next: row.next_idx, updatedAt: row.updated_at };
  }

  /** Every cursor, by sink name (including sinks no longer configured). */
  async list(): Promise<AuditExportCursor[]> {
    const rows = await this.#db.selectFrom('interlock.audit_export_cursors').selectAll().orderBy('sink').execute();
    return rows.map((row) => ({ sink: row.sink, next: row.next_idx, updatedAt: row.updated_at }));
  }

  /**
   * Moves `sink`'s cursor to `next`, backwards to replay entries or forwards to skip them, waiting
   * for a delivery in progress to finish first (the row lock, without SKIP LOCKED).
   *
   * @throws InputError `INPUT_INVALID` when `next` is not a whole number in [0, log size].
   */
  async set(sink: string, next: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const size = await new PgAuditLog(trx).size();
      if (!Number.isSafeInteger(next) || next < 0 || next > size) {
        throw new InputError('INPUT_INVALID', `An export cursor must be an entry index in [0, ${size}] (the log holds ${size} entries); got ${String(next)}.`, [{ path: 'from', message: 'is not an entry index of the log', expected: `an integer in [0, ${size}]`, received: String(next) }]);
      }
      await this.#create(trx, sink);
      // The UPDATE waits for the row lock of a delivery in progress.
      await trx.updateTable('interlock.audit_export_cursors').set({ next_idx: next, updated_at: new Date() }).where('sink', '=', sink).execute();
    });
  }

  async #create(db: Kysely<Database>, sink: string): Promise<void> {
    await db.insertInto('interlock.audit_export_cursors').values({ sink, next_idx: 0, updated_at: new Date() }).onConflict((oc) => oc.column('sink').doNothing()).execute();
  }
}
