import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import type { AnyToolContract, ProbeResult, RiskClass, ToolContract, VerificationProbe } from '../../core/tools/tool.js';
import { requireHttpSecrets } from '../shared/http-config.js';
import { createSupervisorClient, type ProcessInfo, type SupervisorClient } from './supervisor-client.js';
import { processId, type SupervisorConfig, type SupervisorProcess } from './supervisor-config.js';

/** supervisord states in which a process runs or is about to (its `RUNNING_STATES`). */
const RUNNING_STATES = new Set(['RUNNING', 'STARTING', 'BACKOFF']);
/** States of a process with nothing running and nothing in progress. */
const STOPPED_STATES = new Set(['STOPPED', 'EXITED', 'FATAL']);

/** Restart records kept for probes, at most this many (oldest dropped). */
const MAX_RESTART_RECORDS = 1000;

/** One process as the tools report it: supervisord's facts in ms and null where they do not apply. */
const ProcessStatus = z.object({
  process: z.string().describe('The process as the tools name it: name, or group:name.'),
  name: z.string(),
  group: z.string(),
  state: z.string().describe('supervisord state name: STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL or UNKNOWN.'),
  pid: z.int().nullable().describe('Process ID while it runs, else null.'),
  startedAt: z.int().nullable().describe('When it was last started, ms since the Unix epoch (supervisord keeps whole seconds); null if never.'),
  uptimeMs: z.int().nullable().describe('How long it has been running, ms (whole seconds); null unless RUNNING.'),
  exitStatus: z.int().nullable().describe('Exit status of the last run, when it is not running and has run; else null.'),
  spawnError: z.string().nullable().describe('Why the last start failed, when it did.'),
  description: z.string().describe("supervisord's one-line description, e.g. 'pid 4242, uptime 0:01:02'."),
});
type ProcessStatus = z.output<typeof ProcessStatus>;

const StatusOutput = z.object({
  processes: z.array(ProcessStatus),
  missing: z.array(z.string()).describe('Configured processes supervisord does not know (check its configuration).'),
  observedAt: z.int().describe("supervisord's clock when it answered, ms since the Unix epoch."),
});

const WriteOutput = z.object({
  process: z.string(),
  changed: z.boolean().describe('False when the process already was in the asked state (or a compensation had nothing to undo).'),
  previous: ProcessStatus.describe('The process before the call.'),
  current: ProcessStatus.describe('The process right after the call.'),
});
type WriteOutput = z.output<typeof WriteOutput>;

/** What a restart left behind for its probe: when it was sent and what ran before. */
interface RestartRecord {
  readonly sentAt: number;
  readonly before: ProcessInfo;
}

/** Options of {@link createSupervisorConnector}. */
export interface SupervisorConnectorOptions {
  /** The clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

/**
 * The supervisor connector: observe, start, stop and restart the processes of one supervisord over its
 * XML-RPC interface, limited to the processes `config.processes` lists (any other is refused by the
 * input schema, naming the `process` field, before any request).
 *
 * - `supervisor.status` (read): one process or all configured ones.
 * - `supervisor.start` / `supervisor.stop`: idempotent by state (starting a RUNNING process or stopping a
 *   stopped one succeeds with `changed: false`); each is the other's compensation, and a compensation of
 *   a call that changed nothing does nothing.
 * - `supervisor.restart`: stop then start; not idempotent, no compensation (a restart cannot be undone),
 *   a probe that compares the process' start time and pid with the call's.
 *
 * Writes have risk `write-prod` when any configured process has `risk: write-prod`, else `write-low`;
 * `target` carries the process' service, tier and its own risk as the label `risk`. Verification
 * re-observes the process until it has held the expected state with the same pid for `verifyWindowMs`.
 *
 * @throws ConfigError `CONFIG_INVALID` when `basicAuth.passwordEnv` names an unset variable.
 * @see http://supervisord.org/api.html
 */
export function createSupervisorConnector(config: SupervisorConfig, options: SupervisorConnectorOptions = {}): AnyToolContract[] {
  const client: SupervisorClient = createSupervisorClient({ url: config.url, timeoutMs: config.timeoutMs, headers: requireHttpSecrets('connectors.supervisor', config) });
  const now = options.now ?? Date.now;
  const byId = new Map<string, SupervisorProcess>(config.processes.map((p) => [processId(p), p]));
  const ids = [...byId.keys()];
  const listed = `a process listed in connectors.supervisor.processes (${ids.join(', ') || 'none'})`;
  const ProcessName = (ids.length === 0 ? z.string().refine(() => false, { error: listed }) : z.enum(ids as [string, ...string[]], { error: listed }))
    .describe('The process: its name, or group:name when its group has another name.');
  const writeRisk: RiskClass = config.processes.some((p) => p.risk === 'write-prod') ? 'write-prod' : 'write-low';
  const restarts = new Map<string, RestartRecord>();

  const StatusInput = z.object({ process: ProcessName.optional().describe('One process; all configured processes when left out.') }).strict();
  const Compensates = z.object({
    tool: z.string().describe('The tool whose call this one undoes.'),
    changed: z.boolean().describe("That call's `changed`: when false there is nothing to undo and this call does nothing."),
  }).strict();
  const WriteInput = z.object({
    process: ProcessName,
    compensates: Compensates.optional().describe('Set by a compensation: the call this one undoes.'),
  }).strict();
  const RestartInput = z.object({ process: ProcessName }).strict();
  type WriteArgs = z.output<typeof WriteInput>;

  const namespec = (id: string): string => {
    const process = byId.get(id);
    if (process === undefined) throw new ConnectorError('TOOL_FAILED', `${id} is not ${listed}.`, { system: 'supervisor', retryable: false });
    return `${process.group ?? process.name}:${process.name}`;
  };
  const target = (args: { process?: string | undefined }): { service?: string | null; tier?: string | null; labels: Record<string, string> } => {
    const process = args.process === undefined ? undefined : byId.get(args.process);
    if (process === undefined) return { labels: { system: 'supervisor' } };
    return {
      service: process.service ?? null,
      tier: process.tier ?? null,
      labels: { system: 'supervisor', process: processId(process), group: process.group ?? process.name, risk: process.risk },
    };
  };
  const info = (id: string, signal: AbortSignal): Promise<ProcessInfo> => client.getProcessInfo(namespec(id), signal).catch((error: unknown) => {
    throw badName(error, id);
  });
  const observe = async (args: { process: string }, signal: AbortSignal): Promise<Record<string, unknown>> => {
    const status = toStatus(args.process, await info(args.process, signal));
    return { state: status.state, pid: status.pid, startedAt: status.startedAt, uptimeMs: status.uptimeMs };
  };
  const verification = (expect: string, ok: (status: ProcessStatus, result: WriteOutput) => boolean): VerificationProbe<{ process: string }, WriteOutput> => ({
    windowMs: config.verifyWindowMs,
    intervalMs: Math.min(1000, Math.max(100, Math.floor(config.verifyWindowMs / 5))),
    timeoutMs: config.verifyWindowMs + 10_000,
    async check(call, result, signal) {
      const status = toStatus(call.args.process, await info(call.args.process, signal));
      const passed = ok(status, result);
      return { ok: passed, observed: `${call.args.process} is ${describe(status)}${passed ? '' : `; expected ${expect}`}` };
    },
  });

  const status: ToolContract<z.output<typeof StatusInput>, z.output<typeof StatusOutput>> = {
    name: 'supervisor.status',
    description: 'Reads the state of one supervisord process, or of all configured ones: state, pid, start time, uptime, exit status.',
    input: StatusInput,
    output: StatusOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs: config.timeoutMs + 1000,
    permission: 'supervisor:read',
    retry: { maxAttempts: 3, intervalMs: 200, backoffRate: 2 },
    target,
    async execute(args, context) {
      if (args.process !== undefined) {
        const found = await info(args.process, context.signal);
        return { processes: [toStatus(args.process, found)], missing: [], observedAt: found.now * 1000 };
      }
      const all = await client.getAllProcessInfo(context.signal);
      const processes: ProcessStatus[] = [];
      const missing: string[] = [];
      for (const [id, process] of byId) {
        const found = all.find((p) => p.name === process.name && p.group === (process.group ?? process.name));
        if (found === undefined) missing.push(id);
        else processes.push(toStatus(id, found));
      }
      return { processes, missing, observedAt: (all[0]?.now ?? Math.floor(now() / 1000)) * 1000 };
    },
  };

  /** Runs `act` unless the process is already where it should be; `idle` is the fault that says so. */
  const transition = async (args: WriteArgs, signal: AbortSignal, done: (state: string) => boolean, idle: string, act: (spec: string) => Promise<void>): Promise<WriteOutput> => {
    const before = toStatus(args.process, await info(args.process, signal));
    if (args.compensates?.changed === false || done(before.state)) return { process: args.process, changed: false, previous: before, current: before };
    let changed = true;
    try {
      await act(namespec(args.process));
    } catch (error) {
      if (!(error instanceof ConnectorError && error.systemStatus === idle)) throw badName(error, args.process);
      changed = false; // someone else got there between our read and our call
    }
    return { process: args.process, changed, previous: before, current: toStatus(args.process, await info(args.process, signal)) };
  };

  const start: ToolContract<WriteArgs, WriteOutput> = {
    name: 'supervisor.start',
    description: 'Starts a supervisord process and waits until it is RUNNING; a process already running (or starting) is left alone.',
    input: WriteInput,
    output: WriteOutput,
    risk: writeRisk,
    idempotent: true,
    timeoutMs: config.timeoutMs * 3 + 1000,
    permission: 'supervisor:start',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    observe,
    compensation: { tool: 'supervisor.stop', args: (args, result) => ({ process: args.process, compensates: { tool: 'supervisor.start', changed: result.changed } }) },
    verification: verification('RUNNING with the same pid', (now, result) => now.state === 'RUNNING' && (result.current.pid === null || now.pid === result.current.pid)),
    execute: (args, context) => transition(args, context.signal, (state) => RUNNING_STATES.has(state), 'ALREADY_STARTED', (spec) => client.startProcess(spec, context.signal)),
  };

  const stop: ToolContract<WriteArgs, WriteOutput> = {
    name: 'supervisor.stop',
    description: 'Stops a supervisord process and waits until it has stopped; a process not running is left alone.',
    input: WriteInput,
    output: WriteOutput,
    risk: writeRisk,
    idempotent: true,
    timeoutMs: config.timeoutMs * 3 + 1000,
    permission: 'supervisor:stop',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    observe,
    compensation: { tool: 'supervisor.start', args: (args, result) => ({ process: args.process, compensates: { tool: 'supervisor.stop', changed: result.changed } }) },
    verification: verification('stopped (STOPPED, EXITED or FATAL, no pid)', (now) => STOPPED_STATES.has(now.state) && now.pid === null),
    execute: (args, context) => transition(args, context.signal, (state) => !RUNNING_STATES.has(state), 'NOT_RUNNING', (spec) => client.stopProcess(spec, context.signal)),
  };

  const restart: ToolContract<z.output<typeof RestartInput>, WriteOutput> = {
    name: 'supervisor.restart',
    description: 'Restarts a supervisord process (stop, then start and wait until RUNNING); it cannot be undone, so it has no compensation.',
    input: RestartInput,
    output: WriteOutput,
    risk: writeRisk,
    idempotent: false,
    timeoutMs: config.timeoutMs * 4 + 1000,
    permission: 'supervisor:restart',
    target,
    observe,
    verification: verification('RUNNING with the new pid', (now, result) => now.state === 'RUNNING' && now.pid === result.current.pid && now.pid !== result.previous.pid),
    async probe(call, signal): Promise<ProbeResult<WriteOutput>> {
      const record = restarts.get(call.idempotencyKey);
      if (record === undefined) {
        return { state: 'unknown', reason: `this worker has no record of when restart ${call.idempotencyKey} was sent (it was restarted since); check ${call.args.process}'s start time by hand` };
      }
      const before = toStatus(call.args.process, record.before);
      const current = toStatus(call.args.process, await info(call.args.process, signal));
      const sentSecond = Math.floor(record.sentAt / 1000) * 1000;
      if (current.state === 'RUNNING' && current.pid !== before.pid && current.startedAt !== null && current.startedAt >= sentSecond) {
        return { state: 'applied', result: { process: call.args.process, changed: true, previous: before, current } };
      }
      if (current.state === 'RUNNING' && current.pid === before.pid) return { state: 'not_applied' };
      // Stopped by the call and not started again: running the restart again is safe and finishes it.
      if (STOPPED_STATES.has(current.state) && before.state !== current.state) return { state: 'not_applied' };
      return { state: 'unknown', reason: `${call.args.process} is ${describe(current)}, started ${current.startedAt === null ? 'never' : new Date(current.startedAt).toISOString()}; the restart was sent at ${new Date(record.sentAt).toISOString()}` };
    },
    async execute(args, context) {
      const spec = namespec(args.process);
      const beforeInfo = await info(args.process, context.signal);
      restarts.delete(context.idempotencyKey);
      restarts.set(context.idempotencyKey, { sentAt: now(), before: beforeInfo });
      if (restarts.size > MAX_RESTART_RECORDS) restarts.delete(restarts.keys().next().value!);
      try {
        await client.stopProcess(spec, context.signal);
      } catch (error) {
        if (!(error instanceof ConnectorError && error.systemStatus === 'NOT_RUNNING')) throw badName(error, args.process);
      }
      try {
        await client.startProcess(spec, context.signal);
      } catch (error) {
        if (!(error instanceof ConnectorError && error.systemStatus === 'ALREADY_STARTED')) {
          if (!(error instanceof ConnectorError)) throw error;
          throw new ConnectorError(error.code === 'TOOL_TIMEOUT' ? 'TOOL_TIMEOUT' : 'TOOL_FAILED', `${args.process} was stopped but starting it again failed: ${error.message} It may be down now; check it.`, {
            system: 'supervisor', status: error.systemStatus, retryable: error.retryable, outcomeUnknown: true, cause: error, details: error.details,
          });
        }
      }
      return { process: args.process, changed: true, previous: toStatus(args.process, beforeInfo), current: toStatus(args.process, await info(args.process, context.signal)) };
    },
  };

  return [status, start, stop, restart];
}

/** A supervisord process description as the tools report it. */
function toStatus(id: string, info: ProcessInfo): ProcessStatus {
  const running = info.pid > 0;
  return {
    process: id,
    name: info.name,
    group: info.group,
    state: info.statename,
    pid: running ? info.pid : null,
    startedAt: info.start > 0 ? info.start * 1000 : null,
    uptimeMs: info.statename === 'RUNNING' && info.start > 0 ? Math.max(0, info.now - info.start) * 1000 : null,
    exitStatus: !running && info.stop > 0 && info.start > 0 ? info.exitstatus : null,
    spawnError: info.spawnerr === '' ? null : info.spawnerr,
    description: info.description,
  };
}

function describe(status: ProcessStatus): string {
  return `${status.state}${status.pid === null ? '' : ` (pid ${status.pid})`}`;
}

/** A BAD_NAME fault said in terms of the configuration; other errors unchanged. */
function badName(error: unknown, id: string): unknown {
  if (!(error instanceof ConnectorError) || error.systemStatus !== 'BAD_NAME') return error;
  return new ConnectorError('TOOL_FAILED', `supervisord has no process ${id}, which connectors.supervisor.processes lists; fix the name (and group) there or in supervisord's configuration.`, {
    system: 'supervisor', status: 'BAD_NAME', retryable: false, cause: error, details: error.details,
  });
}
