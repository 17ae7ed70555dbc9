import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Migration `0001-missions`: the `interlock` schema with the `missions`, `mission_transitions`,
 * `mission_steps` and `workers` tables. Released migrations are frozen: change the schema with a
 * new migration, never by editing this one.
 */
export const migration0001Missions: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createSchema('interlock').ifNotExists().execute();
    const schema = db.schema.withSchema('interlock');

    await schema
      .createTable('missions')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .addColumn('project', 'text', (col) => col.notNull())
      .addColumn('title', 'text', (col) => col.notNull())
      .addColumn('requester', 'text', (col) => col.notNull())
      .addColumn('idempotency_key', 'text')
      .addColumn('request', 'jsonb', (col) => col.notNull())
      .addColumn('labels', 'jsonb', (col) => col.notNull())
      .addColumn('stage', 'text', (col) => col.notNull())
      .addColumn('outcome', 'text')
      .addColumn('waiting_for', 'text')
      .addColumn('risk', 'text', (col) => col.notNull())
      .addColumn('decision', 'jsonb')
      .addColumn('escalation', 'jsonb')
      .addColumn('workflow_version', 'text', (col) => col.notNull())
      .addColumn('cancel_requested_at', 'timestamptz')
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
      .addColumn('finished_at', 'timestamptz')
      .execute();
    await schema
      .createIndex('missions_project_idempotency_key_key')
      .unique()
      .on('missions')
      .columns(['project', 'idempotency_key'])
      .where(sql.ref('idempotency_key'), 'is not', null)
      .execute();
    await schema.createIndex('missions_created_at_id_idx').on('missions').columns(['created_at desc', 'id desc']).execute();
    await schema.createIndex('missions_running_stage_idx').on('missions').column('stage').where(sql.ref('outcome'), 'is', null).execute();

    await schema
      .createTable('mission_transitions')
      .addColumn('mission_id', 'uuid', (col) => col.notNull().references('missions.id').onDelete('cascade'))
      .addColumn('seq', 'integer', (col) => col.notNull())
      .addColumn('from_stage', 'text')
      .addColumn('to_stage', 'text', (col) => col.notNull())
      .addColumn('reason', 'text', (col) => col.notNull())
      .addColumn('at', 'timestamptz', (col) => col.notNull())
      .addPrimaryKeyConstraint('mission_transitions_pkey', ['mission_id', 'seq'])
      .execute();

    await schema
      .createTable('mission_steps')
      .addColumn('mission_id', 'uuid', (col) => col.notNull().references('missions.id').onDelete('cascade'))
      .addColumn('step_id', 'text', (col) => col.notNull())
      .addColumn('phase', 'text', (col) => col.notNull())
      .addColumn('idx', 'integer', (col) => col.notNull())
      .addColumn('tool', 'text', (col) => col.notNull())
      .addColumn('args', 'jsonb', (col) => col.notNull())
      .addColumn('risk', 'text', (col) => col.notNull())
      .addColumn('idempotency_key', 'text', (col) => col.notNull().unique())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('result', 'jsonb')
      .addColumn('error', 'jsonb')
      .addColumn('started_at', 'timestamptz')
      .addColumn('finished_at', 'timestamptz')
      .addPrimaryKeyConstraint('mission_steps_pkey', ['mission_id', 'step_id'])
      .execute();

    await schema
      .createTable('workers')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('host', 'text', (col) => col.notNull())
      .addColumn('pid', 'integer', (col) => col.notNull())
      .addColumn('version', 'text', (col) => col.notNull())
      .addColumn('started_at', 'timestamptz', (col) => col.notNull())
      .addColumn('heartbeat_at', 'timestamptz', (col) => col.notNull())
      .addColumn('state', 'text', (col) => col.notNull())
      .addColumn('taken_over_by', 'text')
      .execute();
  },
};
