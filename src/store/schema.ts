import { sql, type ColumnType, type Generated, type RawBuilder, type Selectable } from 'kysely';
import type { Escalation, MissionRequest, StepError, StepPhase, StepStatus } from '../core/missions/mission.js';
import type { Outcome, Stage } from '../core/missions/stages.js';
import type { WorkerRecord } from '../core/ports.js';
import type { Decision } from '../core/review/decision.js';
import type { RiskClass } from '../core/tools/tool.js';

/**
 * The database schema that holds every Interlock table. Table names in {@link Database} are
 * qualified with it, so a query cannot reach a table of the same name in another schema.
 */
export const SCHEMA = 'interlock';

/**
 * A `timestamptz` column: read as milliseconds since the Unix epoch (the pool's type parser,
 * see `createDatabase`), written as a `Date`.
 */
export type Timestamp = ColumnType<number, Date, Date>;

/** A nullable `timestamptz` column, read as ms since the epoch or null. */
export type NullableTimestamp = ColumnType<number | null, Date | null, Date | null>;

/**
 * The instant `ms` (ms since the epoch) as a `timestamptz` operand, for comparing with a
 * {@link Timestamp} column in `where` (Kysely types operands by the column's read type, a number).
 */
export function timestamptz(ms: number): RawBuilder<number> {
  return sql<number>`cast(${new Date(ms)} as timestamptz)`;
}

/**
 * A `jsonb` column holding `T`: read as the parsed value, written as JSON text (`JSON.stringify`),
 * because `pg` would send a JavaScript array as a PostgreSQL array, not as JSON.
 */
export type Json<T> = ColumnType<T, string, string>;

/** A nullable `jsonb` column holding `T`. */
export type NullableJson<T> = ColumnType<T | null, string | null, string | null>;

/** `interlock.missions`: one row per mission, its current stage and what review decided. */
export interface MissionsTable {
  /** uuid */
  id: string;
  project: string;
  title: string;
  requester: string;
  /** Unique per project when set. */
  idempotency_key: string | null;
  request: Json<MissionRequest>;
  labels: Json<Record<string, string>>;
  stage: Stage;
  /** Null while the mission runs. */
  outcome: Outcome | null;
  waiting_for: 'approval' | null;
  risk: RiskClass;
  decision: NullableJson<Decision>;
  escalation: NullableJson<Escalation>;
  workflow_version: string;
  cancel_requested_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: NullableTimestamp;
}

/** `interlock.mission_transitions`: the stage history of each mission, keyed by `seq`. */
export interface MissionTransitionsTable {
  mission_id: string;
  /** 1-based order within the mission. */
  seq: number;
  from_stage: Stage | null;
  to_stage: Stage;
  reason: string;
  at: Timestamp;
}

/** `interlock.mission_steps`: the context, plan and compensation steps of each mission and how they ran. */
export interface MissionStepsTable {
  mission_id: string;
  step_id: string;
  phase: StepPhase;
  /** 0-based position within the phase. */
  idx: number;
  tool: string;
  args: Json<Record<string, unknown>>;
  risk: RiskClass;
  /** Unique across all missions. */
  idempotency_key: string;
  status: StepStatus;
  attempts: Generated<number>;
  result: NullableJson<unknown>;
  error: NullableJson<StepError>;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

/** `interlock.workers`: worker processes and their heartbeats, for lease-based takeover. */
export interface WorkersTable {
  id: string;
  host: string;
  pid: number;
  version: string;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
  state: WorkerRecord['state'];
  taken_over_by: string | null;
}

/**
 * The Kysely database type of Interlock's tables, for `Kysely<Database>`. Keys are qualified with
 * {@link SCHEMA}: `db.selectFrom('interlock.missions')`.
 */
export interface Database {
  'interlock.missions': MissionsTable;
  'interlock.mission_transitions': MissionTransitionsTable;
  'interlock.mission_steps': MissionStepsTable;
  'interlock.workers': WorkersTable;
}

/** A `missions` row as selected. */
export type MissionRow = Selectable<MissionsTable>;
/** A `mission_transitions` row as selected. */
export type TransitionRow = Selectable<MissionTransitionsTable>;
/** A `mission_steps` row as selected. */
export type StepRow = Selectable<MissionStepsTable>;
/** A `workers` row as selected. */
export type WorkerRow = Selectable<WorkersTable>;
