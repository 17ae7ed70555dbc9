import type pg from 'pg';

/**
 * Makes PostgreSQL refuse every new audit entry in the database of `pool` (a trigger that raises on
 * insert into `interlock.audit_entries`), as a full disk or a revoked grant would: for the tests of
 * failing closed. {@link allowAuditWrites} lifts it.
 */
export async function refuseAuditWrites(pool: pg.Pool): Promise<void> {
  await pool.query(`create or replace function interlock.test_refuse_audit() returns trigger language plpgsql as $$
    begin raise exception 'audit storage unavailable (test)'; end $$`);
  await pool.query('create trigger test_refuse_audit before insert on interlock.audit_entries for each row execute function interlock.test_refuse_audit()');
}

/** Lets the audit log record again after {@link refuseAuditWrites}. */
export async function allowAuditWrites(pool: pg.Pool): Promise<void> {
  await pool.query('drop trigger if exists test_refuse_audit on interlock.audit_entries');
}
