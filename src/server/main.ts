// The one place real dependencies are built: database (server or embedded), migrations, store,
// tool catalog, metrics, mission engine and HTTP API. The CLI calls `serve`, `migrate` and `doctor`.
import { access, constants, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { InterlockConfig } from '../config/index.js';
import { defaultWorkerId } from '../config/index.js';
import { createAlertmanagerConnector } from '../connectors/alertmanager/index.js';
import { createBuiltinConnector } from '../connectors/builtin/index.js';
import { createChangesConnector } from '../connectors/changes/index.js';
import { createFilesConnector } from '../connectors/files/index.js';
import { createLogsConnector } from '../connectors/logs/index.js';
import { createNginxConnector } from '../connectors/nginx/index.js';
import { createPostgresConnector } from '../connectors/postgres/index.js';
import { createReleasesConnector } from '../connectors/releases/index.js';
import { createScaleConnector } from '../connectors/scale/index.js';
import { createPrometheusConnector } from '../connectors/prometheus/index.js';
import { createRunbooksConnector, loadRunbookDirectory, type LoadedRunbooks } from '../connectors/runbooks/index.js';
import { AgentsRuntime } from '../agents/runtime.js';
import { agentMayUse } from '../core/agents/agent.js';
import { createSupervisorConnector } from '../connectors/supervisor/index.js';
import { InternalError, isInterlockError } from '../core/errors.js';
import type { MissionRequestInput } from '../core/missions/mission.js';
import type { IdentityStore } from '../core/ports.js';
import { ToolCatalog } from '../core/tools/catalog.js';
import { createMcpGateway, type McpGateway } from '../connectors/mcp/index.js';
import type { AnyToolContract } from '../core/tools/tool.js';
import { createMissionEngine, migrateDurableState, type MissionEngine } from '../engine/engine.js';
import { createPolicySource, type PolicySource } from '../engine/policy-loader.js';
import type { EngineObserver } from '../engine/mission-workflow.js';
import { checkConnection, createDatabase, migrateToLatest, withAdvisoryLock, PgApprovalStore, PgAuditLog, PgGuardStore, PgIdentityStore, PgMcpPinStore, migrationStatus, PgMissionStore, PgSignalStore, PgTicketStore, PgTrackRecordStore, PgWorkerRegistry, startEmbeddedPostgres, type DatabaseHandle, type MigrationReport } from '../store/index.js';
import { isTransientDatabaseError } from '../store/transient.js';
import { buildApp } from './app.js';
import { Approvals } from './approvals.js';
import { AuditService } from './audit.js';
import { AuditExporter, exportAuditLog, type AuditExportReport, type AuditExportRunOptions } from './audit-export.js';
import { createNotificationDispatcher, type NotificationDispatcher } from './notifications.js';
import { recordConfig } from './config-audit.js';
import { prepareSources, SignalIntake } from './intake.js';
import { createDiagnosisConnector, createDiagnosisWaitTool, planIncidentDiagnosis } from '../connectors/diagnosis/index.js';
import { createMetrics, type InterlockMetrics } from './metrics.js';
import { defaultAllowedHosts } from './dns-rebinding.js';
import { createRateLimiter } from './rate-limit.js';
import { combineAuthenticators, createJwtAuthenticator } from './jwt-auth.js';
import type { McpEndpoint } from './mcp/http.js';

/** Interlock's package version. */
export const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Advisory lock key serialising DBOS schema migrations across Interlock processes ("ILDB"). */
const DURABLE_STATE_LOCK = 0x494c4442;

/** A connected database: its URL, the pool, and how to let go of both (and of the embedded server). */
export interface OpenDatabase {
  /** Connection URL (may hold a password: never log it). */
  readonly url: string;
  readonly handle: DatabaseHandle;
  /** True when Interlock started an embedded PostgreSQL for it. */
  readonly embedded: boolean;
  /** What the start-up migration did. */
  readonly migrated: MigrationReport;
  close(): Promise<void>;
}

/**
 * Connects to `database.url`, or starts the embedded PostgreSQL in `database.embedded.dataDir` when
 * no URL is configured, and migrates the schema to the latest version (Interlock's and DBOS's) unless
 * `options.migrate` is false (`doctor` only looks).
 * @throws `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`
 */
export async function openDatabase(config: InterlockConfig, logger: Logger, options: { migrate?: boolean } = {}): Promise<OpenDatabase> {
  let url = config.database.url;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (url === undefined) {
    await mkdir(config.dataDir, { recursive: true });
    const started = Date.now();
    const embedded = await startEmbeddedPostgres({
      dataDir: config.database.embedded.dataDir,
      ...(config.database.embedded.port === undefined ? {} : { port: config.database.embedded.port }),
      onLog: (line) => logger.debug({ component: 'postgres' }, line),
    });
    logger.info({ port: embedded.port, ms: Date.now() - started }, 'embedded PostgreSQL started');
    url = embedded.url;
    stopEmbedded = () => embedded.stop();
  } else {
    await checkConnection(url, 10_000);
  }
  const handle = createDatabase({ url, poolSize: config.database.poolSize, onError: (error) => logger.warn({ err: error }, 'database connection lost; reconnecting') });
  let migrated: MigrationReport = { applied: [], current: '' };
  try {
    if (options.migrate === false) return { url, handle, embedded: stopEmbedded !== undefined, migrated, close: closer(handle, stopEmbedded) };
    migrated = await migrateToLatest(handle.db);
    // DBOS's own migrations are not safe to run from several processes at once: take turns.
    await withAdvisoryLock(handle.pool, DURABLE_STATE_LOCK, () => migrateDurableState(url));
    if (migrated.applied.length > 0) logger.info({ applied: migrated.applied }, 'database migrated');
  } catch (error) {
    await handle.close();
    await stopEmbedded?.();
    throw error;
  }
  return { url, handle, embedded: stopEmbedded !== undefined, migrated, close: closer(handle, stopEmbedded) };
}

function closer(handle: DatabaseHandle, stopEmbedded: (() => Promise<void>) | undefined): () => Promise<void> {
  return async () => {
    await handle.close();
    await stopEmbedded?.();
  };
}

/** The tools of every enabled connector. */
function connectorTools(config: InterlockConfig): AnyToolContract[] {
  const { builtin, files, prometheus, alertmanager, changes, logs, nginx, supervisor, postgres, releases, scale } = config.connectors;
  return [
    ...createBuiltinConnector(builtin),
    ...(files.enabled ? createFilesConnector({ root: files.root }) : []),
    ...(prometheus.enabled ? createPrometheusConnector(prometheus) : []),
    ...(alertmanager.enabled ? createAlertmanagerConnector(alertmanager) : []),
    ...(changes.enabled ? createChangesConnector(changes) : []),
    ...(logs.enabled ? createLogsConnector(logs) : []),
    ...(nginx.enabled ? createNginxConnector(nginx) : []),
    ...(supervisor.enabled ? createSupervisorConnector(supervisor) : []),
    ...(postgres.enabled ? createPostgresConnector(postgres) : []),
    ...(releases.enabled ? createReleasesConnector(releases) : []),
    ...(scale.enabled ? createScaleConnector(scale) : []),
  ];
}

/** Options of {@link startInterlock}; everything but `config` is for embedding and tests. */
export interface StartOptions {
  readonly config: InterlockConfig;
  /** An already open database; by default one is opened (and closed on stop). */
  readonly database?: OpenDatabase;
  /** Tools beyond the configured connectors' (tests, plug-ins). */
  readonly extraTools?: readonly AnyToolContract[];
  readonly observer?: EngineObserver;
  readonly logger?: Logger;
  /** The engine's clock (policy time, records), ms since the epoch; tests pin it. @default Date.now */
  readonly now?: () => number;
  /** Called when peers declared this worker dead. @default exit the process with code 75 */
  readonly onFenced?: () => never;
}

/** A running Interlock: the engine, the HTTP app and where it listens. */
export interface RunningInterlock {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:7411`. */
  readonly url: string;
  readonly engine: MissionEngine;
  readonly app: FastifyInstance;
  readonly database: OpenDatabase;
  readonly metrics: InterlockMetrics;
  /** The policy set in force; `reload()` swaps in a valid new set (SIGHUP does it for `serve`). */
  readonly policy: PolicySource;
  readonly workerId: string;
  /**
   * The approvals module: the engine's `ApprovalGate` (request, consume) and the API's approval
   * service; it delivers each decision to the engine's `deliverReview`.
   */
  readonly approvals: Approvals;
  /** Principals and API tokens (also the API's authenticator). */
  readonly identity: PgIdentityStore;
  /** The audit log with this installation's signing key; signs checkpoints periodically while serving. */
  readonly audit: AuditService;
  /**
   * The built-in tickets: the engine's `MissionEndSink` (`missionEnded(detail)` records a finished
   * mission on its incident's ticket, its audit entry and its notifications) and the API's reader.
   */
  readonly tickets: PgTicketStore;
  /** The gateway to the external MCP servers of `mcp.servers` (docs/connectors/mcp.md); absent when none is configured. */
  readonly mcpGateway?: McpGateway;
  /** The agents (`agents.dir`), when configured. */
  readonly agents?: AgentsRuntime;
  /** Stops taking requests and work, then closes the engine and the database. */
  stop(): Promise<void>;
}

/**
 * Logs an error as its type, message, code and stack (and its cause's), never its other fields: a
 * `pg` error carries the whole client, with its connection parameters.
 */
function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: error.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    stack: error.stack,
    ...(error.cause === undefined ? {} : { cause: serializeError(error.cause) }),
  };
}

/** Creates the process logger: JSON lines on stdout (or stderr, for commands whose stdout is a result) at the configured level. */
export function createLogger(config: InterlockConfig, destination: 'stdout' | 'stderr' = 'stdout'): Logger {
  return pino({ level: config.log.level, base: { service: 'interlock' }, serializers: { err: serializeError }, redact: { paths: ['*.password', '*.token', '*.secret', 'databaseUrl', 'err.config.connectionString'], censor: '***' } }, pino.destination(destination === 'stdout' ? 1 : 2));
}

/**
 * Starts Interlock: database and migrations, tool catalog, mission engine (recovering this worker's
 * missions) and the HTTP API on `server.host:server.port`.
 * @throws `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`, and `INTERNAL` when
 *   the catalog is inconsistent (duplicate tool, unknown compensation tool).
 */
export async function startInterlock(options: StartOptions): Promise<RunningInterlock> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config);
  const database = options.database ?? (await openDatabase(config, logger));
  const workerId = config.engine.workerId ?? defaultWorkerId(config.dataDir);
  let started: MissionEngine | undefined;
  let approvalsStop: (() => Promise<void>) | undefined;
  let auditStop: (() => Promise<void>) | undefined;
  let exporter: AuditExporter | undefined;
  let notifications: NotificationDispatcher | undefined;
  let intakeSweep: NodeJS.Timeout | undefined;
  let mcpGateway: McpGateway | undefined;
  let mcpEndpoint: McpEndpoint | undefined;
  try {
    const store = new PgMissionStore(database.handle.db);
    const signals = new PgSignalStore(database.handle.db);
    // diagnosis.run reads an incident's signals and its mission's evidence steps from the stores.
    const diagnosisTool = createDiagnosisConnector({
      signalsOf: async (incidentId) => ((await signals.getIncident(incidentId)) === undefined ? undefined : signals.signalsOf(incidentId, 1000)),
      getStep: (missionId, stepId) => store.getStep(missionId, stepId),
    });
    // runbooks.dispatch turns a diagnosis into a remediation mission; it starts missions through the
    // engine, which is built below (with this catalog), hence the late binding.
    const late: { createMission?: (request: MissionRequestInput) => Promise<string>; createMissionAs?: (request: MissionRequestInput, agent: string) => Promise<string> } = {};
    let runbooks: LoadedRunbooks | undefined;
    const runbookTools = config.runbooks.dir === undefined ? [] : [createRunbooksConnector({
      runbooks: () => runbooks?.runbooks ?? [],
      vars: config.runbooks.vars,
      getMission: (missionId) => store.getMission(missionId),
      getStep: (missionId, stepId) => store.getStep(missionId, stepId),
      alertLabelsOf: async (incidentId) => (await signals.getIncident(incidentId))?.state.alerts.map((alert) => alert.labels),
      createMission: async (request) => {
        if (late.createMission === undefined) throw new InternalError('The mission engine is not started yet.', { code: 'ENGINE_NOT_READY' });
        return late.createMission(request);
      },
    })];
    // Agents (docs/agents.md): a project's triage agent diagnoses its incidents and hands off through
    // agents.handoff (resolution proposes, governance checks, the resolution agent's mission starts).
    const agentsRuntime = config.agents.dir === undefined ? undefined : new AgentsRuntime({
      dir: config.agents.dir, llm: config.agents.llm, env: process.env, audit: async (entry) => { await auditLog.append([entry]); },
    });
    const handOffTools: AnyToolContract[] = agentsRuntime === undefined ? [] : [agentsRuntime.handOffTool({
      runbooks: () => runbooks?.runbooks ?? [],
      vars: config.runbooks.vars,
      getMission: (missionId) => store.getMission(missionId),
      getStep: (missionId, stepId) => store.getStep(missionId, stepId),
      alertLabelsOf: async (incidentId) => (await signals.getIncident(incidentId))?.state.alerts.map((alert) => alert.labels),
      findPrincipal: (name) => identity.findPrincipal(name),
      get catalog(): ToolCatalog { return catalog; },
      incidentOf: async (incidentId) => {
        const incident = await signals.getIncident(incidentId);
        if (incident === undefined) return undefined;
        // The annotations of its latest alerts, one value per name (alert text: fenced as data downstream).
        const annotations: Record<string, string> = {};
        for (const signal of await signals.signalsOf(incidentId, 20)) Object.assign(annotations, signal.annotations);
        return { title: incident.title, labels: { ...incident.state.groupLabels }, annotations };
      },
      evidenceOf: async (missionId) => ((await store.getMissionDetail(missionId))?.steps ?? [])
        .filter((step) => step.phase === 'context' && step.status === 'succeeded')
        .map((step) => ({ source: `${step.tool} (step ${step.stepId})`, text: JSON.stringify(step.result).slice(0, 4000) })),
      createMissionAs: async (request, agent) => {
        if (late.createMissionAs === undefined) throw new InternalError('The mission engine is not started yet.', { code: 'ENGINE_NOT_READY' });
        return late.createMissionAs(request, agent);
      },
      notify: async (missionId, message) => { await tickets.notifyAction(missionId, message); },
      get audit() { return auditLog; },
      now: options.now ?? Date.now,
    })];
    const catalog: ToolCatalog = new ToolCatalog([...connectorTools(config), diagnosisTool, createDiagnosisWaitTool(), ...runbookTools, ...handOffTools, ...(options.extraTools ?? [])]);
    catalog.check();
    // Runbooks are checked against the catalog before anything starts: a runbook naming a tool this
    // worker does not have, or a verification that writes, stops the start (RUNBOOK_INVALID).
    if (config.runbooks.dir !== undefined) {
      runbooks = await loadRunbookDirectory(config.runbooks.dir, catalog);
      logger.info({ dir: config.runbooks.dir, runbooks: runbooks.runbooks.map((r) => `${r.metadata.name}@${r.metadata.version}`), digest: runbooks.digest }, 'runbooks loaded');
    }
    if (agentsRuntime !== undefined) {
      const loaded = await agentsRuntime.load(catalog);
      logger.info({ dir: config.agents.dir, agents: [...loaded.agents.values()].map((a) => `${a.metadata.name} (${a.spec.role}, ${a.spec.reasoner})`), digest: loaded.digest }, 'agents loaded');
    }
    const identity = new PgIdentityStore(database.handle.db);
    // Each decided approval request is delivered to the mission waiting for it (the engine is built
    // below and started before the approvals' sweep, the only other caller of `notify`).
    // One audit log for the engine, approvals, policy reloads and the API.
    const auditLog = new PgAuditLog(database.handle.db);
    // External MCP servers: their tools join the catalog as they are listed (held when new or changed);
    // a server that cannot be reached is retried and does not stop the start.
    if (config.mcp.servers.length > 0) {
      mcpGateway = await createMcpGateway({
        servers: config.mcp.servers, pins: new PgMcpPinStore(database.handle.db), audit: auditLog, logger, env: process.env,
        clientInfo: { name: 'interlock', version: VERSION }, onToolAdded: (tool) => catalog.register(tool),
        // MCP clients of /mcp are told when the tools they may call change.
        onToolsChanged: () => void mcpEndpoint?.toolListChanged(),
        ...(options.now === undefined ? {} : { now: options.now }),
      });
      catalog.check();
    }
    // Tickets and their notifications (docs/tickets.md): a missing webhook signing key stops the start;
    // the dispatcher is started with the engine and woken whenever this worker queues a delivery.
    const dispatcher = config.notifications.webhooks.length === 0 ? undefined : createNotificationDispatcher({ db: database.handle.db, notifications: config.notifications, logger });
    const tickets = new PgTicketStore({ db: database.handle.db, audit: auditLog, targets: config.notifications.webhooks, onQueued: () => dispatcher?.wake(), ...(options.now === undefined ? {} : { now: options.now }) });
    const approvals = new Approvals({
      store: new PgApprovalStore(database.handle.db),
      audit: auditLog,
      notify: (missionId, outcome) => engine.deliverReview(missionId, outcome),
      logger,
    });
    const policy = await createPolicySource({ dir: config.policy.dir, defaults: config.review.defaults, logger, audit: auditLog, ...(options.now === undefined ? {} : { now: options.now }) });
    const audit = new AuditService(auditLog, config.audit, logger);
    // Loads (or creates) the checkpoint signing key first: a worker with a bad key does not start.
    await audit.start(config.audit.checkpointIntervalMs);
    auditStop = () => audit.stop();
    const metrics = createMetrics();
    const engine = createMissionEngine({
      databaseUrl: database.url,
      store,
      workers: new PgWorkerRegistry(database.handle.db),
      catalog,
      workerId,
      workflowVersion: config.engine.workflowVersion,
      version: VERSION,
      concurrency: config.engine.concurrency,
      heartbeatMs: config.engine.heartbeatMs,
      leaseMs: config.engine.leaseMs,
      approvalTimeoutMs: config.engine.approvalTimeoutMs,
      reconcileIntervalMs: config.engine.reconcileIntervalMs,
      policy: () => policy.current(),
      approvals,
      guards: new PgGuardStore(database.handle.db),
      audit: audit.log,
      missionEnd: tickets,
      guardSettings: {
        breaker: config.guards.circuitBreaker,
        perAgent: config.guards.rateLimits.perAgent,
        perTarget: config.guards.rateLimits.perTarget,
      },
      autonomy: { rules: config.autonomy.rules, default: config.autonomy.default },
      shadowProjects: config.engine.shadowProjects,
      logger,
      // auto-notify: until notification connectors exist (issue #6), people are told through the log.
      // auto-notify: people are told through the log and the webhooks that take action.notify.
      observer: combineObservers(metricsObserver(metrics), {
        notify: (missionId, message) => {
          logger.info({ missionId, notify: true }, message);
          tickets.notifyAction(missionId, message).catch((error: unknown) => logger.error({ err: error, missionId }, 'the auto-notify notification could not be queued'));
        },
      }, options.observer ?? {}),
      onFenced: options.onFenced ?? (() => {
        logger.fatal({ workerId }, 'this worker was declared dead by its peers and its missions were taken over; exiting');
        process.exit(75);
      }),
      isTransient: isTransientDatabaseError,
      // A defined agent's missions stay within its tool set, whoever creates them (a hand-off, the
      // API, MCP); its hand-offs are governed by handsOffTo instead.
      agentToolSet: (name) => {
        const agent = agentsRuntime?.agents().get(name);
        return agent === undefined ? undefined : (tool) => tool === 'agents.handoff' || agentMayUse(agent, tool);
      },
      hostname: hostname(),
      pid: process.pid,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    late.createMission = async (request) => (await engine.create(request, { name: 'interlock-runbooks', kind: 'service' })).mission.id;
    late.createMissionAs = async (request, agent) => (await engine.create(request, { name: agent, kind: 'agent' })).mission.id;
    // The configuration this worker serves under is on the record before it takes any work.
    await recordConfig(audit.log, config, { workerId, version: VERSION, policyDigest: policy.current().digest, at: (options.now ?? Date.now)() });
    await engine.start();
    started = engine;
    approvals.start();
    approvalsStop = () => approvals.stop();
    // Export to the configured SIEM sinks; of several workers, one at a time exports each sink.
    if (config.audit.export.sinks.length > 0) {
      exporter = new AuditExporter({ db: database.handle.db, audit: config.audit, logger, metrics });
      exporter.start();
    }
    if (dispatcher !== undefined) {
      notifications = dispatcher;
      dispatcher.start();
    }
    // Signals in: stored and grouped before the answer; an opening incident starts its diagnosis mission.
    const intake = new SignalIntake({
      store: signals,
      audit: auditLog,
      sources: prepareSources(config.intake.sources, process.env),
      incidents: config.incidents,
      logger,
      ...(options.now === undefined ? {} : { now: options.now }),
      startMission: async (incident, idempotencyKey, project) => {
        const plan = planIncidentDiagnosis({
          incidentId: incident.id, incident: incident.state, signals: await signals.signalsOf(incident.id, 1000),
          settings: config.diagnosis, hasTool: (name) => catalog.find(name) !== undefined, now: (options.now ?? Date.now)(),
        });
        // With a triage agent for the project, the diagnosis is that agent's mission and ends with its
        // hand-off; otherwise, with runbooks, it ends by starting the runbook's remediation mission.
        const route = agentsRuntime?.triageFor(project);
        const last = route !== undefined
          ? [{ id: 'handoff', tool: 'agents.handoff', args: { incidentId: incident.id, diagnosisStep: 'diagnose', to: route.resolution } }]
          : runbooks === undefined ? [] : [{ id: 'dispatch', tool: 'runbooks.dispatch', args: { incidentId: incident.id, diagnosisStep: 'diagnose' } }];
        const { mission } = await engine.create({
          title: `Diagnose ${incident.title}`.slice(0, 200),
          project,
          idempotencyKey,
          labels: { incident: incident.id, ...incident.state.groupLabels },
          context: plan.context,
          steps: [{ id: 'diagnose', tool: 'diagnosis.run', args: { ...plan.run } }, ...last],
        }, route === undefined ? { name: 'interlock-intake', kind: 'service' } : { name: route.triage, kind: 'agent' });
        return mission.id;
      },
    });
    intakeSweep = setInterval(() => void intake.sweep(), config.incidents.sweepIntervalMs);
    intakeSweep.unref();
    metrics.setCollectors({
      countByStage: () => store.countByStage(),
      queueDepth: async () => (await within(READY_CHECK_MS, () => engine.health())).queueDepth,
    });
    // Interlock's own MCP endpoint (/mcp): the same catalog, gates and audit as every other caller.
    const mcpServer = config.mcp.server;
    // Where the API listens, known once it does (server.port may be 0).
    const listening: { port?: number; url?: string } = {};
    const publicUrl = (): string => mcpServer.publicUrl ?? listening.url ?? `http://${config.server.host}:${config.server.port}`;
    const allowedHosts = (): readonly string[] => mcpServer.allowedHosts ?? defaultAllowedHosts({ host: config.server.host, port: listening.port ?? config.server.port, ...(mcpServer.publicUrl === undefined ? {} : { publicUrl: mcpServer.publicUrl }) });
    // API tokens, and JWTs from the configured OAuth authorization server, name the same principals.
    const authenticator = combineAuthenticators(identity, config.auth.jwt === undefined ? undefined : createJwtAuthenticator(config.auth.jwt, identity));
    const app = await buildApp({
      missions: engine,
      authenticator,
      agents: { trackRecord: new PgTrackRecordStore(database.handle.db), ...(agentsRuntime === undefined ? {} : { agents: () => agentsRuntime.agents() }), ...(options.now === undefined ? {} : { now: options.now }) },
      ...(mcpGateway === undefined ? {} : { mcpGateway }),
      oauthMetadata: {
        ...(mcpServer.publicUrl === undefined ? {} : { publicUrl: mcpServer.publicUrl }),
        authorizationServers: config.auth.authorizationServers,
        ...(config.auth.jwt?.requiredScopes === undefined ? {} : { scopesSupported: config.auth.jwt.requiredScopes }),
      },
      ...(mcpServer.enabled ? {
        mcp: {
          deps: {
            catalog, missions: engine, approvals, auditReader: audit, audit: audit.log, incidents: signals,
            ...(config.runbooks.dir === undefined ? {} : { runbooksDir: config.runbooks.dir }),
            ...(config.policy.dir === undefined ? {} : { policiesDir: config.policy.dir }),
            publicUrl, callWaitMs: mcpServer.callWaitMs, version: VERSION, ...(options.now === undefined ? {} : { now: options.now }),
          },
          hostPolicy: () => ({ allowedHosts: allowedHosts(), allowedOrigins: mcpServer.allowedOrigins }),
          rateLimiter: createRateLimiter({ capacity: mcpServer.rateLimit.capacity, refillPerSecond: mcpServer.rateLimit.refillPerSecond }),
          ...(mcpServer.publicUrl === undefined ? {} : { publicUrl: mcpServer.publicUrl }),
          onEndpoint: (endpoint) => { mcpEndpoint = endpoint; },
        },
      } : {}),
      approvals,
      audit,
      signals: { intake, store: signals, missions: engine, maxInFlight: config.intake.maxInFlight, retryAfterSeconds: config.intake.retryAfterSeconds },
      tickets,
      governance: { killSwitches: engine, policy },
      catalog,
      metrics,
      logger,
      version: VERSION,
      bodyLimitBytes: config.server.bodyLimitBytes,
      async ready() {
        // Each check is time-boxed: while PostgreSQL is away, DBOS retries its queries indefinitely,
        // and a probe that hangs is worse than one that says "not ready".
        const [engineCheck, databaseCheck] = await Promise.all([
          check(READY_CHECK_MS, async () => {
            const health = await engine.health();
            if (!health.ready) throw new Error(health.reason ?? 'not ready');
            return `worker ${health.workerId}, ${health.queueDepth} mission(s) queued`;
          }),
          check(READY_CHECK_MS, async () => {
            await database.handle.db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
            return database.embedded ? 'embedded PostgreSQL reachable' : 'PostgreSQL reachable';
          }),
        ]);
        return { ready: engineCheck.ok && databaseCheck.ok, checks: { engine: engineCheck, database: databaseCheck } };
      },
    });
    const address = await app.listen({ host: config.server.host, port: config.server.port });
    const bound = app.server.address();
    Object.assign(listening, { port: typeof bound === 'object' && bound !== null ? bound.port : config.server.port, url: address });
    logger.info({ url: address, workerId }, 'Interlock is serving');
    let stopped = false;
    return {
      url: address,
      engine,
      approvals,
      identity,
      audit,
      tickets,
      ...(mcpGateway === undefined ? {} : { mcpGateway }),
      ...(agentsRuntime === undefined ? {} : { agents: agentsRuntime }),
      app,
      database,
      metrics,
      policy,
      workerId,
      async stop() {
        if (stopped) return;
        stopped = true;
        policy.close();
        await app.close();
        clearInterval(intakeSweep);
        await approvals.stop();
        await audit.stop();
        await exporter?.stop();
        await notifications?.stop();
        await engine.stop();
        await mcpGateway?.stop();
        if (options.database === undefined) await database.close();
      },
    };
  } catch (error) {
    clearInterval(intakeSweep);
    await approvalsStop?.();
    await auditStop?.();
    await exporter?.stop();
    await notifications?.stop();
    await started?.stop().catch((stopError: unknown) => logger.warn({ err: stopError }, 'engine did not stop cleanly after a failed start'));
    await mcpGateway?.stop();
    if (options.database === undefined) await database.close();
    throw error;
  }
}

/** How long one readiness check may take before it counts as failed, ms. */
const READY_CHECK_MS = 2000;

/** Runs `probe` with a time limit; rejects with "no answer within N ms" when it takes longer. */
async function within<T>(timeoutMs: number, probe: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([probe(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One readiness check with a time limit; a failure or a timeout is `ok: false` with the reason. */
async function check(timeoutMs: number, probe: () => Promise<string>): Promise<{ ok: boolean; detail: string }> {
  try {
    return { ok: true, detail: await within(timeoutMs, probe) };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

function metricsObserver(metrics: InterlockMetrics): EngineObserver {
  return {
    stageTransition: (_id, to) => metrics.stageTransition(to),
    stepFinished: (_id, step) => metrics.observeStep(step.tool, step.status === 'succeeded' ? 'succeeded' : step.status === 'unknown' ? 'unknown' : 'failed', step.seconds),
    missionFinished: (_id, outcome) => metrics.missionFinished(outcome),
  };
}

function combineObservers(...observers: EngineObserver[]): EngineObserver {
  return {
    stageTransition: (id, to) => { for (const o of observers) o.stageTransition?.(id, to); },
    stepFinished: (id, step) => { for (const o of observers) o.stepFinished?.(id, step); },
    missionFinished: (id, outcome) => { for (const o of observers) o.missionFinished?.(id, outcome); },
    notify: (id, message) => { for (const o of observers) o.notify?.(id, message); },
    afterStep: async (id, stepId, phase) => { for (const o of observers) await o.afterStep?.(id, stepId, phase); },
  };
}

/**
 * `interlock serve`: starts Interlock and resolves after a clean shutdown on SIGINT or SIGTERM.
 * @throws as {@link startInterlock}
 */
export async function serve(config: InterlockConfig): Promise<void> {
  const logger = createLogger(config);
  const running = await startInterlock({ config, logger });
  // SIGHUP reloads the policy set; an invalid set is rejected (and logged) and the old one stays.
  process.on('SIGHUP', () => void running.policy.reload('sighup').catch((error: unknown) => logger.error({ err: error }, 'policy reload on SIGHUP failed; the set in force stays')));
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
      resolve();
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
  process.removeAllListeners('SIGHUP');
  await running.stop();
}

/**
 * `interlock db migrate`: brings the schema to the latest version and stops.
 * @throws `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`
 */
export async function migrate(config: InterlockConfig): Promise<{ applied: readonly string[]; current: string | null }> {
  const logger = createLogger({ ...config, log: { level: 'warn' } });
  const database = await openDatabase(config, logger);
  await database.close();
  return { applied: database.migrated.applied, current: database.migrated.current === '' ? null : database.migrated.current };
}

/**
 * Opens the database (migrating it first, so the first admin can be created on a fresh install) and
 * returns the identity store on it, for `interlock principals ...` and `interlock tokens ...`;
 * `close()` closes the database (and stops an embedded server this call started). With the embedded
 * PostgreSQL, no `interlock serve` may be running on the same data directory.
 * @throws `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`
 */
export async function openIdentity(config: InterlockConfig): Promise<IdentityStore & { close(): Promise<void> }> {
  const database = await openDatabase(config, createLogger({ ...config, log: { level: 'warn' } }));
  const store = new PgIdentityStore(database.handle.db);
  return {
    createPrincipal: (principal, now) => store.createPrincipal(principal, now),
    findPrincipal: (name) => store.findPrincipal(name),
    listPrincipals: () => store.listPrincipals(),
    createToken: (input, now) => store.createToken(input, now),
    revokeToken: (id, now) => store.revokeToken(id, now),
    listTokens: (filter) => store.listTokens(filter),
    authenticate: (token, now) => store.authenticate(token, now),
    close: () => database.close(),
  };
}

/** One check of `interlock doctor`. */
interface Check {
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
}

/**
 * `interlock doctor`: checks the configuration, the data directory, the database and its schema,
 * the tool catalog and the connectors, and reports each check; never throws for a failed check.
 */
export async function doctor(config: InterlockConfig): Promise<{ ok: boolean; checks: Check[] }> {
  const checks: Check[] = [{ name: 'configuration', status: 'ok', detail: 'loaded and valid' }];
  try {
    await mkdir(config.dataDir, { recursive: true });
    await access(config.dataDir, constants.W_OK);
    checks.push({ name: 'data directory', status: 'ok', detail: `${config.dataDir} is writable` });
  } catch (error) {
    checks.push({ name: 'data directory', status: 'fail', detail: `${config.dataDir} is not writable: ${message(error)}` });
  }
  const logger = createLogger({ ...config, log: { level: 'silent' } });
  let database: OpenDatabase | undefined;
  try {
    if (config.database.url !== undefined) await checkConnection(config.database.url, 5000);
    database = await openDatabase(config, logger, { migrate: false });
    checks.push({ name: 'database', status: 'ok', detail: database.embedded ? 'embedded PostgreSQL started' : 'reachable' });
    const status = await migrationStatus(database.handle.db);
    const pending = status.filter((m) => m.appliedAt === null);
    checks.push({ name: 'migrations', status: pending.length === 0 ? 'ok' : 'fail', detail: pending.length === 0 ? `schema current (${status.at(-1)?.name ?? 'none'})` : `pending: ${pending.map((m) => m.name).join(', ')}` });
  } catch (error) {
    checks.push({ name: 'database', status: 'fail', detail: message(error) });
  } finally {
    await database?.close();
  }
  try {
    const catalog = new ToolCatalog(connectorTools(config));
    catalog.check();
    checks.push({ name: 'connectors', status: 'ok', detail: `${catalog.list().length} tool(s): ${catalog.list().map((t) => t.name).join(', ') || 'none'}` });
  } catch (error) {
    checks.push({ name: 'connectors', status: 'fail', detail: message(error) });
  }
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

function message(error: unknown): string {
  if (isInterlockError(error)) return error.message;
  if (error instanceof Error) return error.message;
  return new InternalError(String(error)).message;
}

/**
 * Opens the database (migrating it first) and returns the audit service on it for
 * `interlock audit ...`; `close()` closes the database. With the embedded PostgreSQL, no
 * `interlock serve` may be running on the same data directory.
 *
 * @throws `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`
 */
export async function openAudit(config: InterlockConfig): Promise<AuditService & { close(): Promise<void> }> {
  const database = await openDatabase(config, createLogger({ ...config, log: { level: 'warn' } }, 'stderr'));
  const service = new AuditService(new PgAuditLog(database.handle.db), config.audit);
  return Object.assign(service, { close: () => database.close() });
}

/**
 * `interlock audit export`: opens the database (migrating it first) and runs the configured audit
 * export sinks until each has caught up with the log as it was at the start (`exportAuditLog`), then
 * closes it. Can run next to `interlock serve` on a shared database (the sinks' cursors are locked per
 * delivery), not next to one on the same embedded PostgreSQL data directory.
 *
 * @throws `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`; `INPUT_INVALID` for a bad `from`
 */
export async function exportAudit(config: InterlockConfig, options: AuditExportRunOptions): Promise<AuditExportReport> {
  const database = await openDatabase(config, createLogger({ ...config, log: { level: 'warn' } }, 'stderr'));
  try {
    return await exportAuditLog(database.handle.db, config.audit, options);
  } finally {
    await database.close();
  }
}
