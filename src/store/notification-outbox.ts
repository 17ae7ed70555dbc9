import type { Kysely } from 'kysely';
import type { NotificationEvent } from '../core/tickets/ticket.js';
import { timestamptz, type Database } from './schema.js';

/** A delivery claimed for an attempt. Times in ms since the epoch. */
export interface ClaimedNotification {
  readonly id: string;
  readonly target: string;
  readonly event: NotificationEvent;
  /** The exact body to send. */
  readonly body: string;
  /** This attempt's number, 1 for the first. */
  readonly attempt: number;
  readonly createdAt: number;
}

/**
 * The notification outbox on PostgreSQL (`interlock.notification_outbox`) as the dispatcher uses it:
 * claim due deliveries under a lease, then mark each delivered, due again later, or failed. Rows are
 * queued by {@link PgTicketStore} in the transactions that record what they notify.
 */
export class PgNotificationOutbox {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Claims up to `limit` pending deliveries to `targets` that are due at `now` (ms), oldest due first:
   * selects them `FOR UPDATE SKIP LOCKED` (so concurrent workers claim different rows), counts the
   * attempt, and moves their due time `leaseMs` ahead, in one statement. A worker that dies mid-attempt
   * leaves its rows to be claimed again when the lease ends: delivery is at least once.
   */
  async claimDue(targets: readonly string[], limit: number, leaseMs: number, now: number): Promise<ClaimedNotification[]> {
    if (targets.length === 0 || limit < 1) return [];
    const rows = await this.#db.updateTable('interlock.notification_outbox')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: new Date(now + leaseMs) }))
      .where('id', 'in', (eb) => eb.selectFrom('interlock.notification_outbox')
        .select('id')
        .where('status', '=', 'pending')
        .where('target', 'in', [...targets])
        .where('next_attempt_at', '<=', timestamptz(now))
        .orderBy('next_attempt_at')
        .limit(limit)
        .forUpdate()
        .skipLocked())
      .where('status', '=', 'pending')
      .returning(['id', 'target', 'event', 'body', 'attempts', 'created_at'])
      .execute();
    return rows
      .map((row) => ({ id: row.id, target: row.target, event: row.event as NotificationEvent, body: row.body, attempt: row.attempts, createdAt: row.created_at }))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Marks delivery `id` delivered at `now` (ms) with the receiver's HTTP `status`. */
  async markDelivered(id: string, now: number, status: number | null): Promise<void> {
    await this.#db.updateTable('interlock.notification_outbox')
      .set({ status: 'delivered', delivered_at: new Date(now), last_error: null, last_status: status })
      .where('id', '=', id).where('status', '=', 'pending')
      .execute();
  }

  /** Records a failed attempt of delivery `id`; the next one is due at `nextAttemptAt` (ms). */
  async markRetry(id: string, nextAttemptAt: number, error: string, status: number | null): Promise<void> {
    await this.#db.updateTable('interlock.notification_outbox')
      .set({ next_attempt_at: new Date(nextAttemptAt), last_error: error, last_status: status })
      .where('id', '=', id).where('status', '=', 'pending')
      .execute();
  }

  /** Gives delivery `id` up: marked `failed` with its last error, never tried again. */
  async markFailed(id: string, error: string, status: number | null): Promise<void> {
    await this.#db.updateTable('interlock.notification_outbox')
      .set({ status: 'failed', last_error: error, last_status: status })
      .where('id', '=', id).where('status', '=', 'pending')
      .execute();
  }
}
