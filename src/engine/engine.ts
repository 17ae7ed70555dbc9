import { randomUUID } from 'node:crypto';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { InputError, InterlockError, InternalError, type Issue } from '../core/errors.js';
import { MissionRequestSchema, defaultStepId, stepIdempotencyKey, type Mission, type MissionDetail, type MissionRequest, type StepSpec } from '../core/missions/mission.js';
import type { ApprovalRequirement, PolicyEvaluator } from '../core/policy/policy.js';
import type { MissionEndSink } from '../core/tickets/ports.js';
import type { ApprovalGate, AuditLog, EngineHealth, GuardStore, MissionFilter, MissionService, MissionStore, PlannedStep, WorkerRegistry } from '../core/ports.js';
import type { KillSwitch } from '../core/guards/kill-switch.js';
import { isKillSwitchScope } from '../core/guards/kill-switch.js';
import type { GuardSettings } from './guard-check.js';
import type { AutonomySettings } from './review-round.js';
import type { ToolCatalog } from '../core/tools/catalog.js';
import { RISK_CLASSES, type RiskClass } from '../core/tools/tool.js';
import { toIssues } from '../core/validation.js';
import { CONTROL_TOPIC, MISSION_WORKFLOW_NAME, missionWorkflow, setWorkflowRuntime, type ControlMessage, type EngineObserver } from './mission-workflow.js';

/** The DBOS queue missions are enqueued on; every worker listens to it. */
export const MISSION_QUEUE = 'interlock.missions';

/** Schema DBOS keeps its workflow state in, in the same database as Interlock's own tables. */
export const DURABLE_STATE_SCHEMA = 'dbos';

/**
 * Creates or migrates DBOS's own tables (schema `dbos`) without launching DBOS. Callers serialise it
 * across processes (an advisory lock): DBOS's migrations are not safe to run concurrently. The engine
 * launches with migrations off and only verifies the schema.
 */
export async function migrateDurableState(databaseUrl: string): Promise<void> {
  await DBOS.migrate(databaseUrl, { schemaName: DURABLE_STATE_SCHEMA });
}

/** The minimal logger the engine writes to (pino's `Logger` fits). */
export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Everything the engine needs; `main.ts` builds the real ones, tests their own. */
export interface MissionEngineOptions {
  /** PostgreSQL URL of the database DBOS keeps its workflow state in (schema `dbos`). */
  readonly databaseUrl: string;
  readonly store: MissionStore;
  readonly workers: WorkerRegistry;
  readonly catalog: ToolCatalog;
  /** Stable ID of this worker; DBOS recovers this worker's workflows under it after a restart. */
  readonly workerId: string;
  /** Pinned application version of the mission workflow (docs/architecture.md, "Versioning"). */
  readonly workflowVersion: string;
  /** Interlock's own version, for the worker registry. */
  readonly version: string;
  /** Missions this worker runs at once. */
  readonly concurrency: number;
  /** Heartbeat interval, ms. */
  readonly heartbeatMs: number;
  /** A peer silent this long is declared dead and its missions taken over, ms. */
  readonly leaseMs: number;
  /** How long a mission waits for a review decision, ms. */
  readonly approvalTimeoutMs: number;
  /** How often to re-enqueue missions whose workflow was never started, ms. */
  readonly reconcileIntervalMs: number;
  /** The policy set in force; called once per review round, so a reload applies to the next round. */
  readonly policy: () => PolicyEvaluator;
  /** The approvals module; without it, review decisions arrive through {@link MissionEngine.deliverReview} alone. */
  readonly approvals?: ApprovalGate;
  readonly guards: GuardStore;
  /** The audit log: what missions do is appended to it before it is done (fail closed). */
  readonly audit: AuditLog;
  /** Where finished missions are recorded (the ticket of their incident); none: no tickets. */
  readonly missionEnd?: MissionEndSink;
  readonly guardSettings: GuardSettings;
  readonly autonomy: AutonomySettings;
  /** Projects whose missions run in shadow mode. @default [] */
  readonly shadowProjects?: readonly string[];
  /** Approval requirement when policy gives none. @default quorum 1, any approver, approvalTimeoutMs */
  readonly defaultApproval?: ApprovalRequirement;
  /** How often a mission parked by a kill switch re-checks it, ms. @default 5000 */
  readonly parkRecheckMs?: number;
  readonly logger: EngineLogger;
  readonly observer?: EngineObserver;
  /** Called when peers declared this worker dead; must end the process. */
  readonly onFenced: () => never;
  /** True for store errors worth retrying (lost connection, server restarting). */
  readonly isTransient: (error: unknown) => boolean;
  readonly hostname: string;
  readonly pid: number;
  /** Clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * The tool set of a defined agent (docs/agents.md): for a mission whose agent is one, whether it
   * may use `tool`; undefined for any other agent (an outside AI client: RBAC and policy govern it).
   * A mission of a defined agent naming a tool outside its set is refused (`TOOL_UNAVAILABLE`).
   */
  readonly agentToolSet?: (agent: string) => ((tool: string) => boolean) | undefined;
}

/** The mission engine: a {@link MissionService} plus its lifecycle and the review channel. */
export interface MissionEngine extends MissionService {
  /** Launches DBOS (recovering this worker's missions), registers the queue, starts heartbeats. */
  start(): Promise<void>;
  /** Stops taking work, marks this worker stopped so peers take over its waits, shuts DBOS down. */
  stop(): Promise<void>;
  /**
   * Delivers a review decision to a mission waiting for approval. Identity and quorum checks belong
   * to the approvals module (issue #3) that calls this; the engine only carries the decision.
   */
  deliverReview(missionId: string, review: { approved: boolean; by: string; comment?: string; approvalId?: string }): Promise<void>;
  /**
   * Engages the kill switch of `scope` (`global`, `project:<name>`, `agent:<name>`): no new write step
   * starts in it; running missions park before their next write. Throws `INPUT_INVALID` for a bad scope.
   */
  engageKillSwitch(scope: string, by: string, reason: string): Promise<KillSwitch>;
  /**
   * Releases the kill switch of `scope` and wakes the missions it parked; each reviews its remaining
   * steps again before it writes. Returns undefined when the switch was not engaged.
   */
  releaseKillSwitch(scope: string, by: string): Promise<KillSwitch | undefined>;
  listKillSwitches(): Promise<KillSwitch[]>;
}

let registered: ((missionId: string) => Promise<unknown>) | undefined;

/** Registers the mission workflow with DBOS once per process (DBOS requires it before launch). */
function registeredWorkflow(): (missionId: string) => Promise<unknown> {
  registered ??= DBOS.registerWorkflow(missionWorkflow, { name: MISSION_WORKFLOW_NAME });
  return registered;
}

/** How soon a mission created inside a mission's step is started, ms. */
const DEFERRED_START_MS = 100;

/**
 * Creates the mission engine on DBOS Transact. DBOS is process-global: one engine per process.
 * Missions are DBOS workflows with ID = mission ID, enqueued on {@link MISSION_QUEUE}.
 */
export function createMissionEngine(options: MissionEngineOptions): MissionEngine {
  const now = options.now ?? Date.now;
  const { store, catalog, workers, logger } = options;
  const stopping = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  let ready = false;
  let notReadyReason = 'not started';
  const workflow = registeredWorkflow();

  /** Missions created inside a workflow step, to enqueue from outside it (see `create`). */
  const deferredStarts = new Set<string>();

  async function enqueue(missionId: string): Promise<void> {
    await DBOS.startWorkflow(workflow, { workflowID: missionId, queueName: MISSION_QUEUE })(missionId);
  }

  function requireReady(): void {
    if (!ready) throw new InternalError(`The mission engine is not ready (${notReadyReason}); try again shortly.`, { code: 'ENGINE_NOT_READY' });
  }

  async function getDetail(id: string): Promise<MissionDetail> {
    const mission = await store.getMissionDetail(id);
    if (mission === undefined) throw new InputError('MISSION_NOT_FOUND', `No mission ${id}; list missions with GET /v1/missions.`, [], { details: { id } });
    return mission;
  }

  function plannedSteps(missionId: string, request: MissionRequest): { steps: PlannedStep[]; risk: RiskClass } {
    const issues: Issue[] = [];
    const steps: PlannedStep[] = [];
    let unknownTool = false;
    let unavailableTool = false;
    const mayUse = request.agent === undefined ? undefined : options.agentToolSet?.(request.agent);
    let risk: RiskClass = 'read';
    const field = { context: 'context', plan: 'steps', verification: 'verify' } as const;
    const add = (phase: 'context' | 'plan' | 'verification', list: readonly StepSpec[], idPrefix: string): void => {
      list.forEach((spec, index) => {
        const path = `${field[phase]}.${index}`;
        const checked = catalog.validateArgs(spec.tool, spec.args, path);
        if (!checked.ok) {
          unknownTool ||= catalog.find(spec.tool) === undefined;
          issues.push(...checked.issues);
          return;
        }
        const tool = catalog.get(spec.tool);
        const unavailable = catalog.unavailableIn(tool.name, request.project)
          ?? (mayUse === undefined || mayUse(tool.name) ? undefined : `${tool.name} is not in agent ${request.agent ?? ''}'s tool set (agents.dir)`);
        if (unavailable !== undefined) {
          unavailableTool = true;
          issues.push({ path: `${path}.tool`, message: `tool unavailable: ${unavailable}`, expected: `a tool the catalog offers to project ${request.project}`, received: JSON.stringify(spec.tool) });
          return;
        }
        if (phase !== 'plan' && tool.risk !== 'read') {
          issues.push({ path: `${path}.tool`, message: phase === 'context' ? 'evidence queries must use read tools' : 'verifications must use read tools', expected: 'a tool of risk class read', received: tool.risk });
          return;
        }
        if (phase === 'plan' && RISK_CLASSES.indexOf(tool.risk) > RISK_CLASSES.indexOf(risk)) risk = tool.risk;
        const stepId = spec.id ?? (phase === 'plan' ? defaultStepId(index) : `${idPrefix}${index + 1}`);
        steps.push({ stepId, phase, index, tool: tool.name, args: checked.args as Record<string, unknown>, risk: tool.risk, idempotencyKey: stepIdempotencyKey(missionId, stepId) });
      });
    };
    add('context', request.context, 'c');
    add('plan', request.steps, 's');
    add('verification', request.verify, 'v');
    const ids = new Set<string>();
    for (const step of steps) {
      if (ids.has(step.stepId)) issues.push({ path: `${field[step.phase as keyof typeof field]}.${step.index}.id`, message: `duplicate step ID "${step.stepId}"` });
      ids.add(step.stepId);
    }
    if (issues.length > 0) {
      throw new InputError(unknownTool ? 'TOOL_UNKNOWN' : unavailableTool ? 'TOOL_UNAVAILABLE' : 'TOOL_ARGS_INVALID', `The mission request has ${issues.length} problem(s): ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    return { steps, risk };
  }

  async function send(missionId: string, message: ControlMessage): Promise<void> {
    await DBOS.send(missionId, message, CONTROL_TOPIC);
  }

  async function takeOver(): Promise<void> {
    const claimed = await workers.claimExpired(options.workerId, options.leaseMs, now());
    for (const dead of claimed) {
      const pending = await DBOS.listWorkflows({ status: 'PENDING', executorId: dead, workflowName: MISSION_WORKFLOW_NAME, loadInput: false, loadOutput: false });
      const ids = pending.map((w) => w.workflowID);
      if (ids.length > 0) await DBOS.resumeWorkflows(ids, { queueName: MISSION_QUEUE });
      logger.warn({ dead, missions: ids.length }, `worker ${dead} is gone; took over ${ids.length} mission(s)`);
    }
  }

  async function reconcile(): Promise<void> {
    for (const id of await store.listUnstarted(options.reconcileIntervalMs, now())) {
      if ((await DBOS.getWorkflowStatus(id)) === null) {
        logger.warn({ missionId: id }, 'mission was stored but its workflow never started; enqueuing it');
        await enqueue(id);
      }
    }
  }

  function every(ms: number, name: string, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || stopping.signal.aborted) return;
      running = true;
      task().catch((error: unknown) => logger.warn({ err: error }, `${name} failed; will retry`)).finally(() => { running = false; });
    }, ms);
    timer.unref();
    timers.push(timer);
  }

  return {
    async start() {
      setWorkflowRuntime({
        store, workers, catalog, workerId: options.workerId, policy: options.policy, approvals: options.approvals,
        guards: options.guards, audit: options.audit, guardSettings: options.guardSettings, autonomy: options.autonomy, shadowProjects: options.shadowProjects ?? [],
        defaultApproval: options.defaultApproval ?? { quorum: 1, groups: [], expiresInMs: options.approvalTimeoutMs },
        parkRecheckMs: options.parkRecheckMs ?? 5000,
        approvalTimeoutMs: options.approvalTimeoutMs, observer: options.observer ?? {}, now,
        fenced: () => options.onFenced(), signal: stopping.signal, isTransient: options.isTransient, missionEnd: options.missionEnd,
      });
      await workers.register({ id: options.workerId, host: options.hostname, pid: options.pid, version: options.version, startedAt: now() }, now());
      DBOS.setConfig({
        name: 'interlock',
        systemDatabaseUrl: options.databaseUrl,
        systemDatabaseSchemaName: DURABLE_STATE_SCHEMA,
        runMigrations: false,
        applicationVersion: options.workflowVersion,
        executorID: options.workerId,
        logger: dbosLogger(logger),
      });
      notReadyReason = 'launching DBOS';
      await DBOS.launch();
      await DBOS.registerQueue(MISSION_QUEUE, { workerConcurrency: options.concurrency, minPollingIntervalMs: 100, onConflict: 'always_update' });
      // Take over peers only after this worker has itself heartbeated without a gap for a whole lease:
      // after a database outage every heartbeat is stale, and the first worker back must not declare
      // the others dead before they had the same chance to renew theirs.
      let healthySince = now();
      every(options.heartbeatMs, 'heartbeat', async () => {
        let alive: boolean;
        try {
          alive = await workers.heartbeat(options.workerId, now());
        } catch (error) {
          healthySince = Number.POSITIVE_INFINITY;
          throw error;
        }
        if (!alive) options.onFenced();
        if (healthySince === Number.POSITIVE_INFINITY) healthySince = now();
        if (now() - healthySince >= options.leaseMs) await takeOver();
      });
      every(options.reconcileIntervalMs, 'reconcile', reconcile);
      every(DEFERRED_START_MS, 'deferred start', async () => {
        for (const id of [...deferredStarts]) {
          await enqueue(id);
          deferredStarts.delete(id);
        }
      });
      ready = true;
      logger.info({ workerId: options.workerId, workflowVersion: options.workflowVersion }, 'mission engine started');
    },

    async stop() {
      if (stopping.signal.aborted) return;
      ready = false;
      notReadyReason = 'stopping';
      stopping.abort();
      for (const timer of timers) clearInterval(timer);
      await DBOS.shutdown();
      await workers.markStopped(options.workerId, now()).catch((error: unknown) => logger.warn({ err: error }, 'could not mark this worker stopped'));
      setWorkflowRuntime(undefined);
    },

    async create(body, caller) {
      requireReady();
      const parsed = MissionRequestSchema.safeParse(body);
      if (!parsed.success) {
        const issues = toIssues(parsed.error);
        throw new InputError('INPUT_INVALID', `The mission request has ${issues.length} problem(s): ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
      }
      const { agent: _claimed, ...rest } = parsed.data;
      const request: MissionRequest = caller === undefined
        ? parsed.data
        : { ...rest, requester: caller.name, ...(caller.kind === 'agent' ? { agent: caller.name } : {}) };
      const id = randomUUID();
      const { steps, risk } = plannedSteps(id, request);
      const at = now();
      // The request is on the record before the mission exists; without the record there is no mission.
      await options.audit.append([{ schemaVersion: 1, kind: 'plan.proposed', actor: request.requester, missionId: id, at, data: { request, risk } }]).catch((error: unknown) => {
        throw new InterlockError('AUDIT_UNAVAILABLE', 'The audit log could not record this mission request, so it was not accepted; try again shortly.', { cause: error });
      });
      const { mission, created } = await store.createMission({
        id, request, steps, risk, workflowVersion: options.workflowVersion, at, reason: `requested by ${request.requester}: ${request.title}`,
      });
      // Idempotent in DBOS: enqueuing the same workflow ID twice returns the existing workflow. A
      // mission requested from inside a mission's step (runbooks.dispatch) is started just after,
      // outside it: DBOS does not start workflows from steps. Lost in a crash, it is found by the
      // reconciler like any mission stored without its workflow.
      if (mission.outcome === null) {
        if (DBOS.isWithinWorkflow()) deferredStarts.add(mission.id);
        else await enqueue(mission.id);
      }
      return { mission: await getDetail(mission.id), created };
    },

    get: getDetail,

    async list(filter: MissionFilter): Promise<Mission[]> {
      return store.listMissions(filter);
    },

    async cancel(id, caller) {
      requireReady();
      const mission = await getDetail(id);
      if (mission.outcome !== null) {
        throw new InputError('MISSION_ALREADY_FINISHED', `Mission ${id} already ended ${mission.outcome}; nothing to cancel.`, [], { details: { id, outcome: mission.outcome } });
      }
      await store.requestCancel(id, now());
      await send(id, { type: 'cancel', by: caller?.name ?? 'api' });
      return getDetail(id);
    },

    async health(): Promise<EngineHealth> {
      const queued = ready ? await DBOS.listQueuedWorkflows({ queueName: MISSION_QUEUE, status: 'ENQUEUED', loadInput: false, loadOutput: false }) : [];
      return { ready, workerId: options.workerId, workflowVersion: options.workflowVersion, queueDepth: queued.length, ...(ready ? {} : { reason: notReadyReason }) };
    },

    async deliverReview(missionId, review) {
      requireReady();
      const mission = await getDetail(missionId);
      if (mission.outcome !== null) throw new InputError('MISSION_ALREADY_FINISHED', `Mission ${missionId} already ended ${mission.outcome}.`, [], { details: { id: missionId } });
      await send(missionId, { type: 'review', ...review });
    },

    async engageKillSwitch(scope, by, reason) {
      if (!isKillSwitchScope(scope)) {
        throw new InputError('INPUT_INVALID', `"${scope}" is not a kill-switch scope; use global, project:<name> or agent:<name>.`, [{ path: 'scope', message: 'not a kill-switch scope', expected: 'global | project:<name> | agent:<name>', received: JSON.stringify(scope) }]);
      }
      const engaged = await options.guards.engageKillSwitch(scope, by, reason, now());
      logger.warn({ scope, by, reason }, 'kill switch engaged');
      // Stopping writes must never wait for the audit log; the record follows, and a failure is loud.
      await options.audit.append([{ schemaVersion: 1, kind: 'kill_switch.changed', actor: by, missionId: null, at: now(), data: { scope, engaged: true, reason } }])
        .catch((error: unknown) => logger.error({ err: error, scope }, 'the kill switch is engaged but the audit log could not record it'));
      return engaged;
    },

    async releaseKillSwitch(scope, by) {
      // Letting writes run again is recorded first: without the record, the switch stays engaged.
      await options.audit.append([{ schemaVersion: 1, kind: 'kill_switch.changed', actor: by, missionId: null, at: now(), data: { scope, engaged: false } }]);
      const released = await options.guards.releaseKillSwitch(scope, by, now());
      if (released === undefined) return undefined;
      logger.warn({ scope, by }, 'kill switch released');
      for (const mission of await store.listMissions({ running: true, limit: 1000 })) {
        if (mission.waitingFor === 'kill_switch') await send(mission.id, { type: 'resume', by });
      }
      return released;
    },

    listKillSwitches: () => options.guards.listKillSwitches(),
  };
}

/** Routes DBOS's internal log lines into Interlock's logger, tagged `component: dbos`. */
function dbosLogger(logger: EngineLogger): { info(e: unknown): void; debug(e: unknown): void; warn(e: unknown): void; error(e: unknown): void } {
  const line = (entry: unknown): { msg: string; obj: object } =>
    entry instanceof Error ? { msg: entry.message, obj: { component: 'dbos', err: entry } } : { msg: typeof entry === 'string' ? entry : JSON.stringify(entry), obj: { component: 'dbos' } };
  return {
    info: (e) => { const l = line(e); logger.debug(l.obj, l.msg); },
    debug: (e) => { const l = line(e); logger.debug(l.obj, l.msg); },
    warn: (e) => { const l = line(e); logger.warn(l.obj, l.msg); },
    error: (e) => { const l = line(e); logger.error(l.obj, l.msg); },
  };
}
