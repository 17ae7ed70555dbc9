import { sql, type ColumnType, type Generated, type RawBuilder, type Selectable } from 'kysely';
import type { ApprovalStatus, VoteDecision } from '../core/approvals/approval.js';
import type { PrincipalKind, Role } from '../core/identity/identity.js';
import type { Escalation, MissionRequest, StepError, StepPhase, StepStatus } from '../core/missions/mission.js';
import type { Outcome, Stage } from '../core/missions/stages.js';
import type { WorkerRecord } from '../core/ports.js';
import type { Decision, DecisionReason } from '../core/review/decision.js';
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
  waiting_for: 'approval' | 'kill_switch' | 'rate_limit' | 'audit' | 'schedule' | null;
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

/** `interlock.kill_switches`: the latest state of each kill-switch scope. */
export interface KillSwitchesTable {
  scope: string;
  engaged: boolean;
  reason: string;
  engaged_by: string | null;
  engaged_at: NullableTimestamp;
  released_by: string | null;
  released_at: NullableTimestamp;
}

/** `interlock.action_log`: executed writes, for the circuit breaker and rate limits. */
export interface ActionLogTable {
  mission_id: string;
  step_id: string;
  tool: string;
  target_key: string;
  agent: string | null;
  state_hash: string;
  at: Timestamp;
}

/** `interlock.frozen_actions`: actions frozen on a target by the circuit breaker. */
export interface FrozenActionsTable {
  tool: string;
  target_key: string;
  until: Timestamp;
  reason: string;
  at: Timestamp;
}

/** `interlock.principals`: people, agents and services, their groups and roles by project. */
export interface PrincipalsTable {
  /** uuid */
  id: string;
  /** Unique. */
  name: string;
  kind: PrincipalKind;
  groups: Json<string[]>;
  roles: Json<Record<string, Role[]>>;
  created_at: Timestamp;
}

/** `interlock.api_tokens`: API tokens by ID with the SHA-256 of the token text, never the token. */
export interface ApiTokensTable {
  /** uuid, embedded in the token text. */
  id: string;
  principal_id: string;
  /** SHA-256 of the token text, 32 bytes. */
  hash: Buffer;
  label: string | null;
  created_at: Timestamp;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

/** `interlock.approvals`: approval requests, unique per mission and action hash. */
export interface ApprovalsTable {
  /** uuid */
  id: string;
  mission_id: string;
  project: string;
  /** Principal name of the mission's requester. */
  requester: string;
  /** SHA-256 hex of `binding`. */
  action_hash: string;
  /** RFC 8785 canonical JSON of the `ApprovalBinding`, as text. */
  binding: string;
  quorum: number;
  groups: Json<string[]>;
  expires_at: Timestamp;
  reasons: Json<DecisionReason[]>;
  risk: RiskClass;
  status: ApprovalStatus;
  created_at: Timestamp;
  decided_at: NullableTimestamp;
  consumed_at: NullableTimestamp;
  notify_claimed_at: NullableTimestamp;
  notified_at: NullableTimestamp;
}

/** `interlock.approval_votes`: one vote per principal per approval request. */
export interface ApprovalVotesTable {
  approval_id: string;
  principal_id: string;
  principal_name: string;
  decision: VoteDecision;
  comment: string | null;
  at: Timestamp;
}

/**
 * `interlock.audit_entries`: one row per leaf of the audit log's Merkle tree, append-only (a trigger
 * refuses UPDATE and DELETE). `kind`, `mission_id`, `actor`, `at` and `tool` copy the entry for
 * queries; the entry's `entry` bytes are what is hashed.
 */
export interface AuditEntriesTable {
  /** 0-based leaf index, gap-free. */
  idx: number;
  kind: string;
  /** uuid, or null for global events. */
  mission_id: string | null;
  actor: string;
  at: Timestamp;
  /** `encodeEntry(entry)`: UTF-8 of the RFC 8785 canonical JSON. */
  entry: Buffer;
  /** `leafHash(entry)`, 32 bytes (RFC 6962 §2.1). */
  leaf_hash: Buffer;
  /** SHA-256(previous row's chain_hash || leaf_hash), 32 zero bytes before index 0: binds each row to its position. */
  chain_hash: Buffer;
  /** The entry's `data.tool` when it is a string (tool calls, results, verifications), else null. */
  tool: string | null;
}

/**
 * `interlock.audit_tree_nodes`: MTH of the complete perfect subtree [idx·2^level, (idx+1)·2^level)
 * for levels 4, 8, 12, ...; append-only. Derived from the leaves, so `verify` does not trust it: a
 * wrong node only yields proofs that fail to verify against a signed checkpoint.
 */
export interface AuditTreeNodesTable {
  level: number;
  idx: number;
  /** 32 bytes. */
  hash: Buffer;
}

/** `interlock.audit_export_cursors`: per SIEM sink, the index of the next audit entry to export. */
export interface AuditExportCursorsTable {
  sink: string;
  next_idx: number;
  updated_at: Timestamp;
}

/** `interlock.audit_checkpoints`: signed tree heads (C2SP checkpoints), one per tree size, append-only. */
export interface AuditCheckpointsTable {
  /** Tree size in leaves. */
  size: number;
  /** 32 bytes; also inside `note`, which is what counts. */
  root_hash: Buffer;
  /** The signed note (c2sp.org/signed-note) whose text is the checkpoint. */
  note: string;
  created_at: Timestamp;
}

/** `interlock.signal_intakes`: one accepted intake request and its body, stored before the 2xx. */
export interface SignalIntakesTable {
  id: string;
  source: string;
  kind: string;
  received_at: Timestamp;
  content_type: string;
  body: Buffer;
  /** Hex SHA-256 of `body`. */
  body_sha256: string;
  signal_count: number;
  /** The authenticated sender (token principal or HMAC key name), when any. */
  principal: string | null;
}

/** `interlock.incidents`: an incident's state (`IncidentState` JSON) and the mission it started. */
export interface IncidentsTable {
  id: string;
  group_key: string;
  source: string;
  /** Project of the source it came through: who may see it, where its missions run. */
  project: string;
  status: 'open' | 'resolved';
  flapping: boolean;
  title: string;
  state: ColumnType<unknown, string, string>;
  opened_at: Timestamp;
  resolved_at: NullableTimestamp;
  last_signal_at: Timestamp;
  mission_id: string | null;
  /** Missions started for it so far (the next one's idempotency key is derived from it). */
  missions_started: ColumnType<number, number | undefined, number>;
}

/** `interlock.signals`: one normalised signal and what it did to its incident. */
export interface SignalsTable {
  id: string;
  /** Arrival order across all intakes. */
  seq: Generated<number>;
  intake_id: string;
  source: string;
  kind: string;
  fingerprint: string;
  status: 'firing' | 'resolved';
  name: string;
  labels: ColumnType<Record<string, string>, string, string>;
  annotations: ColumnType<Record<string, string>, string, string>;
  starts_at: Timestamp;
  ends_at: NullableTimestamp;
  generator_url: string | null;
  received_at: Timestamp;
  incident_id: string | null;
  events: string[];
}

/** `interlock.tickets`: one ticket per incident (or per mission tied to no incident), the folded `Ticket` as JSON. */
export interface TicketsTable {
  /** `INC-<number>`. */
  id: string;
  /** From the sequence `interlock.ticket_numbers`. */
  number: number;
  /** `incident:<uuid>` or `mission:<uuid>`: what the ticket is about, unique. */
  ticket_key: string;
  incident_id: string | null;
  project: string;
  status: 'open' | 'resolved' | 'escalated';
  title: string;
  ticket: ColumnType<unknown, string, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** `interlock.ticket_missions`: each mission recorded on a ticket, once. */
export interface TicketMissionsTable {
  mission_id: string;
  ticket_id: string;
  recorded_at: Timestamp;
}

/** `interlock.notification_outbox`: one delivery of one notification to one target, and how it went. */
export interface NotificationOutboxTable {
  /** The delivery ID, sent as `X-Interlock-Delivery`. */
  id: string;
  /** The configured target (webhook) name. */
  target: string;
  event: string;
  /** Unique per target: the same notification is queued once. */
  dedupe_key: string;
  ticket_id: string | null;
  mission_id: string | null;
  /** The exact body to send. */
  body: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  next_attempt_at: Timestamp;
  delivered_at: NullableTimestamp;
  last_error: string | null;
  last_status: number | null;
}

/**
 * `interlock.mcp_tool_pins`: per (server, tool) of an external MCP server, the accepted definition's
 * digest and the definition held for review, if any.
 */
export interface McpToolPinsTable {
  server: string;
  tool: string;
  accepted_digest: string | null;
  accepted_definition: ColumnType<unknown, string | null, string | null>;
  accepted_at: NullableTimestamp;
  accepted_by: string | null;
  held_digest: string | null;
  held_definition: ColumnType<unknown, string | null, string | null>;
  held_at: NullableTimestamp;
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
  'interlock.principals': PrincipalsTable;
  'interlock.api_tokens': ApiTokensTable;
  'interlock.approvals': ApprovalsTable;
  'interlock.approval_votes': ApprovalVotesTable;
  'interlock.kill_switches': KillSwitchesTable;
  'interlock.action_log': ActionLogTable;
  'interlock.frozen_actions': FrozenActionsTable;
  'interlock.audit_entries': AuditEntriesTable;
  'interlock.audit_checkpoints': AuditCheckpointsTable;
  'interlock.audit_tree_nodes': AuditTreeNodesTable;
  'interlock.audit_export_cursors': AuditExportCursorsTable;
  'interlock.signal_intakes': SignalIntakesTable;
  'interlock.incidents': IncidentsTable;
  'interlock.signals': SignalsTable;
  'interlock.tickets': TicketsTable;
  'interlock.ticket_missions': TicketMissionsTable;
  'interlock.notification_outbox': NotificationOutboxTable;
  'interlock.mcp_tool_pins': McpToolPinsTable;
}

/** A `missions` row as selected. */
export type MissionRow = Selectable<MissionsTable>;
/** A `mission_transitions` row as selected. */
export type TransitionRow = Selectable<MissionTransitionsTable>;
/** A `mission_steps` row as selected. */
export type StepRow = Selectable<MissionStepsTable>;
/** A `workers` row as selected. */
export type WorkerRow = Selectable<WorkersTable>;
