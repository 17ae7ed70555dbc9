import { sql, type Kysely } from 'kysely';
import type { MissionFacts } from '../core/agents/track-record.js';
import { timestamptz, type Database } from './schema.js';

/** Which missions {@link PgTrackRecordStore.facts} reads. */
export interface TrackRecordFilter {
  /** Missions created at or after this instant, ms since the epoch. */
  readonly since: number;
  /** Only missions of this project; absent: every project. */
  readonly project?: string;
}

/**
 * Reads the per-mission facts of the track record (`computeTrackRecord` in
 * src/core/agents/track-record.ts) from PostgreSQL in one query: missions, their approval requests,
 * their verification steps, the principal that requested them, the `runbooks.dispatch` step that
 * started them and the audit entry that closed them. Run `migrateToLatest` first.
 */
export class PgTrackRecordStore {
  readonly #db: Kysely<Database>;

  /** `db` comes from `createDatabase`. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * The facts of every mission created since `filter.since` (of `filter.project` when given),
   * oldest first. A mission's agent is its request's `agent` (never a `runbook:` pseudo-agent), else
   * its requester when that is a principal of kind `agent`. Its runbook is its `runbook` and
   * `runbookVersion` labels (what `renderRunbook` sets), else the runbook of the `runbooks.dispatch`
   * step whose result names it. Whoever cancelled it is the `by` of its `mission.closed` audit entry.
   */
  async facts(filter: TrackRecordFilter): Promise<MissionFacts[]> {
    let query = this.#db
      .selectFrom('interlock.missions as m')
      .leftJoin('interlock.principals as requester', 'requester.name', 'm.requester')
      .leftJoinLateral(
        (eb) => eb.selectFrom('interlock.mission_steps as d')
          .select(sql<string | null>`d.result -> 'runbook' ->> 'name'`.as('name'))
          .select(sql<string | null>`d.result -> 'runbook' ->> 'version'`.as('version'))
          .where('d.tool', '=', 'runbooks.dispatch')
          .where('d.status', '=', 'succeeded')
          .where(sql<string>`d.result ->> 'missionId'`, '=', sql<string>`m.id::text`)
          .limit(1)
          .as('dispatch'),
        (join) => join.onTrue(),
      )
      .leftJoinLateral(
        (eb) => eb.selectFrom('interlock.audit_entries as e')
          .select(sql<string | null>`convert_from(e.entry, 'UTF8')::jsonb -> 'data' ->> 'by'`.as('by'))
          .whereRef('e.mission_id', '=', 'm.id')
          .where('e.kind', '=', 'mission.closed')
          .orderBy('e.idx', 'desc')
          .limit(1)
          .as('closed'),
        (join) => join.onTrue(),
      )
      .leftJoin('interlock.principals as canceller', 'canceller.name', 'closed.by')
      .select([
        'm.id', 'm.project', 'm.created_at', 'm.outcome',
        sql<string | null>`case
          when m.request ->> 'agent' is not null and m.request ->> 'agent' not like 'runbook:%' then m.request ->> 'agent'
          when requester.kind = 'agent' then m.requester
        end`.as('agent'),
        sql<string | null>`coalesce(m.labels ->> 'runbook', dispatch.name)`.as('runbook'),
        sql<string | null>`case when m.labels ? 'runbook' then m.labels ->> 'runbookVersion' else dispatch.version end`.as('runbook_version'),
        (eb) => eb.selectFrom('interlock.approvals as a').whereRef('a.mission_id', '=', 'm.id').select((e) => e.fn.countAll<string>().as('n')).as('approval_requests'),
        (eb) => eb.selectFrom('interlock.approvals as a').whereRef('a.mission_id', '=', 'm.id').where('a.status', 'in', ['granted', 'consumed']).select((e) => e.fn.countAll<string>().as('n')).as('approvals_granted'),
        (eb) => eb.selectFrom('interlock.approvals as a').whereRef('a.mission_id', '=', 'm.id').where('a.status', '=', 'denied').select((e) => e.fn.countAll<string>().as('n')).as('approvals_denied'),
        (eb) => eb.selectFrom('interlock.mission_steps as s').whereRef('s.mission_id', '=', 'm.id').where('s.phase', '=', 'verification').select((e) => e.fn.countAll<string>().as('n')).as('verification_steps'),
        (eb) => eb.selectFrom('interlock.mission_steps as s').whereRef('s.mission_id', '=', 'm.id').where('s.phase', '=', 'verification').where('s.status', '=', 'succeeded').select((e) => e.fn.countAll<string>().as('n')).as('verifications_passed'),
        sql<boolean>`(exists (
            select 1 from interlock.mission_steps f
            where f.mission_id = m.id and f.phase = 'verification' and f.error ->> 'code' = 'VERIFICATION_FAILED'
          ) or (m.outcome = 'escalated' and m.escalation ->> 'reason' like 'verification %'))`.as('verification_failed'),
        sql<boolean>`(m.outcome = 'cancelled' and coalesce(canceller.kind not in ('agent', 'service'), true))`.as('cancelled_by_person'),
      ])
      .where('m.created_at', '>=', timestamptz(filter.since));
    if (filter.project !== undefined) query = query.where('m.project', '=', filter.project);
    const rows = await query.orderBy('m.created_at').orderBy('m.id').execute();
    return rows.map((row) => {
      const version = row.runbook_version === null ? null : Number.parseInt(row.runbook_version, 10);
      return {
        missionId: row.id,
        project: row.project,
        agent: row.agent,
        runbook: row.runbook,
        runbookVersion: version === null || Number.isNaN(version) ? null : version,
        createdAt: row.created_at,
        outcome: row.outcome,
        approvalRequests: Number(row.approval_requests ?? 0),
        approvalsGranted: Number(row.approvals_granted ?? 0),
        approvalsDenied: Number(row.approvals_denied ?? 0),
        cancelledByPerson: row.cancelled_by_person,
        verificationSteps: Number(row.verification_steps ?? 0),
        verificationsPassed: Number(row.verifications_passed ?? 0),
        verificationFailed: row.verification_failed,
      };
    });
  }
}
