import type { Kysely } from 'kysely';
import type { WorkerRecord, WorkerRegistry } from '../core/ports.js';
import { timestamptz, type Database, type WorkerRow } from './schema.js';

/**
 * The {@link WorkerRegistry} on PostgreSQL (table `interlock.workers`): workers heartbeat, and a
 * survivor claims a peer whose heartbeat is older than the lease (or that stopped cleanly) with one
 * atomic `UPDATE`, so each dead worker is taken over exactly once. Times are ms since the Unix
 * epoch, as each caller's clock reads them.
 */
export class PgWorkerRegistry implements WorkerRegistry {
  readonly #db: Kysely<Database>;

  /** `db` comes from `createDatabase`. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Registers worker `id` as alive with a heartbeat at `at`, or re-registers it (a restart under the
   * same ID): state back to `alive`, `takenOverBy` cleared.
   */
  async register(worker: Omit<WorkerRecord, 'state' | 'takenOverBy' | 'heartbeatAt'>, at: number): Promise<void> {
    const row = {
      id: worker.id,
      host: worker.host,
      pid: worker.pid,
      version: worker.version,
      started_at: new Date(worker.startedAt),
      heartbeat_at: new Date(at),
      state: 'alive' as const,
      taken_over_by: null,
    };
    await this.#db
      .insertInto('interlock.workers')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet({ ...row, id: undefined }))
      .execute();
  }

  /**
   * Renews the heartbeat of an `alive` worker to `at`. False when the worker is not alive: peers
   * declared it dead (it is fenced and must stop at once), it was marked stopped, or it never
   * registered.
   */
  async heartbeat(id: string, at: number): Promise<boolean> {
    const renewed = await this.#db
      .updateTable('interlock.workers')
      .set({ heartbeat_at: new Date(at) })
      .where('id', '=', id)
      .where('state', '=', 'alive')
      .returning('id')
      .executeTakeFirst();
    return renewed !== undefined;
  }

  /** Marks an alive worker as stopped at `at`, so a peer claims it without waiting out the lease. */
  async markStopped(id: string, at: number): Promise<void> {
    await this.#db
      .updateTable('interlock.workers')
      .set({ state: 'stopped', heartbeat_at: new Date(at) })
      .where('id', '=', id)
      .where('state', '=', 'alive')
      .execute();
  }

  /**
   * Declares dead, for `by`, every other worker that stopped cleanly or whose heartbeat is older than
   * `now - leaseMs`, and returns the IDs this call claimed. One atomic `UPDATE … RETURNING`: when
   * several workers claim at once, PostgreSQL's row locks give each expired worker to exactly one.
   */
  async claimExpired(by: string, leaseMs: number, now: number): Promise<string[]> {
    const expiredBefore = timestamptz(now - leaseMs);
    const claimed = await this.#db
      .updateTable('interlock.workers')
      .set({ state: 'dead', taken_over_by: by })
      .where('id', '<>', by)
      .where('taken_over_by', 'is', null)
      .where((eb) => eb.or([eb('state', '=', 'stopped'), eb.and([eb('state', '=', 'alive'), eb('heartbeat_at', '<', expiredBefore)])]))
      .returning('id')
      .execute();
    return claimed.map((row) => row.id).sort();
  }

  /** Every registered worker, oldest start first. */
  async list(): Promise<WorkerRecord[]> {
    const rows = await this.#db.selectFrom('interlock.workers').selectAll().orderBy('started_at').orderBy('id').execute();
    return rows.map(toWorker);
  }
}

function toWorker(row: WorkerRow): WorkerRecord {
  return {
    id: row.id,
    host: row.host,
    pid: row.pid,
    version: row.version,
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
    state: row.state,
    takenOverBy: row.taken_over_by,
  };
}
