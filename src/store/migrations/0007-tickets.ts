import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Migration `0007-tickets` (issue #6): where closing and escalating record and notify (docs/tickets.md).
 * - `ticket_numbers`: the sequence of human-readable ticket IDs (`INC-<n>`);
 * - `tickets`: one row per ticket, unique per `ticket_key` (`incident:<uuid>`, or `mission:<uuid>` for
 *   a mission tied to no incident), the folded `Ticket` as JSON with its status, project and title
 *   copied for queries;
 * - `ticket_missions`: each mission recorded on a ticket, once (what makes recording idempotent);
 * - `notification_outbox`: one row per delivery to one target (webhook), queued in the transaction
 *   that records the ticket change, with the exact body to send and its delivery state.
 */
export const migration0007Tickets: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await sql`create sequence interlock.ticket_numbers as bigint start 1`.execute(db);
    await schema
      .createTable('tickets')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('number', 'bigint', (col) => col.notNull().unique())
      .addColumn('ticket_key', 'text', (col) => col.notNull().unique())
      .addColumn('incident_id', 'uuid')
      .addColumn('project', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('open', 'resolved', 'escalated')`))
      .addColumn('title', 'text', (col) => col.notNull())
      .addColumn('ticket', 'jsonb', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
      .execute();
    await schema.createIndex('tickets_incident').on('tickets').columns(['incident_id']).where(sql.ref('incident_id'), 'is not', null).execute();
    await schema.createIndex('tickets_project').on('tickets').columns(['project', 'number']).execute();
    await schema.createIndex('tickets_status').on('tickets').columns(['status', 'number']).execute();
    await schema
      .createTable('ticket_missions')
      .addColumn('mission_id', 'uuid', (col) => col.primaryKey())
      .addColumn('ticket_id', 'text', (col) => col.notNull().references('interlock.tickets.id'))
      .addColumn('recorded_at', 'timestamptz', (col) => col.notNull())
      .execute();
    await schema.createIndex('ticket_missions_ticket').on('ticket_missions').columns(['ticket_id']).execute();
    await schema
      .createTable('notification_outbox')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .addColumn('target', 'text', (col) => col.notNull())
      .addColumn('event', 'text', (col) => col.notNull())
      .addColumn('dedupe_key', 'text', (col) => col.notNull())
      .addColumn('ticket_id', 'text', (col) => col.references('interlock.tickets.id'))
      .addColumn('mission_id', 'uuid')
      .addColumn('body', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('pending', 'delivered', 'failed')`))
      .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .addColumn('next_attempt_at', 'timestamptz', (col) => col.notNull())
      .addColumn('delivered_at', 'timestamptz')
      .addColumn('last_error', 'text')
      .addColumn('last_status', 'integer')
      .addUniqueConstraint('notification_outbox_dedupe', ['target', 'dedupe_key'])
      .execute();
    await schema.createIndex('notification_outbox_due').on('notification_outbox').columns(['next_attempt_at']).where(sql.ref('status'), '=', 'pending').execute();
    await schema.createIndex('notification_outbox_ticket').on('notification_outbox').columns(['ticket_id']).execute();
    await schema.createIndex('notification_outbox_mission').on('notification_outbox').columns(['mission_id']).execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema.dropTable('notification_outbox').ifExists().execute();
    await schema.dropTable('ticket_missions').ifExists().execute();
    await schema.dropTable('tickets').ifExists().execute();
    await sql`drop sequence if exists interlock.ticket_numbers`.execute(db);
  },
};
