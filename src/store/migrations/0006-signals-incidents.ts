import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Migration `0006-signals-incidents` (issue #5): what comes in and what it is grouped into.
 * - `signal_intakes`: one row per accepted request (Alertmanager notification, CloudEvent or batch,
 *   mapped JSON body), with its body, stored in the same transaction as its signals before the 2xx;
 * - `signals`: one row per normalised signal, with what it did to its incident;
 * - `incidents`: the incident state (`IncidentState` as JSON) and the mission it started.
 */
export const migration0006SignalsIncidents: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema
      .createTable('signal_intakes')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .addColumn('source', 'text', (col) => col.notNull())
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('received_at', 'timestamptz', (col) => col.notNull())
      .addColumn('content_type', 'text', (col) => col.notNull())
      .addColumn('body', 'bytea', (col) => col.notNull())
      .addColumn('body_sha256', 'text', (col) => col.notNull())
      .addColumn('signal_count', 'integer', (col) => col.notNull())
      .addColumn('principal', 'text')
      .execute();
    await schema.createIndex('signal_intakes_received').on('signal_intakes').columns(['received_at']).execute();
    await schema
      .createTable('incidents')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .addColumn('group_key', 'text', (col) => col.notNull())
      .addColumn('source', 'text', (col) => col.notNull())
      .addColumn('project', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('open', 'resolved')`))
      .addColumn('flapping', 'boolean', (col) => col.notNull())
      .addColumn('title', 'text', (col) => col.notNull())
      .addColumn('state', 'jsonb', (col) => col.notNull())
      .addColumn('opened_at', 'timestamptz', (col) => col.notNull())
      .addColumn('resolved_at', 'timestamptz')
      .addColumn('last_signal_at', 'timestamptz', (col) => col.notNull())
      .addColumn('mission_id', 'uuid')
      .addColumn('missions_started', 'integer', (col) => col.notNull().defaultTo(0))
      .execute();
    await schema.createIndex('incidents_group').on('incidents').columns(['group_key', 'opened_at']).execute();
    await schema.createIndex('incidents_open').on('incidents').columns(['last_signal_at']).where(sql.ref('status'), '=', 'open').execute();
    await schema
      .createTable('signals')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .addColumn('seq', 'bigserial', (col) => col.notNull().unique())
      .addColumn('intake_id', 'uuid', (col) => col.notNull().references('interlock.signal_intakes.id'))
      .addColumn('source', 'text', (col) => col.notNull())
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('fingerprint', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('firing', 'resolved')`))
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('labels', 'jsonb', (col) => col.notNull())
      .addColumn('annotations', 'jsonb', (col) => col.notNull())
      .addColumn('starts_at', 'timestamptz', (col) => col.notNull())
      .addColumn('ends_at', 'timestamptz')
      .addColumn('generator_url', 'text')
      .addColumn('received_at', 'timestamptz', (col) => col.notNull())
      .addColumn('incident_id', 'uuid', (col) => col.references('interlock.incidents.id'))
      .addColumn('events', sql`text[]`, (col) => col.notNull())
      .execute();
    await schema.createIndex('signals_incident').on('signals').columns(['incident_id', 'seq']).execute();
    await schema.createIndex('signals_fingerprint').on('signals').columns(['source', 'fingerprint', 'received_at']).execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema.dropTable('signals').ifExists().execute();
    await schema.dropTable('incidents').ifExists().execute();
    await schema.dropTable('signal_intakes').ifExists().execute();
  },
};
