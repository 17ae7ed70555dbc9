import type { Kysely, Migration } from 'kysely';

/**
 * Migration `0003-guards`: kill switches (one row per scope, its latest state), the log of executed
 * writes the circuit breaker and rate limits read, and frozen actions.
 */
export const migration0003Guards: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema
      .createTable('kill_switches')
      .addColumn('scope', 'text', (col) => col.primaryKey())
      .addColumn('engaged', 'boolean', (col) => col.notNull())
      .addColumn('reason', 'text', (col) => col.notNull())
      .addColumn('engaged_by', 'text')
      .addColumn('engaged_at', 'timestamptz')
      .addColumn('released_by', 'text')
      .addColumn('released_at', 'timestamptz')
      .execute();
    await schema
      .createTable('action_log')
      .addColumn('mission_id', 'uuid', (col) => col.notNull())
      .addColumn('step_id', 'text', (col) => col.notNull())
      .addColumn('tool', 'text', (col) => col.notNull())
      .addColumn('target_key', 'text', (col) => col.notNull())
      .addColumn('agent', 'text')
      .addColumn('state_hash', 'text', (col) => col.notNull())
      .addColumn('at', 'timestamptz', (col) => col.notNull())
      .addPrimaryKeyConstraint('action_log_pkey', ['mission_id', 'step_id'])
      .execute();
    await schema.createIndex('action_log_target').on('action_log').columns(['tool', 'target_key', 'at']).execute();
    await schema.createIndex('action_log_agent').on('action_log').columns(['agent', 'at']).execute();
    await schema
      .createTable('frozen_actions')
      .addColumn('tool', 'text', (col) => col.notNull())
      .addColumn('target_key', 'text', (col) => col.notNull())
      .addColumn('until', 'timestamptz', (col) => col.notNull())
      .addColumn('reason', 'text', (col) => col.notNull())
      .addColumn('at', 'timestamptz', (col) => col.notNull())
      .addPrimaryKeyConstraint('frozen_actions_pkey', ['tool', 'target_key'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema.dropTable('frozen_actions').ifExists().execute();
    await schema.dropTable('action_log').ifExists().execute();
    await schema.dropTable('kill_switches').ifExists().execute();
  },
};
