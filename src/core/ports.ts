import type { WaitReason, Escalation, Mission, MissionDetail, MissionRequest, MissionStep, StepError, StepPhase, StepStatus } from './missions/mission.js';
import type { Outcome, Stage } from './missions/stages.js';
import type { AuditEntry } from './audit/entry.js';
import type { ActionRecord } from './guards/breaker.js';
import type { KillSwitch } from './guards/kill-switch.js';
import type { ApprovalBinding, ApprovalRequest, ApprovalStatus, VoteInput } from './approvals/approval.js';
import type { Principal, PrincipalKind, Role } from './identity/identity.js';
import type { ApiToken } from './identity/tokens.js';
import type { ApprovalRequirement } from './policy/policy.js';
import type { Decision, DecisionReason } from './review/decision.js';
import type { RiskClass } from './tools/tool.js';

/** A mission to create: the validated request plus what intake derived from it. */
export interface NewMission {
  readonly id: string;
  readonly request: MissionRequest;
  /** Every step of the request, recorded `pending` together with the mission. */
  readonly steps: readonly PlannedStep[];
  /** Reason of the first transition (none → intake). */
  readonly reason: string;
  readonly risk: RiskClass;
  readonly workflowVersion: string;
  /** Milliseconds since the Unix epoch. */
  readonly at: number;
}

/** Filters for listing missions; all optional, newest first. */
export interface MissionFilter {
  readonly project?: string;
  readonly stage?: Stage;
  readonly outcome?: Outcome;
  /** Only running (true) or only finished (false) missions. */
  readonly running?: boolean;
  /** At most this many. @default 50 */
  readonly limit?: number;
  /** Keyset pagination: only missions created strictly before this mission ID's creation. */
  readonly before?: string;
}

/** A planned step to record before anything runs. */
export interface PlannedStep {
  readonly stepId: string;
  readonly phase: StepPhase;
  readonly index: number;
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly risk: RiskClass;
  readonly idempotencyKey: string;
}

/** A change to a recorded step. Only the given fields change. */
export interface StepPatch {
  readonly status?: StepStatus;
  readonly attempts?: number;
  readonly result?: unknown;
  readonly error?: StepError | null;
  readonly startedAt?: number;
  readonly finishedAt?: number;
}

/** A change to a mission row that goes with a stage transition or a wait. */
export interface MissionPatch {
  readonly waitingFor?: WaitReason | null;
  readonly decision?: Decision;
  readonly escalation?: Escalation;
  readonly outcome?: Outcome;
}

/**
 * Where missions, their steps and their stage history are kept (PostgreSQL in `src/store`).
 * Every write is idempotent, because a crashed mission replays the step that made it.
 */
export interface MissionStore {
  /**
   * Creates a mission with its first transition (none → intake, seq 1) and its steps, in one
   * transaction; or returns the existing one with the same project and idempotency key
   * (`created: false`). Throws `IDEMPOTENCY_KEY_REUSED` when that mission's request differs.
   */
  createMission(mission: NewMission): Promise<{ mission: Mission; created: boolean }>;
  getMission(id: string): Promise<Mission | undefined>;
  /** The mission with its steps and stage history, or undefined. */
  getMissionDetail(id: string): Promise<MissionDetail | undefined>;
  listMissions(filter: MissionFilter): Promise<Mission[]>;
  /**
   * Moves a mission to stage `to` and appends transition `seq` to its history. Applying the same
   * `seq` twice changes nothing (a replayed step). `at` is ms since the epoch.
   */
  recordTransition(missionId: string, seq: number, to: Stage, reason: string, at: number, patch?: MissionPatch): Promise<void>;
  /** Changes a mission without a transition (a wait starts or ends, a decision is recorded). */
  updateMission(missionId: string, patch: MissionPatch, at: number): Promise<void>;
  /** Records planned steps as `pending`; steps already recorded are left as they are. */
  recordSteps(missionId: string, steps: readonly PlannedStep[]): Promise<void>;
  getStep(missionId: string, stepId: string): Promise<MissionStep | undefined>;
  updateStep(missionId: string, stepId: string, patch: StepPatch): Promise<void>;
  /** Marks a cancel request; false when the mission is unknown or already finished. */
  requestCancel(missionId: string, at: number): Promise<boolean>;
  /** Missions whose intake committed but whose workflow may never have been started. */
  listUnstarted(olderThanMs: number, now: number): Promise<string[]>;
  /** Counts of missions by stage and outcome, for metrics. */
  countByStage(): Promise<Array<{ stage: Stage; outcome: Outcome | null; count: number }>>;
}

/** A worker process as its peers see it through its heartbeats. */
export interface WorkerRecord {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  readonly state: 'alive' | 'stopped' | 'dead';
  readonly takenOverBy: string | null;
}

/**
 * Worker liveness for scale-out: each worker heartbeats; a peer whose heartbeat is older than the
 * lease is declared dead by exactly one survivor, which then takes over its missions.
 */
export interface WorkerRegistry {
  /** Registers or re-registers worker `id` as alive. */
  register(worker: Omit<WorkerRecord, 'state' | 'takenOverBy' | 'heartbeatAt'>, at: number): Promise<void>;
  /** Renews the heartbeat; false when peers have declared this worker dead (it must stop at once). */
  heartbeat(id: string, at: number): Promise<boolean>;
  /** Marks a clean stop, so peers do not wait out the lease. */
  markStopped(id: string, at: number): Promise<void>;
  /**
   * Atomically declares dead every live worker whose heartbeat is older than `leaseMs` and claims
   * them for `by`; returns the IDs this call claimed (each dead worker is claimed exactly once).
   */
  claimExpired(by: string, leaseMs: number, now: number): Promise<string[]>;
  list(): Promise<WorkerRecord[]>;
}

/**
 * Who asks, as authentication established it. When given, it overrides the request's `requester`
 * (and `agent`, which is the caller's name for an agent and unset otherwise): a body cannot claim to
 * be someone else.
 */
export interface Caller {
  readonly name: string;
  readonly kind: 'human' | 'agent' | 'service';
}

/** Health of the mission engine as `/readyz` and `interlock doctor` report it. */
export interface EngineHealth {
  /** True when the engine takes and runs missions. */
  readonly ready: boolean;
  readonly workerId: string;
  readonly workflowVersion: string;
  /** Why the engine is not ready, when it is not. */
  readonly reason?: string;
  /** Missions enqueued but not yet started by any worker. */
  readonly queueDepth: number;
}

/**
 * What the HTTP API, the MCP server and the CLI use to drive missions. Implemented by the engine
 * (`src/engine`); the server never touches DBOS or SQL directly.
 */
export interface MissionService {
  /**
   * Validates `request` (unknown tools, arguments against each tool's input schema), stores the
   * mission and enqueues its workflow durably before returning. Throws `INPUT_INVALID`,
   * `TOOL_UNKNOWN` or `TOOL_ARGS_INVALID` (with every issue) and `IDEMPOTENCY_KEY_REUSED`.
   */
  create(request: unknown, caller?: Caller): Promise<{ mission: MissionDetail; created: boolean }>;
  /** The mission with steps and history. Throws `MISSION_NOT_FOUND`. */
  get(id: string): Promise<MissionDetail>;
  list(filter: MissionFilter): Promise<Mission[]>;
  /**
   * Asks a running mission to stop: before its next write it compensates what it did and ends
   * `cancelled`, recording `caller` (default `api`) as who cancelled it. Throws `MISSION_NOT_FOUND`
   * or `MISSION_ALREADY_FINISHED`.
   */
  cancel(id: string, caller?: Caller): Promise<MissionDetail>;
  health(): Promise<EngineHealth>;
}

// The approval binding types live with the approval rules; the engine imports them from here.
export type { ApprovalAction, ApprovalBinding, ApprovalOutcome } from './approvals/approval.js';

/** What the engine asks the approvals module for: the bound actions, who asked, what to gather and why. */
export interface ApprovalRequestInput {
  readonly binding: ApprovalBinding;
  readonly requester: string;
  readonly requirement: ApprovalRequirement;
  readonly reasons: readonly DecisionReason[];
  readonly risk: RiskClass;
  /** ms since the Unix epoch. */
  readonly now: number;
}

/**
 * The approvals module as the engine uses it (issue #3). `request` opens an approval request for a
 * mission's plan (idempotent per mission and binding hash: a replayed step gets the same request);
 * people vote through the API or CLI, and when the request is decided the module calls the engine's
 * `deliverReview`. Just before execution the engine `consume`s the grant: single use, only for the
 * same binding hash, only while granted and unexpired.
 */
export interface ApprovalGate {
  /**
   * Opens a pending request expiring `requirement.expiresInMs` after `now`, or returns the request
   * already open for the same mission and binding hash, whatever its `status` (a replayed step gets
   * the same request; a request already decided was already delivered, and is not delivered again).
   */
  request(input: ApprovalRequestInput): Promise<{ readonly approvalId: string; readonly actionHash: string; readonly status: ApprovalStatus }>;
  /**
   * Uses a granted approval once: atomically flips it `granted` → `consumed` only when `binding`
   * hashes to the approved hash and `now` (ms) is before its expiry, so two consumers can never both
   * win. Otherwise a refusal value (never an exception for these): `code` is `APPROVAL_NOT_FOUND`,
   * `APPROVAL_NOT_GRANTED` (pending or denied), `APPROVAL_ALREADY_CONSUMED`, `APPROVAL_EXPIRED` or
   * `APPROVAL_HASH_MISMATCH` (the actions or the policy changed after approval), with a sentence.
   */
  consume(approvalId: string, binding: ApprovalBinding, now: number): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string; readonly code: ConsumeRefusalCode }>;
}

/** Why {@link ApprovalGate.consume} refused; each is a registered error code (docs/errors.md). */
export type ConsumeRefusalCode = 'APPROVAL_NOT_FOUND' | 'APPROVAL_NOT_GRANTED' | 'APPROVAL_ALREADY_CONSUMED' | 'APPROVAL_EXPIRED' | 'APPROVAL_HASH_MISMATCH';

/**
 * Resolves an API token to its principal (PostgreSQL in `src/store`). The server calls it for every
 * request except the operations endpoints.
 */
export interface Authenticator {
  /**
   * The principal `token` authenticates at `now` (ms since the epoch); records the use (to the
   * minute). Throws `AUTH_TOKEN_INVALID` (malformed, unknown), `AUTH_TOKEN_REVOKED` or
   * `AUTH_TOKEN_EXPIRED`.
   */
  authenticate(token: string, now: number): Promise<Principal>;
}

/** A principal to create. */
export interface NewPrincipal {
  readonly name: string;
  readonly kind: PrincipalKind;
  readonly groups: readonly string[];
  readonly roles: Readonly<Record<string, readonly Role[]>>;
}

/**
 * Principals and API tokens (PostgreSQL in `src/store`); the `principals` and `tokens` CLI commands
 * use it directly on the database, so the first admin can be created before any token exists.
 */
export interface IdentityStore extends Authenticator {
  /** Throws `INPUT_INVALID` (each bad field named) or `PRINCIPAL_NAME_TAKEN`. */
  createPrincipal(principal: NewPrincipal, now: number): Promise<Principal>;
  /** The principal named `name`, or undefined. */
  findPrincipal(name: string): Promise<Principal | undefined>;
  /** Every principal, by name. */
  listPrincipals(): Promise<Principal[]>;
  /**
   * Creates a token for the principal named `principal`, expiring at `expiresAt` (ms, or null for
   * never). Returns the record and the token text, which is stored nowhere: show it once.
   * Throws `PRINCIPAL_NOT_FOUND`, or `INPUT_INVALID` for an expiry not after `now`.
   */
  createToken(input: { readonly principal: string; readonly label?: string; readonly expiresAt: number | null }, now: number): Promise<{ token: ApiToken; secret: string }>;
  /** Revokes token `id` (revoking twice keeps the first time). Throws `TOKEN_NOT_FOUND`. */
  revokeToken(id: string, now: number): Promise<ApiToken>;
  /** Tokens (never their secrets), newest first; only those of principal `principal` when given. */
  listTokens(filter?: { readonly principal?: string }): Promise<ApiToken[]>;
}

/** Filters for listing approval requests; all optional, newest first. */
export interface ApprovalFilter {
  readonly status?: ApprovalStatus;
  readonly project?: string;
  readonly missionId?: string;
  /** At most this many. @default 50 */
  readonly limit?: number;
}

/** The approvals module as the HTTP API uses it: list, show, and vote. */
export interface ApprovalService {
  /** Approval requests matching `filter`, newest first (pending ones past their expiry shown expired). */
  list(filter: ApprovalFilter): Promise<ApprovalRequest[]>;
  /** Throws `APPROVAL_NOT_FOUND`. */
  get(id: string): Promise<ApprovalRequest>;
  /**
   * Casts `voter`'s vote (see `castVote` for the rules, in order) and returns the request after it;
   * when the vote decides the request, its mission is told. Throws `APPROVAL_NOT_FOUND`,
   * `APPROVAL_NOT_PENDING`, `APPROVAL_EXPIRED`, `APPROVAL_AGENT_VOTE`, `FORBIDDEN`,
   * `APPROVAL_SELF_APPROVAL`, `APPROVAL_GROUP_REQUIRED`, `APPROVAL_ALREADY_VOTED` or
   * `APPROVAL_HASH_MISMATCH`; every vote, counted or refused, is on the audit record, and
   * `AUDIT_UNAVAILABLE` when it cannot be recorded (the vote is then not counted).
   */
  vote(id: string, voter: Principal, input: VoteInput): Promise<ApprovalRequest>;
}

/** Where the guards keep kill switches, executed writes and frozen actions (PostgreSQL in `src/store`). */
export interface GuardStore {
  /** Kill switches engaged now among `scopes`. */
  engagedKillSwitches(scopes: readonly string[]): Promise<KillSwitch[]>;
  /** Engages the switch of `scope` (again, if it was released). `at` is ms since the epoch. */
  engageKillSwitch(scope: string, by: string, reason: string, at: number): Promise<KillSwitch>;
  /** Releases the switch of `scope`; undefined when it was not engaged. */
  releaseKillSwitch(scope: string, by: string, at: number): Promise<KillSwitch | undefined>;
  listKillSwitches(): Promise<KillSwitch[]>;
  /** Records an executed write; recording the same mission step twice changes nothing. */
  recordAction(action: ActionRecord): Promise<void>;
  /** Executed writes since `since` (ms), by tool and target, or by agent. */
  recentActions(filter: { readonly tool?: string; readonly targetKey?: string; readonly agent?: string; readonly since: number }): Promise<ActionRecord[]>;
  /** Freezes `tool` on `targetKey` until `until` (ms), with the reason. */
  freeze(tool: string, targetKey: string, until: number, reason: string, at: number): Promise<void>;
  /** The freeze in force for `tool` on `targetKey` at `now`, if any. */
  frozen(tool: string, targetKey: string, now: number): Promise<{ until: number; reason: string } | undefined>;
}

/**
 * The audit log as the engine writes it (issue #4): entries are appended durably, in one transaction,
 * as leaves of the RFC 6962 Merkle tree. `append` throws when they cannot be stored; the caller must
 * then not do what the entries record (fail closed).
 */
export interface AuditLog {
  /** Appends `entries` in order; returns their indices (0-based leaf positions). */
  append(entries: readonly AuditEntry[]): Promise<number[]>;
}
