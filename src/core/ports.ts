import type { Escalation, Mission, MissionDetail, MissionRequest, MissionStep, StepError, StepPhase, StepStatus } from './missions/mission.js';
import type { Outcome, Stage } from './missions/stages.js';
import type { ApprovalRequirement, PolicyTarget } from './policy/policy.js';
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
  readonly waitingFor?: 'approval' | null;
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
  create(request: unknown): Promise<{ mission: MissionDetail; created: boolean }>;
  /** The mission with steps and history. Throws `MISSION_NOT_FOUND`. */
  get(id: string): Promise<MissionDetail>;
  list(filter: MissionFilter): Promise<Mission[]>;
  /**
   * Asks a running mission to stop: before its next write it compensates what it did and ends
   * `cancelled`. Throws `MISSION_NOT_FOUND` or `MISSION_ALREADY_FINISHED`.
   */
  cancel(id: string): Promise<MissionDetail>;
  health(): Promise<EngineHealth>;
}

/** One action an approval covers: the step, the tool, its exact arguments and its target. */
export interface ApprovalAction {
  readonly stepId: string;
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly target: PolicyTarget;
}

/**
 * What an approval is bound to: the mission, the exact actions and the policy set that required the
 * approval. Its hash is the SHA-256 of the RFC 8785 canonical JSON of this object; an action whose
 * hash differs (edited, replayed elsewhere, decided under another policy) is refused.
 */
export interface ApprovalBinding {
  readonly missionId: string;
  readonly project: string;
  readonly actions: readonly ApprovalAction[];
  readonly policyDigest: string;
}

/** A review decision reached by the approvals module for a mission (quorum met, denied, or expired). */
export interface ApprovalOutcome {
  readonly approvalId: string;
  readonly approved: boolean;
  /** Who decided: the approvers' names, or `expiry`. */
  readonly by: string;
  readonly comment?: string;
}

/**
 * The approvals module as the engine uses it (issue #3). `request` opens an approval request for a
 * mission's plan (idempotent per mission and binding hash: a replayed step gets the same request);
 * people vote through the API or CLI, and when the request is decided the module calls the engine's
 * `deliverReview`. Just before execution the engine `consume`s the grant: single use, only for the
 * same binding hash, only while granted and unexpired.
 */
export interface ApprovalGate {
  request(input: {
    readonly binding: ApprovalBinding;
    readonly requester: string;
    readonly requirement: ApprovalRequirement;
    readonly reasons: readonly DecisionReason[];
    readonly risk: RiskClass;
    /** ms since the Unix epoch. */
    readonly now: number;
  }): Promise<{ readonly approvalId: string; readonly actionHash: string }>;
  consume(approvalId: string, binding: ApprovalBinding, now: number): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string }>;
}
