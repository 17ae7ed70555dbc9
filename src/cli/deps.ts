import type { InterlockConfig } from '../config/index.js';
import type { AgentTrackRecord, RunbookTrackRecord } from '../core/agents/track-record.js';
import type { AutonomyLevel } from '../core/guards/autonomy.js';
import type { KillSwitch } from '../core/guards/kill-switch.js';
import type { McpServerStatus, McpToolStatus } from '../connectors/mcp/index.js';
import type { DemoOptions, DemoReport } from '../server/demo.js';
import type { EstateDemoOptions, EstateDemoReport } from '../server/estate-demo-types.js';
import type { AuditExportReport, AuditExportRunOptions } from '../server/audit-export.js';
import type { StdioBridgeOptions } from '../server/mcp/stdio-bridge.js';
import type { ApprovalRequest, ApprovalStatus, VoteDecision } from '../core/approvals/approval.js';
import type { ApprovalAction, IdentityStore, MissionFilter } from '../core/ports.js';
import type { Mission, MissionDetail } from '../core/missions/mission.js';
import type { NotificationEvent, Ticket, TicketStatus } from '../core/tickets/ticket.js';
import type { AuditCheckpointResult, AuditConsistencyProof, AuditPage, AuditProof, AuditQuery, AuditVerification } from '../store/audit-log.js';

/**
 * What the CLI needs from the rest of Interlock, passed in so commands run in tests without a
 * server, a database or a network. `createDefaultDeps()` in `wiring.ts` builds the real ones.
 */
export interface CliDeps extends ServerMain {
  /** A client of a running server's HTTP API, for the `missions` and `approvals` commands. */
  createApiClient(options: ApiClientOptions): InterlockApi;
  /**
   * Opens the database (migrating it first) and returns the audit log on it, for the database-direct
   * `audit verify|checkpoint|proof|query|consistency` commands (`openAudit` in `src/server/main.ts`). Optional so
   * contexts that never run them need not provide it; `audit` commands then fail with a message.
   */
  openAudit?(config: InterlockConfig): Promise<AuditAdmin>;
  /**
   * Opens the database (migrating it first) and runs the configured audit export sinks (all, or
   * `options.sinks`) until each has caught up with the log as it was at the start, for
   * `interlock audit export` (`exportAudit` in `src/server/main.ts`). Resolves with one result per
   * sink, failures included. Optional like `openAudit`.
   * @throws `INPUT_INVALID` when `options.from` is out of range or given for other than one sink
   */
  exportAudit?(config: InterlockConfig, options: AuditExportRunOptions): Promise<AuditExportReport>;
  /**
   * Relays MCP over stdio to a running server's `/mcp` until either side closes, for `interlock mcp`
   * (`runStdioBridge` in `src/server/mcp/stdio-bridge.ts`). Optional like `openAudit`.
   */
  mcpBridge?(options: Omit<StdioBridgeOptions, 'stdio'>): Promise<void>;
}

/**
 * The audit log on an open database with the configured signing key (`AuditService` in
 * `src/server/audit.ts`); `close()` lets go of the database.
 */
export interface AuditAdmin {
  /** Path of the signer key file, `audit.signingKeyFile`. */
  readonly signingKeyFile: string;
  /** Number of entries. */
  size(): Promise<number>;
  /** Signs and stores a checkpoint of the current size (creating the signing key on first use). @throws `AUDIT_TAMPERED`, `AUDIT_KEY_MISMATCH` */
  checkpoint(): Promise<AuditCheckpointResult>;
  /** Inclusion proof of entry `index` against the latest checkpoint, or the one of `size` entries. @throws `AUDIT_PROOF_RANGE`, `AUDIT_CHECKPOINT_MISSING` */
  proof(index: number, size?: number): Promise<AuditProof>;
  /** Consistency proof between the checkpoints of `from` and `to` (default latest) entries. @throws `AUDIT_PROOF_RANGE`, `AUDIT_CHECKPOINT_MISSING` */
  consistencyProof(from: number, to?: number): Promise<AuditConsistencyProof>;
  /** Entries matching a filter, a page at a time. @throws `INPUT_INVALID` */
  query(query: AuditQuery): Promise<AuditPage>;
  /**
   * Verifies the whole log against `verifierKey`, or, when undefined, against the configured key.
   * @throws `INPUT_INVALID` when undefined and there is no key file; `AUDIT_KEY_INVALID`
   */
  verify(verifierKey: string | undefined, onProgress?: (checked: number) => void): Promise<AuditVerification>;
  close(): Promise<void>;
}

/**
 * The functions `src/server/main.ts` exports (loaded lazily by `wiring.ts`, so `interlock --help`
 * and the `missions` commands never load the server, the engine or PostgreSQL).
 */
export interface ServerMain {
  /**
   * Starts the HTTP API and the mission engine with `config` (migrating the schema first) and
   * resolves once they have shut down cleanly after SIGINT or SIGTERM. Rejects when start-up fails,
   * e.g. `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`.
   */
  serve(config: InterlockConfig): Promise<void>;
  /**
   * Brings the database schema to the latest version and stops. Rejects with `MIGRATION_FAILED`
   * (the schema stays at the last good version) or `DATABASE_UNREACHABLE`.
   */
  migrate(config: InterlockConfig): Promise<MigrateResult>;
  /**
   * Checks the installation (configuration, database reachable, schema current, data directory
   * writable, ...) and reports each check; resolves with failing checks rather than rejecting.
   */
  doctor(config: InterlockConfig): Promise<DoctorReport>;
  /**
   * Runs the demo (the governed loop on a local estate of files), writing progress through `out`
   * and asking `confirm` for approvals when given; resolves with the closing table.
   */
  demo(options: DemoOptions): Promise<DemoReport>;
  /**
   * Runs the demo on the reference estate (the five faults through the governed loop); resolves with
   * a row per fault, or with `missing` (the install command) when a program it needs is not installed.
   */
  estateDemo(options: EstateDemoOptions): Promise<EstateDemoReport>;
  /**
   * Opens the database (migrating it first) and returns the identity store on it, for the
   * `principals` and `tokens` commands, which work without a running server (to create the first
   * admin). Close it when done. Rejects like `migrate`.
   */
  openIdentity(config: InterlockConfig): Promise<IdentityAdmin>;
}

/** The identity store on an open database; `close()` lets go of the database. */
export interface IdentityAdmin extends IdentityStore {
  close(): Promise<void>;
}

/** What `migrate` did. */
export interface MigrateResult {
  /** Names of the migrations applied by this run, in order; empty when the schema was current. */
  readonly applied: readonly string[];
  /** Name of the latest migration now applied, or null for an empty schema. */
  readonly current: string | null;
}

/** One check `interlock doctor` ran. */
export interface DoctorCheck {
  /** What was checked, e.g. `database reachable`. */
  readonly name: string;
  /** `fail` makes the report fail; `warn` is worth a look but does not. */
  readonly status: 'ok' | 'warn' | 'fail';
  /** What was found, and for `warn` or `fail` what to do about it. */
  readonly detail: string;
}

/** The result of `interlock doctor`. */
export interface DoctorReport {
  /** False when any check failed; the command then exits 1. */
  readonly ok: boolean;
  readonly checks: readonly DoctorCheck[];
}

/** Where and how to reach the HTTP API. */
export interface ApiClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:7411` (a path prefix is kept). */
  readonly baseUrl: string;
  /** Time allowed for each request, response body included, ms. */
  readonly timeoutMs: number;
  /** API token sent as `Authorization: Bearer <token>`; without one the server answers `AUTH_REQUIRED`. */
  readonly token?: string;
}

/** Every endpoint group of the HTTP API the CLI uses. */
export interface InterlockApi extends MissionsApi, ApprovalsApi, GovernanceApi, SignalsApi, TicketsApi, McpServersApi, AgentsApi {}

/** An agent as `GET /v1/agents` lists it. */
export interface AgentView {
  readonly name: string;
  readonly role: string;
  readonly project: string;
  readonly reasoner: string;
  readonly autonomyCeiling: AutonomyLevel;
  readonly owner: string;
  readonly description: string | null;
  readonly tools: readonly string[];
  readonly handsOffTo: readonly string[];
}

/** The track record as `GET /v1/agents/stats` answers it (see src/core/agents/track-record.ts). */
export interface TrackRecordView {
  readonly since: number;
  readonly until: number;
  readonly agents: readonly AgentTrackRecord[];
  readonly runbooks: readonly RunbookTrackRecord[];
}

/** Agents (`/v1/agents`); every method rejects with an `ApiError` (`FORBIDDEN`, `INPUT_INVALID`, ...). */
export interface AgentsApi {
  /** `GET /v1/agents?project`: the loaded agents by name. */
  listAgents(filter: { readonly project?: string }): Promise<AgentView[]>;
  /** `GET /v1/agents/stats?since&project`: the track record per agent and per runbook. */
  agentStats(filter: { readonly since?: string; readonly project?: string }): Promise<TrackRecordView>;
}

/** A ticket as `GET /v1/tickets` lists it (times in ms since the epoch). */
export interface TicketSummaryView {
  readonly id: string;
  readonly incidentId: string | null;
  readonly project: string;
  readonly title: string;
  readonly service: string | null;
  readonly status: TicketStatus;
  readonly outcome: string;
  readonly reason: string;
  /** Missions recorded on it. */
  readonly missions: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One delivery of a ticket's notifications, as the API shows it. */
export interface DeliveryView {
  readonly id: string;
  readonly webhook: string;
  readonly event: NotificationEvent;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly missionId: string | null;
  readonly createdAt: number;
  readonly nextAttemptAt: number | null;
  readonly deliveredAt: number | null;
  readonly lastError: string | null;
  readonly lastStatus: number | null;
}

/** A ticket with its notifications, as `GET /v1/tickets/:id` answers it. */
export interface TicketView {
  readonly ticket: Ticket;
  readonly notifications: {
    readonly webhooks: ReadonlyArray<{ readonly webhook: string; readonly pending: number; readonly delivered: number; readonly failed: number }>;
    readonly deliveries: readonly DeliveryView[];
  };
}

/** Tickets (`/v1/tickets`); every method rejects with an `ApiError` (`TICKET_NOT_FOUND`, `FORBIDDEN`, ...). */
export interface TicketsApi {
  /** `GET /v1/tickets?status&project&limit&before`: newest first. */
  listTickets(filter: { readonly status?: TicketStatus; readonly project?: string; readonly limit?: number; readonly before?: string }): Promise<{ tickets: TicketSummaryView[]; next: string | null }>;
  /** `GET /v1/tickets/:id`, or with an incident ID (a UUID) `GET /v1/incidents/:id/ticket`. */
  getTicket(id: string): Promise<TicketView>;
}

/** What `POST /v1/signals/:source` answered. */
export interface IntakeView {
  readonly intakeId: string;
  readonly accepted: number;
  readonly incidents: ReadonlyArray<{ readonly id: string; readonly events: readonly string[]; readonly missionId: string | null }>;
  readonly truncatedAlerts: number;
}

/** An incident as the API shows it (times in ms since the epoch). */
export interface IncidentView {
  readonly id: string;
  readonly title: string;
  readonly project: string;
  readonly source: string;
  readonly groupKey: string;
  readonly status: 'open' | 'resolved';
  readonly flapping: boolean;
  readonly openedAt: number;
  readonly resolvedAt: number | null;
  readonly lastSignalAt: number;
  readonly missionId: string | null;
  readonly alerts: ReadonlyArray<{ readonly fingerprint: string; readonly name: string; readonly status: 'firing' | 'resolved'; readonly labels: Readonly<Record<string, string>>; readonly firstSeenAt: number; readonly lastSeenAt: number; readonly received: number }>;
  readonly untracked: number;
}

/** A stored signal as the API shows it. */
export interface SignalView {
  readonly id: string;
  readonly source: string;
  readonly kind: string;
  readonly fingerprint: string;
  readonly status: 'firing' | 'resolved';
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: number;
  readonly endsAt: number | null;
  readonly receivedAt: number;
  readonly events: readonly string[];
}

/** An incident's diagnosis as the API shows it. */
export interface DiagnosisView {
  readonly incidentId: string;
  readonly missionId: string | null;
  readonly status: 'none' | 'running' | 'done' | 'failed';
  /** diagnosis.run's result (engine, onset, hypotheses, ranking, evidence, unavailable), or null. */
  readonly diagnosis: Record<string, unknown> | null;
}

/** Signal intake and incidents (`/v1/signals`, `/v1/incidents`); every method rejects with an `ApiError`. */
export interface SignalsApi {
  /** `POST /v1/signals/:source` with the body as given. */
  sendSignals(source: string, body: Uint8Array, contentType: string): Promise<IntakeView>;
  /** `GET /v1/incidents?status&project&limit&before`: newest first. */
  listIncidents(filter: { readonly status?: 'open' | 'resolved'; readonly project?: string; readonly limit?: number; readonly before?: string }): Promise<{ incidents: IncidentView[]; next: string | null }>;
  /** `GET /v1/incidents/:id`: the incident and its signals. */
  getIncident(id: string): Promise<{ incident: IncidentView; signals: SignalView[] }>;
  /** `GET /v1/incidents/:id/diagnosis`: the hypotheses of its latest diagnosis mission. */
  getDiagnosis(id: string): Promise<DiagnosisView>;
}

/** A kill switch as the API shows it (times in ms since the epoch). */
export type KillSwitchView = KillSwitch;

/**
 * The admin endpoints of the governance kernel: kill switches and policy reload. Every method rejects
 * with an `ApiError` (`FORBIDDEN` without the admin role; `POLICY_INVALID` for a rejected reload).
 */
export interface GovernanceApi {
  listKillSwitches(): Promise<KillSwitchView[]>;
  engageKillSwitch(scope: string, reason: string): Promise<KillSwitchView>;
  /** Null when the switch was not engaged. */
  releaseKillSwitch(scope: string): Promise<KillSwitchView | null>;
  reloadPolicy(): Promise<{ changed: boolean; digest: string; files: string[] }>;
}

/** An external MCP server as `GET /v1/mcp/servers` shows it (docs/connectors/mcp.md). */
export type McpServerView = McpServerStatus;
/** One of its tools. */
export type McpToolView = McpToolStatus;

/**
 * The admin endpoints of the MCP gateway: external MCP servers and the review of their held tools.
 * Every method rejects with an `ApiError` (`FORBIDDEN` without the admin role; `MCP_TOOL_NOT_HELD`…).
 */
export interface McpServersApi {
  listMcpServers(): Promise<McpServerView[]>;
  acceptMcpTool(server: string, tool: string): Promise<McpToolView>;
  rejectMcpTool(server: string, tool: string, reason?: string): Promise<McpToolView>;
}

/** An action of an approval request as the API shows it: the exact call and, when a tool can compute one, a diff. */
export interface ApprovalActionView extends ApprovalAction {
  /** What the action would change; null today (no tool computes a diff yet). */
  readonly diff: string | null;
}

/** An approval request as `GET /v1/approvals/:id` answers it. */
export interface ApprovalView extends Omit<ApprovalRequest, 'votes'> {
  /** Risk summary in a sentence or two. */
  readonly summary: string;
  readonly actions: readonly ApprovalActionView[];
  /** Approve votes so far. */
  readonly approvals: number;
  readonly votes: ReadonlyArray<{ readonly principal: string; readonly decision: VoteDecision; readonly comment: string | null; readonly at: number }>;
}

/** Filters of `GET /v1/approvals`. */
export interface ApprovalListFilter {
  readonly status?: ApprovalStatus;
  readonly project?: string;
  readonly mission?: string;
  readonly limit?: number;
}

/**
 * The approval endpoints of the HTTP API (`/v1/approvals`). Every method rejects with an `ApiError`
 * like {@link MissionsApi}'s.
 */
export interface ApprovalsApi {
  /** `GET /v1/approvals?status&project&mission&limit`: newest first. */
  listApprovals(filter: ApprovalListFilter): Promise<ApprovalView[]>;
  /** `GET /v1/approvals/:id`. The server answers `APPROVAL_NOT_FOUND` for an unknown ID. */
  getApproval(id: string): Promise<ApprovalView>;
  /**
   * `POST /v1/approvals/:id/approve` or `/deny` with the `actionHash` the voter reviewed. The server
   * answers the voting refusals (`APPROVAL_SELF_APPROVAL`, `APPROVAL_HASH_MISMATCH`, ...).
   */
  vote(id: string, decision: VoteDecision, body: { readonly actionHash: string; readonly comment?: string }): Promise<ApprovalView>;
}

/**
 * The mission endpoints of the HTTP API (`/v1/missions`). Every method rejects with an `ApiError`
 * (see `api-client.ts`): the server's own `code` and `message` for an error response,
 * `API_UNREACHABLE`, `API_TIMEOUT` or `API_RESPONSE_INVALID` otherwise.
 */
export interface MissionsApi {
  /** `GET /v1/missions?project&stage&outcome&running&limit&before`: one page, newest first. */
  list(filter: MissionFilter): Promise<MissionPage>;
  /** `GET /v1/missions/:id`. The server answers `MISSION_NOT_FOUND` for an unknown ID. */
  get(id: string): Promise<MissionDetail>;
  /** `POST /v1/missions/:id/cancel`. The server answers `MISSION_NOT_FOUND` or `MISSION_ALREADY_FINISHED`. */
  cancel(id: string): Promise<MissionDetail>;
  /** `GET /v1/missions/:id/report`: the mission report, Markdown built from the audit log. The server answers `MISSION_NOT_FOUND`. */
  report(id: string): Promise<string>;
}

/** One page of missions as `GET /v1/missions` answers it: `{ missions, next }`. */
export interface MissionPage {
  /** Newest first. */
  readonly missions: readonly Mission[];
  /** The ID to pass as `before` for the next page; null on the last page. */
  readonly next: string | null;
}
