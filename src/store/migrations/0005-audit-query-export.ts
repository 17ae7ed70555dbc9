import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Migration `0005-audit-query-export` (issue #4):
 * - `audit_entries.tool`: the entry's `data.tool` copied for queries (backfilled), with indexes for
 *   `interlock audit query --tool/--actor/--since/--until`;
 * - `audit_tree_nodes`: the hashes of the complete, aligned perfect subtrees at every fourth level
 *   (16, 256, 4096, ... leaves), written with the leaves they cover, so inclusion and consistency
 *   proofs and incremental checkpoints read O(log n) rows instead of every leaf; append-only;
 * - `audit_export_cursors`: per SIEM sink, the index of the next entry to export (the resumable
 *   cursor), updated in place.
 */
export const migration0005AuditQueryExport: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema.alterTable('audit_entries').addColumn('tool', 'text').execute();
    // The backfill rewrites a derived column only; the entry bytes and their hashes are untouched.
    await sql`alter table interlock.audit_entries disable trigger append_only`.execute(db);
    await sql`update interlock.audit_entries set tool = convert_from(entry, 'UTF8')::jsonb #>> '{data,tool}'
              where jsonb_typeof(convert_from(entry, 'UTF8')::jsonb #> '{data,tool}') = 'string'`.execute(db);
    await sql`alter table interlock.audit_entries enable trigger append_only`.execute(db);
    await schema.createIndex('audit_entries_tool').on('audit_entries').columns(['tool', 'idx']).where(sql.ref('tool'), 'is not', null).execute();
    await schema.createIndex('audit_entries_actor').on('audit_entries').columns(['actor', 'idx']).execute();
    await schema.createIndex('audit_entries_at').on('audit_entries').columns(['at', 'idx']).execute();
    await schema
      .createTable('audit_tree_nodes')
      .addColumn('level', 'smallint', (col) => col.notNull().check(sql`level > 0 and level % 4 = 0`))
      .addColumn('idx', 'bigint', (col) => col.notNull().check(sql`idx >= 0`))
      .addColumn('hash', 'bytea', (col) => col.notNull())
      .addPrimaryKeyConstraint('audit_tree_nodes_pkey', ['level', 'idx'])
      .execute();
    await sql`create trigger append_only before update or delete on interlock.audit_tree_nodes for each row execute function interlock.audit_append_only()`.execute(db);
    await sql`create trigger append_only_truncate before truncate on interlock.audit_tree_nodes for each statement execute function interlock.audit_append_only()`.execute(db);
    await schema
      .createTable('audit_export_cursors')
      .addColumn('sink', 'text', (col) => col.primaryKey())
      .addColumn('next_idx', 'bigint', (col) => col.notNull().check(sql`next_idx >= 0`))
      .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');
    await schema.dropTable('audit_export_cursors').ifExists().execute();
    await schema.dropTable('audit_tree_nodes').ifExists().execute();
    await schema.dropIndex('audit_entries_at').ifExists().execute();
    await schema.dropIndex('audit_entries_actor').ifExists().execute();
    await schema.dropIndex('audit_entries_tool').ifExists().execute();
    await schema.alterTable('audit_entries').dropColumn('tool').execute();
  },
};
