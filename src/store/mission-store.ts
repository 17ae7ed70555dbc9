import { sql, type Kysely, type UpdateObject } from 'kysely';
import { InputError, InternalError } from '../core/errors.js';
import type { Mission, MissionDetail, MissionStep } from '../core/missions/mission.js';
import type { Outcome, Stage, StageTransition } from '../core/missions/stages.js';
import type { MissionFilter, MissionPatch, MissionStore, NewMission, PlannedStep, StepPatch } from '../core/ports.js';
import { timestamptz, type Database, type MissionRow, type StepRow, type TransitionRow } from './schema.js';

/** Most missions one {@link PgMissionStore.listMissions} call returns. */
const MAX_LIST_LIMIT = 1000;
const DEFAULT_LIST_LIMIT = 50;

/** SQLSTATE of a foreign key violation: the mission a row refers to does not exist. */
const FOREIGN_KEY_VIOLATION = '23503';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The {@link MissionStore} on PostgreSQL (tables `interlock.missions`, `mission_transitions` and
 * `mission_steps`; run `migrateToLatest` first). Every write is idempotent, so a replayed workflow
 * step changes nothing the first run did not. Times are ms since the Unix epoch.
 */
export class PgMissionStore implements MissionStore {
  readonly #db: Kysely<Database>;

  /** `db` comes from `createDatabase`. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Stores a new mission in stage `intake`, or returns the existing one (`created: false`) with
   * the same ID (a replayed intake) or the same project and idempotency key.
   *
   * @throws InputError `IDEMPOTENCY_KEY_REUSED` when the mission with that project and idempotency
   *   key has a different request (compared as JSON values).
   * @throws InternalError `INTERNAL` when `mission.id` is not a UUID, or a mission with that ID has a
   *   different request.
   */
  async createMission(mission: NewMission): Promise<{ mission: Mission; created: boolean }> {
    if (!UUID.test(mission.id)) throw new InternalError(`Mission ID "${mission.id}" is not a UUID; mission IDs are UUIDs.`);
    const { request } = mission;
    const requestJson = JSON.stringify(request);
    const at = new Date(mission.at);
    const inserted = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
      .insertInto('interlock.missions')
      .values({
        id: mission.id,
        project: request.project,
        title: request.title,
        requester: request.requester,
        idempotency_key: request.idempotencyKey ?? null,
        request: requestJson,
        labels: JSON.stringify(request.labels),
        stage: 'intake',
        outcome: null,
        waiting_for: null,
        risk: mission.risk,
        decision: null,
        escalation: null,
        workflow_version: mission.workflowVersion,
        cancel_requested_at: null,
        created_at: at,
        updated_at: at,
        finished_at: null,
      })
      // Either unique key may conflict: the ID (a replay) or (project, idempotency_key).
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
      if (row === undefined) return undefined;
      await trx.insertInto('interlock.mission_transitions').values({ mission_id: mission.id, seq: 1, from_stage: null, to_stage: 'intake', reason: mission.reason, at }).execute();
      await insertSteps(trx, mission.id, mission.steps);
      return row;
    });
    if (inserted !== undefined) return { mission: toMission(inserted), created: true };

    const sameRequest = sql<boolean>`request = cast(${requestJson} as jsonb)`.as('same_request');
    const byId = await this.#db.selectFrom('interlock.missions').selectAll().select(sameRequest).where('id', '=', mission.id).executeTakeFirst();
    if (byId !== undefined) {
      if (!byId.same_request) throw new InternalError(`Mission ${mission.id} already exists with a different request; mission IDs must not be reused.`, { details: { missionId: mission.id } });
      return { mission: toMission(byId), created: false };
    }
    const key = request.idempotencyKey;
    const byKey =
      key === undefined
        ? undefined
        : await this.#db
            .selectFrom('interlock.missions')
            .selectAll()
            .select(sameRequest)
            .where('project', '=', request.project)
            .where('idempotency_key', '=', key)
            .executeTakeFirst();
    if (byKey === undefined) throw new InternalError(`Mission ${mission.id} could not be stored: it conflicts with a mission that no longer exists; try again.`);
    if (!byKey.same_request) {
      throw new InputError(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency key "${key}" was already used in project "${request.project}" for a different request (mission ${byKey.id}); send the same request to get that mission, or use a new key.`,
        [{ path: 'idempotencyKey', message: `already used for a different request (mission ${byKey.id})` }],
        { details: { project: request.project, idempotencyKey: key, missionId: byKey.id } },
      );
    }
    return { mission: toMission(byKey), created: false };
  }

  /** The mission with ID `id`, or undefined (also for an ID that is not a UUID). */
  async getMission(id: string): Promise<Mission | undefined> {
    if (!UUID.test(id)) return undefined;
    const row = await this.#db.selectFrom('interlock.missions').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toMission(row);
  }

  /**
   * The mission with its steps (context, then plan, then compensation steps, each in order) and its stage
   * history (by `seq`), read from one snapshot; undefined when there is no such mission.
   */
  async getMissionDetail(id: string): Promise<MissionDetail | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.#db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        const row = await trx.selectFrom('interlock.missions').selectAll().where('id', '=', id).executeTakeFirst();
        if (row === undefined) return undefined;
        const steps = await trx
          .selectFrom('interlock.mission_steps')
          .selectAll()
          .where('mission_id', '=', id)
          .orderBy((eb) => eb.case().when('phase', '=', 'context').then(0).when('phase', '=', 'plan').then(1).when('phase', '=', 'verification').then(2).else(3).end())
          .orderBy('idx')
          .execute();
        const history = await trx.selectFrom('interlock.mission_transitions').selectAll().where('mission_id', '=', id).orderBy('seq').execute();
        return { ...toMission(row), steps: steps.map(toStep), history: history.map(toTransition) };
      });
  }

  /**
   * Missions matching `filter`, newest first (by creation time, then ID). Page with `before`: pass
   * the ID of the last mission of the previous page.
   *
   * @throws InputError `INPUT_INVALID` when `limit` is not an integer in 1..1000 or `before` names no
   *   mission.
   */
  async listMissions(filter: MissionFilter): Promise<Mission[]> {
    const limit = filter.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new InputError('INPUT_INVALID', `limit must be an integer from 1 to ${MAX_LIST_LIMIT}.`, [
        { path: 'limit', message: 'out of range', expected: `an integer from 1 to ${MAX_LIST_LIMIT}`, received: String(limit) },
      ]);
    }
    const { before } = filter;
    if (before !== undefined && !UUID.test(before)) throw unknownCursor(before);

    let query = this.#db.selectFrom('interlock.missions').selectAll();
    if (filter.project !== undefined) query = query.where('project', '=', filter.project);
    if (filter.stage !== undefined) query = query.where('stage', '=', filter.stage);
    if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
    if (filter.running !== undefined) query = query.where('outcome', filter.running ? 'is' : 'is not', null);
    if (before !== undefined) {
      query = query.where((eb) =>
        eb(eb.refTuple('created_at', 'id'), '<', eb.selectFrom('interlock.missions').select(['created_at', 'id']).where('id', '=', before).$asTuple('created_at', 'id')),
      );
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    if (rows.length === 0 && before !== undefined && (await this.getMission(before)) === undefined) throw unknownCursor(before);
    return rows.map(toMission);
  }

  /**
   * Appends transition `seq` (from the mission's current stage to `to`) and, only when that `seq`
   * was new, moves the mission to `to` and applies `patch`, in one transaction. Replaying the same
   * `seq` changes nothing. `at` is ms since the epoch; a patch with an `outcome` also sets
   * `finishedAt` (once).
   *
   * @throws InputError `MISSION_NOT_FOUND` when there is no such mission.
   * @throws InternalError `INTERNAL` when `seq` was already recorded for a different target stage
   *   (two transitions claimed the same sequence number).
   */
  async recordTransition(missionId: string, seq: number, to: Stage, reason: string, at: number, patch: MissionPatch = {}): Promise<void> {
    if (!UUID.test(missionId)) throw missionNotFound(missionId);
    await this.#db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('interlock.missions').select('stage').where('id', '=', missionId).forUpdate().executeTakeFirst();
      if (current === undefined) throw missionNotFound(missionId);
      const inserted = await trx
        .insertInto('interlock.mission_transitions')
        .values({ mission_id: missionId, seq, from_stage: current.stage, to_stage: to, reason, at: new Date(at) })
        .onConflict((oc) => oc.columns(['mission_id', 'seq']).doNothing())
        .returning('seq')
        .executeTakeFirst();
      if (inserted === undefined) {
        const recorded = await trx
          .selectFrom('interlock.mission_transitions')
          .select('to_stage')
          .where('mission_id', '=', missionId)
          .where('seq', '=', seq)
          .executeTakeFirstOrThrow();
        if (recorded.to_stage !== to) {
          throw new InternalError(`Transition ${seq} of mission ${missionId} was recorded to stage ${recorded.to_stage}, not ${to}; two transitions claimed the same sequence number.`, {
            details: { missionId, seq, recorded: recorded.to_stage, requested: to },
          });
        }
        return;
      }
      await trx
        .updateTable('interlock.missions')
        .set({ ...missionPatchColumns(patch, at), stage: to })
        .where('id', '=', missionId)
        .execute();
    });
  }

  /**
   * Applies `patch` and sets `updatedAt` to `at` (ms since the epoch) without a transition. A patch
   * with an `outcome` also sets `finishedAt` (once).
   *
   * @throws InputError `MISSION_NOT_FOUND` when there is no such mission.
   */
  async updateMission(missionId: string, patch: MissionPatch, at: number): Promise<void> {
    if (!UUID.test(missionId)) throw missionNotFound(missionId);
    const updated = await this.#db
      .updateTable('interlock.missions')
      .set(missionPatchColumns(patch, at))
      .where('id', '=', missionId)
      .returning('id')
      .executeTakeFirst();
    if (updated === undefined) throw missionNotFound(missionId);
  }

  /**
   * Records `steps` as `pending` with no attempts; a step already recorded under the same mission and
   * step ID is left as it is.
   *
   * @throws InputError `MISSION_NOT_FOUND` when there is no such mission.
   */
  async recordSteps(missionId: string, steps: readonly PlannedStep[]): Promise<void> {
    if (!UUID.test(missionId)) throw missionNotFound(missionId);
    if (steps.length === 0) return;
    try {
      await insertSteps(this.#db, missionId, steps);
    } catch (error) {
      if (sqlState(error) === FOREIGN_KEY_VIOLATION) throw missionNotFound(missionId, error);
      throw error;
    }
  }

  /** Step `stepId` of mission `missionId`, or undefined. */
  async getStep(missionId: string, stepId: string): Promise<MissionStep | undefined> {
    if (!UUID.test(missionId)) return undefined;
    const row = await this.#db
      .selectFrom('interlock.mission_steps')
      .selectAll()
      .where('mission_id', '=', missionId)
      .where('step_id', '=', stepId)
      .executeTakeFirst();
    return row === undefined ? undefined : toStep(row);
  }

  /**
   * Changes the given fields of a recorded step; fields absent from `patch` keep their values.
   *
   * @throws InternalError `INTERNAL` when the step was never recorded (record planned steps first).
   */
  async updateStep(missionId: string, stepId: string, patch: StepPatch): Promise<void> {
    const columns: UpdateObject<Database, 'interlock.mission_steps'> = {};
    if (patch.status !== undefined) columns.status = patch.status;
    if (patch.attempts !== undefined) columns.attempts = patch.attempts;
    if (patch.result !== undefined) columns.result = toJson(patch.result);
    if (patch.error !== undefined) columns.error = patch.error === null ? null : toJson(patch.error);
    if (patch.startedAt !== undefined) columns.started_at = new Date(patch.startedAt);
    if (patch.finishedAt !== undefined) columns.finished_at = new Date(patch.finishedAt);

    const found = UUID.test(missionId)
      ? Object.keys(columns).length === 0
        ? await this.#db.selectFrom('interlock.mission_steps').select('step_id').where('mission_id', '=', missionId).where('step_id', '=', stepId).executeTakeFirst()
        : await this.#db
            .updateTable('interlock.mission_steps')
            .set(columns)
            .where('mission_id', '=', missionId)
            .where('step_id', '=', stepId)
            .returning('step_id')
            .executeTakeFirst()
      : undefined;
    if (found === undefined) {
      throw new InternalError(`Step ${stepId} of mission ${missionId} was never recorded; record planned steps before updating them.`, { details: { missionId, stepId } });
    }
  }

  /**
   * Marks a cancel request at `at` (ms since the epoch; the first request's time is kept). False when
   * the mission is unknown or already finished.
   */
  async requestCancel(missionId: string, at: number): Promise<boolean> {
    if (!UUID.test(missionId)) return false;
    const date = new Date(at);
    const updated = await this.#db
      .updateTable('interlock.missions')
      .set({ cancel_requested_at: sql<Date>`coalesce(cancel_requested_at, ${date})`, updated_at: date })
      .where('id', '=', missionId)
      .where('outcome', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return updated !== undefined;
  }

  /**
   * IDs of missions still in stage `intake`, not finished, and created more than `olderThanMs` ms
   * before `now` (ms since the epoch), oldest first: their workflow may never have started.
   */
  async listUnstarted(olderThanMs: number, now: number): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('interlock.missions')
      .select('id')
      .where('stage', '=', 'intake')
      .where('outcome', 'is', null)
      .where('created_at', '<', timestamptz(now - olderThanMs))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => row.id);
  }

  /** How many missions are in each (stage, outcome) pair; pairs with no mission are absent. */
  async countByStage(): Promise<Array<{ stage: Stage; outcome: Outcome | null; count: number }>> {
    return this.#db
      .selectFrom('interlock.missions')
      .select((eb) => ['stage', 'outcome', eb.fn.countAll<number>().as('count')])
      .groupBy(['stage', 'outcome'])
      .orderBy('stage')
      .orderBy('outcome')
      .execute();
  }
}

/** The columns a mission patch changes, with `updated_at` (and `finished_at` once an outcome is set). */
function missionPatchColumns(patch: MissionPatch, at: number): UpdateObject<Database, 'interlock.missions'> {
  const date = new Date(at);
  const columns: UpdateObject<Database, 'interlock.missions'> = { updated_at: date };
  if (patch.waitingFor !== undefined) columns.waiting_for = patch.waitingFor;
  if (patch.decision !== undefined) columns.decision = toJson(patch.decision);
  if (patch.escalation !== undefined) columns.escalation = toJson(patch.escalation);
  if (patch.outcome !== undefined) {
    columns.outcome = patch.outcome;
    columns.finished_at = sql<Date>`coalesce(finished_at, ${date})`;
  }
  return columns;
}

/** JSON text for a `jsonb` parameter; `undefined` (which JSON cannot hold) is stored as JSON null. */
function toJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

function toMission(row: MissionRow): Mission {
  return {
    id: row.id,
    title: row.title,
    project: row.project,
    requester: row.requester,
    idempotencyKey: row.idempotency_key,
    labels: row.labels,
    // Requests stored before `verify` existed have none.
    request: { ...row.request, verify: row.request.verify ?? [] },
    stage: row.stage,
    outcome: row.outcome,
    waitingFor: row.waiting_for,
    risk: row.risk,
    decision: row.decision,
    escalation: row.escalation,
    workflowVersion: row.workflow_version,
    cancelRequested: row.cancel_requested_at !== null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

function toStep(row: StepRow): MissionStep {
  return {
    missionId: row.mission_id,
    stepId: row.step_id,
    phase: row.phase,
    index: row.idx,
    tool: row.tool,
    args: row.args,
    risk: row.risk,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    attempts: row.attempts,
    result: row.result,
    error: row.error,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function toTransition(row: TransitionRow): StageTransition {
  return { seq: row.seq, from: row.from_stage, to: row.to_stage, reason: row.reason, at: row.at };
}

function missionNotFound(missionId: string, cause?: unknown): InputError {
  return new InputError('MISSION_NOT_FOUND', `No mission has ID ${missionId}.`, [], { details: { missionId }, cause });
}

function unknownCursor(before: string): InputError {
  return new InputError('INPUT_INVALID', `before must be the ID of a listed mission; no mission has ID "${before}".`, [
    { path: 'before', message: 'no mission has this ID', expected: 'the ID of the last mission of the previous page' },
  ]);
}

function sqlState(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Inserts steps as `pending`; steps already recorded (same mission and step ID) are left alone. A
 * clash of idempotency keys between different steps is a fault and fails.
 */
async function insertSteps(db: Kysely<Database>, missionId: string, steps: readonly PlannedStep[]): Promise<void> {
  if (steps.length === 0) return;
  await db
    .insertInto('interlock.mission_steps')
    .values(
      steps.map((step) => ({
        mission_id: missionId,
        step_id: step.stepId,
        phase: step.phase,
        idx: step.index,
        tool: step.tool,
        args: JSON.stringify(step.args),
        risk: step.risk,
        idempotency_key: step.idempotencyKey,
        status: 'pending' as const,
        attempts: 0,
      })),
    )
    .onConflict((oc) => oc.columns(['mission_id', 'step_id']).doNothing())
    .execute();
}
