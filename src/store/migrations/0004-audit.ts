import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Migration `0004-audit`: the audit log (issue #4). `audit_entries` holds one row per leaf of the
 * RFC 6962 Merkle tree, `audit_checkpoints` the signed tree heads. Both are append-only: a trigger
 * raises on UPDATE and DELETE (and TRUNCATE). A superuser can still disable the trigger, which is why
 * `PgAuditLog.verify` exists; see docs/audit.md.
 */
export const migration0004Audit: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema
      .createTable('audit_entries')
      .addColumn('idx', 'bigint', (col) => col.primaryKey().check(sql`idx >= 0`))
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('mission_id', 'uuid')
      .addColumn('actor', 'text', (col) => col.notNull())
      .addColumn('at', 'timestamptz', (col) => col.notNull())
      .addColumn('entry', 'bytea', (col) => col.notNull())
      .addColumn('leaf_hash', 'bytea', (col) => col.notNull())
      .addColumn('chain_hash', 'bytea', (col) => col.notNull())
      .execute();
    await schema.createIndex('audit_entries_mission').on('audit_entries').columns(['mission_id', 'idx']).where(sql.ref('mission_id'), 'is not', null).execute();
    await schema
      .createTable('audit_checkpoints')
      .addColumn('size', 'bigint', (col) => col.primaryKey().check(sql`size >= 0`))
      .addColumn('root_hash', 'bytea', (col) => col.notNull())
      .addColumn('note', 'text', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .execute();
    await sql`
      create function interlock.audit_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'interlock.% is append-only: % is not allowed', tg_table_name, tg_op
          using errcode = 'insufficient_privilege';
      end
      $$`.execute(db);
    for (const table of ['audit_entries', 'audit_checkpoints']) {
      await sql`create trigger append_only before update or delete on ${sql.table(`interlock.${table}`)} for each row execute function interlock.audit_append_only()`.execute(db);
      await sql`create trigger append_only_truncate before truncate on ${sql.table(`interlock.${table}`)} for each statement execute function interlock.audit_append_only()`.execute(db);
    }
  },
  async down(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema.dropTable('audit_checkpoints').ifExists().execute();
    await schema.dropTable('audit_entries').ifExists().execute();
    await sql`drop function if exists interlock.audit_append_only()`.execute(db);
  },
};
