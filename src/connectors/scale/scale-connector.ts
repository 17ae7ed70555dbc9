import { createKeyedMutex } from '../shared/keyed-mutex.js';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import { RISK_CLASSES, type AnyToolContract, type RiskClass, type ToolContext, type ToolContract, type VerificationProbe } from '../../core/tools/tool.js';
import { createNginxConnector } from '../nginx/nginx-connector.js';
import { parseUpstream, upstreamFileName } from '../nginx/upstream-file.js';
import { createSupervisordAccessClient, namespec, settledInfo } from '../shared/supervisord-access.js';
import type { ProcessInfo, SupervisorClient } from '../supervisor/supervisor-client.js';
import type { ScaleConfig, ScaleService } from './scale-config.js';

const SYSTEM = 'scale';

/** States of a process with nothing running and nothing in progress (supervisord). */
const STOPPED_STATES = new Set(['STOPPED', 'EXITED', 'FATAL']);

const ServerWeight = z.object({ address: z.string(), weight: z.int().min(0).max(100) });

/** What `nginx.set_weights` answered, as the scale tools pass it on (its other keys are kept). */
const UpstreamWrite = z.looseObject({
  upstream: z.string(),
  servers: z.array(ServerWeight),
  sha256: z.string(),
  masterPid: z.int(),
  previousWorkers: z.array(z.int()),
});
type UpstreamWrite = z.output<typeof UpstreamWrite>;

const InstanceStatus = z.object({
  process: z.string().describe('The supervisord process (name, or group:name).'),
  address: z.string().describe('Its server address in the upstream.'),
  state: z.string().describe('supervisord state name: STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL or UNKNOWN.'),
  pid: z.int().nullable(),
  startedAt: z.int().nullable().describe('When it was last started, ms since the Unix epoch (whole seconds); null if never.'),
  weight: z.int().describe('Its weight in the upstream file now, 0 = down (1 when the file does not list it, as nginx defaults).'),
  configuredWeight: z.int().describe('Its weight while in service (configuration).'),
  inService: z.boolean().describe('RUNNING and weight > 0.'),
});
type InstanceStatus = z.output<typeof InstanceStatus>;

const StatusOutput = z.object({
  service: z.string(),
  upstream: z.string(),
  file: z.string().describe('The generated upstream file.'),
  generated: z.boolean().describe('False when Interlock has not written the file yet.'),
  minInstances: z.int(),
  maxInstances: z.int(),
  inService: z.int().describe('Instances in service: RUNNING with weight > 0.'),
  instances: z.array(InstanceStatus),
  nginx: z.object({ running: z.boolean(), masterPid: z.int().nullable(), workers: z.int(), configValid: z.boolean(), configError: z.string().nullable() }),
});

const WriteOutput = z.object({
  service: z.string(),
  instance: z.string().describe('The process of the instance started (out) or stopped (in).'),
  address: z.string(),
  changed: z.boolean().describe('False when the instance already was in (out) or out of (in) service, or a compensation had nothing to undo.'),
  weight: z.int().describe('Its weight in the upstream now: the configured one (out) or 0 (in).'),
  state: z.string().describe('Its process state right after the call.'),
  pid: z.int().nullable().describe('Its pid after the call; null when stopped.'),
  inService: z.int().describe('Instances of the service in service after the call.'),
  upstream: UpstreamWrite.nullable().describe('What nginx.set_weights wrote and reloaded; null when the weight was not touched.'),
});
type WriteOutput = z.output<typeof WriteOutput>;

/** What the first attempt of one idempotency key chose. */
const Journal = z.object({
  service: z.string(),
  instance: z.string(),
  direction: z.enum(['out', 'in']),
  /** Whether the process ran before the call (scale.out stops it again when the upstream cannot be changed). */
  wasRunning: z.boolean(),
});
type Journal = z.output<typeof Journal>;

/** Options of {@link createScaleConnector}. */
export interface ScaleConnectorOptions {
  /** The supervisord client; by default one for `config.supervisor`. */
  readonly supervisor?: SupervisorClient;
}

/**
 * The scale connector: scales configured services out and in, one instance at a time. An instance is a
 * supervisord process serving as one server of the service's nginx upstream; it is **in service** when
 * its process is RUNNING and its upstream weight is > 0. supervisord is driven through the supervisor
 * connector's client; the upstream through the nginx connector's own tools (`nginx.upstream`,
 * `nginx.set_weights`: the generated file `<confDir>/upstream-<name>.conf`, `nginx -t`, SIGHUP, with
 * its rollback, mutex and per-key backups), so there is one implementation of each.
 *
 * - `scale.status` (read): every instance with its process state, weight and whether it is in service.
 * - `scale.out`: starts the first instance not in service (or `instance`), waits until RUNNING, then
 *   sets its configured weight and reloads nginx; refuses beyond `maxInstances`. Compensation
 *   `scale.in` of that instance.
 * - `scale.in`: sets the last instance in service (or `instance`) to `down`, reloads nginx and waits
 *   until nginx runs the new configuration, then stops the process; refuses below `minInstances`.
 *   Compensation `scale.out` of that instance.
 *
 * Both are idempotent by state (the instance already where it should be: `changed: false`) and by
 * idempotency key (the instance the first attempt chose is kept in `<confDir>/.interlock/`). Writes
 * have risk `write-prod` when any service has `risk: write-prod`; `target` carries the service, its
 * tier, the upstream and its own risk. Verification re-observes until it has held for
 * `verifyWindowMs`: the process RUNNING with the same pid (out) or stopped (in), and the upstream file
 * giving it its weight (out) or `down` (in), with nginx running. Calls for one service are serialised.
 *
 * @throws ConfigError `CONFIG_INVALID` when the supervisord password variable is unset.
 * @see docs/connectors/scale.md
 */
export function createScaleConnector(config: ScaleConfig, options: ScaleConnectorOptions = {}): AnyToolContract[] {
  const client = options.supervisor ?? createSupervisordAccessClient('connectors.scale.supervisor', config.supervisor);
  const confDir = resolve(config.nginx.confDir);
  const services = new Map<string, ScaleService>(config.services.map((s) => [s.name, s]));
  const names = [...services.keys()];
  const listed = `a service listed in connectors.scale.services (${names.join(', ') || 'none'})`;
  const ServiceName = (names.length === 0 ? z.string().refine(() => false, { error: listed }) : z.enum(names as [string, ...string[]], { error: listed }))
    .describe('The service: one of connectors.scale.services.');
  const writeRisk: RiskClass = config.services.reduce<RiskClass>((highest, s) => (RISK_CLASSES.indexOf(s.risk) > RISK_CLASSES.indexOf(highest) ? s.risk : highest), 'write-low');

  // The nginx connector's tools on the services' upstreams: the one implementation of writing them.
  const nginxTools = createNginxConnector({
    binary: config.nginx.binary, mainConfig: config.nginx.mainConfig, confDir, pidFile: config.nginx.pidFile, timeoutMs: config.nginx.timeoutMs,
    upstreams: config.services.map((s) => ({
      name: s.upstream, servers: s.instances.map((i) => ({ address: i.address })), service: s.name, risk: s.risk, ...(s.tier === undefined ? {} : { tier: s.tier }),
    })),
  });
  const nginxTool = (name: string): AnyToolContract => {
    const tool = nginxTools.find((t) => t.name === name);
    if (tool === undefined) throw new Error(`the nginx connector has no ${name}`);
    return tool;
  };
  const readUpstream = nginxTool('nginx.upstream');
  const setWeights = nginxTool('nginx.set_weights');

  const StatusInput = z.object({ service: ServiceName }).strict();
  const Compensates = z.object({
    tool: z.enum(['scale.out', 'scale.in']).describe('The tool whose call this one undoes.'),
    changed: z.boolean().describe("That call's `changed`: when false there is nothing to undo and this call does nothing."),
  }).strict();
  const WriteInput = z.object({
    service: ServiceName,
    instance: z.string().min(1).max(401).optional().describe('The instance (its process); unset: scale.out takes the first not in service, scale.in the last in service.'),
    compensates: Compensates.optional().describe('Set by a compensation: the call this one undoes (the min/max bounds do not apply to it).'),
  }).strict().superRefine((args, ctx) => {
    const service = services.get(args.service);
    if (service === undefined || args.instance === undefined) return;
    if (!service.instances.some((i) => i.process === args.instance)) {
      ctx.addIssue({ code: 'custom', path: ['instance'], input: args.instance, params: { expected: `an instance of ${service.name}: ${service.instances.map((i) => i.process).join(', ')}` }, message: 'is not a configured instance of the service' });
    }
  });
  type WriteArgs = z.output<typeof WriteInput>;

  const configured = (name: string): ScaleService => {
    const service = services.get(name);
    if (service === undefined) throw refused('service', `${name} is not ${listed}.`);
    return service;
  };
  const maxOf = (service: ScaleService): number => service.maxInstances ?? service.instances.length;
  const target = (args: { service: string; instance?: string | undefined }): { service: string | null; tier: string | null; labels: Record<string, string> } => {
    const service = services.get(args.service);
    if (service === undefined) return { service: null, tier: null, labels: { system: SYSTEM } };
    return { service: service.name, tier: service.tier ?? null, labels: { system: SYSTEM, upstream: service.upstream, risk: service.risk, ...(args.instance === undefined ? {} : { instance: args.instance }) } };
  };
  const fileOf = (service: ScaleService): string => join(confDir, upstreamFileName(service.upstream));

  /** The weights of the upstream file (1 for servers it does not list, every one 1 without a file). */
  const fileWeights = async (service: ScaleService): Promise<Map<string, number>> => {
    let text: string | null = null;
    try {
      text = await readFile(fileOf(service), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw failed(`read ${fileOf(service)}`, error);
    }
    const servers = text === null ? [] : parseUpstream(service.upstream, text);
    if (servers === undefined) {
      throw new ConnectorError('TOOL_FAILED', `${fileOf(service)} was not generated by Interlock (or was edited); remove it or restore the generated text, Interlock never overwrites hand-written configuration.`, { system: 'nginx', retryable: false });
    }
    return new Map(service.instances.map((i) => [i.address, servers.find((s) => s.address === i.address)?.weight ?? 1]));
  };

  /** Every instance of `service` with its process and its weight. */
  const instancesOf = async (service: ScaleService, signal: AbortSignal, weights?: ReadonlyMap<string, number>): Promise<InstanceStatus[]> => {
    const file = weights ?? (await fileWeights(service));
    const all: InstanceStatus[] = [];
    for (const instance of service.instances) {
      const info = await processInfo(instance.process, signal);
      const weight = file.get(instance.address) ?? 1;
      all.push({
        process: instance.process, address: instance.address, state: info.statename, pid: info.pid > 0 ? info.pid : null,
        startedAt: info.start > 0 ? info.start * 1000 : null, weight, configuredWeight: instance.weight, inService: info.statename === 'RUNNING' && weight > 0,
      });
    }
    return all;
  };
  const processInfo = (process: string, signal: AbortSignal): Promise<ProcessInfo> => client.getProcessInfo(namespec(process), signal).catch((error: unknown) => {
    if (!(error instanceof ConnectorError) || error.systemStatus !== 'BAD_NAME') throw error;
    throw new ConnectorError('TOOL_FAILED', `supervisord has no process ${process}, which connectors.scale.services lists; fix the name there or in supervisord's configuration.`, { system: 'supervisor', status: 'BAD_NAME', retryable: false, cause: error });
  });
  const observe = async (args: { service: string }, signal: AbortSignal): Promise<Record<string, unknown>> => {
    const all = await instancesOf(configured(args.service), signal);
    return { inService: all.filter((i) => i.inService).length, instances: Object.fromEntries(all.map((i) => [i.process, `${i.state}/${i.weight}`])) };
  };

  const journalFile = (key: string): string => join(confDir, '.interlock', `scale-${createHash('sha256').update(key).digest('hex')}.json`);
  const readJournal = async (key: string): Promise<Journal | undefined> => {
    try {
      const parsed = Journal.safeParse(JSON.parse(await readFile(journalFile(key), 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined;
      throw failed('read the scale journal', error);
    }
  };
  const writeJournal = async (key: string, journal: Journal): Promise<void> => {
    const file = journalFile(key);
    try {
      await mkdir(join(confDir, '.interlock'), { recursive: true });
      await writeFile(`${file}.tmp`, JSON.stringify(journal), 'utf8');
      await rename(`${file}.tmp`, file);
    } catch (error) {
      throw failed('keep the scale journal (nothing was changed)', error);
    }
  };
  /** The pid of the live nginx master named by the pid file, or null. */
  const nginxMaster = async (): Promise<number | null> => {
    let pid: number;
    try {
      pid = Number((await readFile(config.nginx.pidFile, 'utf8')).trim());
    } catch {
      return null;
    }
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      process.kill(pid, 0);
      return pid;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
    }
  };
  const nginxContext = (context: ToolContext): ToolContext => ({ ...context, idempotencyKey: `${context.idempotencyKey}:nginx` });
  const setWeight = async (service: ScaleService, address: string, weight: number, context: ToolContext): Promise<UpstreamWrite> =>
    UpstreamWrite.parse(await setWeights.execute({ upstream: service.upstream, weights: [{ address, weight }] }, nginxContext(context)));

  /** Runs `fn` after every earlier write to `service` has finished (an in-process mutex per service). */
  const serialised = createKeyedMutex();

  /** The result of a call that changed nothing, from the instance as it is. */
  const unchanged = (service: ScaleService, instance: InstanceStatus, all: readonly InstanceStatus[]): WriteOutput => ({
    service: service.name, instance: instance.process, address: instance.address, changed: false, weight: instance.weight,
    state: instance.state, pid: instance.pid, inService: all.filter((i) => i.inService).length, upstream: null,
  });
  const resultOf = async (service: ScaleService, process: string, upstream: UpstreamWrite, signal: AbortSignal): Promise<WriteOutput> => {
    const all = await instancesOf(service, signal, new Map(upstream.servers.map((s) => [s.address, s.weight])));
    const instance = all.find((i) => i.process === process)!;
    return { ...unchanged(service, instance, all), changed: true, upstream };
  };

  const verification = (direction: 'out' | 'in'): VerificationProbe<WriteArgs, WriteOutput> => ({
    windowMs: config.verifyWindowMs,
    intervalMs: Math.min(1000, Math.max(100, Math.floor(config.verifyWindowMs / 5))),
    timeoutMs: config.verifyWindowMs + 15_000,
    async check(call, result, signal) {
      const service = configured(call.args.service);
      const instance = service.instances.find((i) => i.process === result.instance);
      if (instance === undefined) return { ok: false, observed: `${result.instance} is not an instance of ${service.name}` };
      const info = await processInfo(instance.process, signal);
      const weight = (await fileWeights(service)).get(instance.address) ?? 1;
      const master = await nginxMaster();
      const seen = `${instance.process} is ${info.statename}${info.pid > 0 ? ` (pid ${info.pid})` : ''} and ${upstreamFileName(service.upstream)} gives ${instance.address} ${weight === 0 ? 'down' : `weight ${weight}`}`;
      if (master === null) return { ok: false, observed: `${seen}, but nginx is not running (no live master pid in ${config.nginx.pidFile})` };
      const ok = direction === 'out'
        ? info.statename === 'RUNNING' && (result.pid === null || info.pid === result.pid) && weight === instance.weight
        : STOPPED_STATES.has(info.statename) && info.pid === 0 && weight === 0;
      const expected = direction === 'out' ? `RUNNING${result.pid === null ? '' : ` with pid ${result.pid}`} at weight ${instance.weight}` : 'stopped and down';
      return { ok, observed: ok ? `${seen}; nginx master ${master} runs` : `${seen}; expected ${expected}` };
    },
  });

  const status: ToolContract<z.output<typeof StatusInput>, z.output<typeof StatusOutput>> = {
    name: 'scale.status',
    description: 'Reads the instances of a configured service: each process state, its upstream weight and whether it is in service, the bounds, and whether nginx runs with a valid configuration.',
    input: StatusInput,
    output: StatusOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs: config.supervisor.timeoutMs + config.nginx.timeoutMs + 5000,
    permission: 'scale:read',
    retry: { maxAttempts: 3, intervalMs: 200, backoffRate: 2 },
    target,
    async execute(args, context) {
      const service = configured(args.service);
      const upstream = await readUpstream.execute({ upstream: service.upstream }, context) as { file: string; generated: boolean; servers: Array<{ address: string; weight: number }>; nginx: z.output<typeof StatusOutput>['nginx'] };
      const all = await instancesOf(service, context.signal, new Map(upstream.servers.map((s) => [s.address, s.weight])));
      return {
        service: service.name, upstream: service.upstream, file: upstream.file, generated: upstream.generated,
        minInstances: service.minInstances, maxInstances: maxOf(service), inService: all.filter((i) => i.inService).length, instances: all, nginx: upstream.nginx,
      };
    },
  };

  const out: ToolContract<WriteArgs, WriteOutput> = {
    name: 'scale.out',
    description: 'Scales a configured service out by one instance: starts the first instance not in service (or the one named), waits until it is RUNNING, then gives it its weight in the nginx upstream and reloads nginx; refuses beyond maxInstances.',
    input: WriteInput,
    output: WriteOutput,
    risk: writeRisk,
    idempotent: true,
    timeoutMs: config.supervisor.timeoutMs * 4 + config.nginx.timeoutMs + 15_000,
    permission: 'scale:out',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    observe,
    compensation: { tool: 'scale.in', args: (args, result) => ({ service: args.service, instance: result.instance, compensates: { tool: 'scale.out', changed: result.changed } }) },
    verification: verification('out'),
    execute(args, context) {
      const service = configured(args.service);
      return serialised(service.name, async () => {
        let journal = await readJournal(context.idempotencyKey);
        if (journal === undefined) {
          const all = await instancesOf(service, context.signal);
          const chosen = args.instance === undefined ? all.find((i) => !i.inService) : all.find((i) => i.process === args.instance);
          const inService = all.filter((i) => i.inService).length;
          if (chosen === undefined) {
            if (args.instance !== undefined) throw refused('instance', `${args.instance} is not an instance of ${service.name}.`);
            throw refused('service', `every instance of ${service.name} is in service (${inService}); there is none left to start.`);
          }
          if (chosen.inService || args.compensates?.changed === false) return unchanged(service, chosen, all);
          if (args.compensates === undefined && inService >= maxOf(service)) {
            throw refused('service', `${service.name} has ${inService} instance(s) in service, its maxInstances ${maxOf(service)}; scale.out would go beyond it.`);
          }
          journal = { service: service.name, instance: chosen.process, direction: 'out', wasRunning: chosen.state === 'RUNNING' };
          await writeJournal(context.idempotencyKey, journal);
        }
        const instance = service.instances.find((i) => i.process === journal.instance);
        if (instance === undefined) throw refused('instance', `${journal.instance} is no longer an instance of ${service.name}.`);
        const spec = namespec(instance.process);
        await client.startProcess(spec, context.signal).catch((error: unknown) => {
          if (!(error instanceof ConnectorError && error.systemStatus === 'ALREADY_STARTED')) throw error;
        });
        const info = await settledInfo(client, instance.process, config.supervisor.timeoutMs, context.signal);
        if (info.statename !== 'RUNNING') {
          throw new ConnectorError('TOOL_FAILED', `${instance.process} is ${info.statename} after its start${info.spawnerr === '' ? '' : ` (${info.spawnerr})`}; its weight was not changed.`, { system: 'supervisor', status: info.statename, retryable: false });
        }
        let upstream: UpstreamWrite;
        try {
          upstream = await setWeight(service, instance.address, instance.weight, context);
        } catch (error) {
          // Not in service after all: stop what this call started, so the instance is as before.
          if (!journal.wasRunning) await client.stopProcess(spec, context.signal).catch(() => undefined);
          throw error;
        }
        return resultOf(service, instance.process, upstream, context.signal);
      });
    },
  };

  const scaleIn: ToolContract<WriteArgs, WriteOutput> = {
    name: 'scale.in',
    description: 'Scales a configured service in by one instance: sets the last instance in service (or the one named) down in the nginx upstream, reloads nginx and waits until it serves the new configuration, then stops the process; refuses below minInstances.',
    input: WriteInput,
    output: WriteOutput,
    risk: writeRisk,
    idempotent: true,
    timeoutMs: config.supervisor.timeoutMs * 4 + config.nginx.timeoutMs * 2 + 30_000,
    permission: 'scale:in',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    observe,
    compensation: { tool: 'scale.out', args: (args, result) => ({ service: args.service, instance: result.instance, compensates: { tool: 'scale.in', changed: result.changed } }) },
    verification: verification('in'),
    execute(args, context) {
      const service = configured(args.service);
      return serialised(service.name, async () => {
        let journal = await readJournal(context.idempotencyKey);
        if (journal === undefined) {
          const all = await instancesOf(service, context.signal);
          const chosen = args.instance === undefined ? all.findLast((i) => i.inService) : all.find((i) => i.process === args.instance);
          const inService = all.filter((i) => i.inService).length;
          if (chosen === undefined) {
            if (args.instance !== undefined) throw refused('instance', `${args.instance} is not an instance of ${service.name}.`);
            throw refused('service', `no instance of ${service.name} is in service; there is none to stop.`);
          }
          const out = STOPPED_STATES.has(chosen.state) && chosen.weight === 0;
          if (out || args.compensates?.changed === false) return unchanged(service, chosen, all);
          if (args.compensates === undefined && chosen.inService && inService - 1 < service.minInstances) {
            throw refused('service', `${service.name} has ${inService} instance(s) in service and minInstances ${service.minInstances}; scale.in would go below it.`);
          }
          journal = { service: service.name, instance: chosen.process, direction: 'in', wasRunning: chosen.state === 'RUNNING' };
          await writeJournal(context.idempotencyKey, journal);
        }
        const instance = service.instances.find((i) => i.process === journal.instance);
        if (instance === undefined) throw refused('instance', `${journal.instance} is no longer an instance of ${service.name}.`);
        const upstream = await setWeight(service, instance.address, 0, context);
        await untilReloaded(service, upstream, context);
        await client.stopProcess(namespec(instance.process), context.signal).catch((error: unknown) => {
          if (!(error instanceof ConnectorError && error.systemStatus === 'NOT_RUNNING')) throw error;
        });
        return resultOf(service, instance.process, upstream, context.signal);
      });
    },
  };

  /**
   * Waits until nginx serves the configuration `upstream` wrote (the nginx connector's check: the file
   * holds it and the master runs workers started after the reload) and the workers from before the
   * reload accept no more connections (gone, or `shutting down`), so no new request goes to the instance
   * about to stop; requests already under way finish.
   * @throws ConnectorError `TOOL_FAILED` (retryable) when it does not within `nginx.timeoutMs`.
   */
  const untilReloaded = async (service: ScaleService, upstream: UpstreamWrite, context: ToolContext): Promise<void> => {
    const deadline = Date.now() + config.nginx.timeoutMs;
    const call = { tool: setWeights.name, args: { upstream: service.upstream, weights: [] }, idempotencyKey: nginxContext(context).idempotencyKey };
    for (;;) {
      const check = await setWeights.verification!.check(call, upstream, context.signal);
      const serving = check.ok ? await stillServing(upstream.previousWorkers) : [];
      if (check.ok && serving.length === 0) return;
      if (Date.now() > deadline) {
        const why = check.ok ? `workers ${serving.join(', ')} from before the reload still accept connections` : check.observed;
        throw new ConnectorError('TOOL_FAILED', `nginx did not take the instance out of rotation within ${config.nginx.timeoutMs} ms (${why}); the process was not stopped.`, { system: 'nginx', retryable: true, outcomeUnknown: true });
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  };

  return [status, out, scaleIn];
}

/**
 * The pids among `workers` that are still serving nginx workers (title `nginx: worker process`, not
 * `… is shutting down`): read from /proc, as the nginx connector reads its workers.
 */
async function stillServing(workers: readonly number[]): Promise<number[]> {
  const serving: number[] = [];
  for (const pid of workers) {
    try {
      const title = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      if (title === 'nginx: worker process') serving.push(pid);
    } catch {
      // gone
    }
  }
  return serving;
}

function refused(field: string, message: string): ConnectorError {
  return new ConnectorError('TOOL_FAILED', `${field}: ${message}`, { system: SYSTEM, retryable: false, details: { field } });
}

function failed(what: string, error: unknown): ConnectorError {
  const code = (error as NodeJS.ErrnoException).code;
  return new ConnectorError('TOOL_FAILED', `Could not ${what}: ${code ?? (error instanceof Error ? error.message : String(error))}.`, {
    system: SYSTEM, status: code, retryable: code === 'EBUSY' || code === 'EAGAIN', cause: error,
  });
}
