import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Migration `0002-identity-approvals`: principals and their API tokens (only SHA-256 hashes of the
 * secrets), approval requests bound to the hash of their actions, and one vote per principal per
 * request. Released migrations are frozen: change the schema with a new migration.
 */
export const migration0002IdentityApprovals: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const schema = db.schema.withSchema('interlock');

    await schema
      .createTable('principals')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull().unique())
      .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('human', 'agent', 'service')`))
      .addColumn('groups', 'jsonb', (col) => col.notNull())
      .addColumn('roles', 'jsonb', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .execute();

    await schema
      .createTable('api_tokens')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .addColumn('principal_id', 'uuid', (col) => col.notNull().references('principals.id').onDelete('cascade'))
      .addColumn('hash', 'bytea', (col) => col.notNull())
      .addColumn('label', 'text')
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .addColumn('expires_at', 'timestamptz')
      .addColumn('revoked_at', 'timestamptz')
      .addColumn('last_used_at', 'timestamptz')
      .execute();
    await schema.createIndex('api_tokens_principal_id_idx').on('api_tokens').column('principal_id').execute();

    await schema
      .createTable('approvals')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .addColumn('mission_id', 'uuid', (col) => col.notNull().references('missions.id').onDelete('cascade'))
      .addColumn('project', 'text', (col) => col.notNull())
      .addColumn('requester', 'text', (col) => col.notNull())
      .addColumn('action_hash', 'text', (col) => col.notNull())
      // The RFC 8785 canonical JSON the hash was computed over, kept as text so it stays byte-exact.
      .addColumn('binding', 'text', (col) => col.notNull())
      .addColumn('quorum', 'integer', (col) => col.notNull().check(sql`quorum >= 1`))
      .addColumn('groups', 'jsonb', (col) => col.notNull())
      .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
      .addColumn('reasons', 'jsonb', (col) => col.notNull())
      .addColumn('risk', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('pending', 'granted', 'denied', 'expired', 'consumed')`))
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .addColumn('decided_at', 'timestamptz')
      .addColumn('consumed_at', 'timestamptz')
      // Delivery of the decision to the mission: claimed (with a lease) before, set once delivered.
      .addColumn('notify_claimed_at', 'timestamptz')
      .addColumn('notified_at', 'timestamptz')
      .addUniqueConstraint('approvals_mission_id_action_hash_key', ['mission_id', 'action_hash'])
      .execute();
    await schema.createIndex('approvals_created_at_id_idx').on('approvals').columns(['created_at desc', 'id desc']).execute();
    await schema.createIndex('approvals_pending_expires_at_idx').on('approvals').column('expires_at').where(sql.ref('status'), '=', 'pending').execute();
    await schema
      .createIndex('approvals_undelivered_idx')
      .on('approvals')
      .column('decided_at')
      .where(sql<boolean>`status <> 'pending' and notified_at is null`)
      .execute();

    await schema
      .createTable('approval_votes')
      .addColumn('approval_id', 'uuid', (col) => col.notNull().references('approvals.id').onDelete('cascade'))
      .addColumn('principal_id', 'uuid', (col) => col.notNull())
      .addColumn('principal_name', 'text', (col) => col.notNull())
      .addColumn('decision', 'text', (col) => col.notNull().check(sql`decision in ('approve', 'deny')`))
      .addColumn('comment', 'text')
      .addColumn('at', 'timestamptz', (col) => col.notNull())
      .addPrimaryKeyConstraint('approval_votes_pkey', ['approval_id', 'principal_id'])
      .execute();
  },
};
