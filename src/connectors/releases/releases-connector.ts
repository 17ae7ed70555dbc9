import { createKeyedMutex } from '../shared/keyed-mutex.js';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { RISK_CLASSES, type AnyToolContract, type RiskClass, type ToolContract, type VerificationProbe } from '../../core/tools/tool.js';
import { createSupervisordAccessClient, namespec } from '../shared/supervisord-access.js';
import type { SupervisorClient } from '../supervisor/supervisor-client.js';
import { deployRelease, probeDeployment, readJournal, type DeployReleaseResult, type ReleaseEnvironment } from './deploy-release.js';
import { recentRecords, rollbackTarget } from './deploy-record.js';
import { listVersions, readCurrent, refused } from './release-store.js';
import { ReleaseSlug, type ReleaseService, type ReleasesConfig } from './releases-config.js';

/** Longest one health request may take, ms. */
const HEALTH_TIMEOUT_MS = 5000;
/** Largest health answer read, bytes. */
const MAX_HEALTH_BYTES = 64 * 1024;

const Restarted = z.object({
  process: z.string().describe('The process as configured: name, or group:name.'),
  pid: z.int().describe('Its pid on the new release.'),
  startedAt: z.int().describe('When it started, ms since the Unix epoch (whole seconds).'),
});

const DeployOutput = z.object({
  service: z.string(),
  version: z.string().describe('The version now current.'),
  previous: z.string().describe('The version current before (equal to version when nothing changed).'),
  kind: z.enum(['deploy', 'rollback']).describe('How the deploy log records it.'),
  changed: z.boolean().describe('False when the version already was current with every process running (or a compensation had nothing to undo).'),
  ref: z.string().nullable().describe('The commit of <service>.version; null without gitDir or when nothing changed.'),
  at: z.int().describe('When the deployment was decided and recorded, ms since the Unix epoch.'),
  restarted: z.array(Restarted).describe('The processes restarted on the new release, with their new pids; empty when nothing changed.'),
});

const DeployRecordOutput = z.object({
  at: z.string().describe('RFC 3339, UTC.'),
  version: z.string(),
  previous: z.string().nullable(),
  kind: z.enum(['deploy', 'rollback', 'config']),
  by: z.string(),
  ref: z.string().nullable(),
});

const ListOutput = z.object({
  service: z.string(),
  current: z.string().nullable().describe('The version current points to; null when there is no current.'),
  versions: z.array(z.object({
    version: z.string(),
    current: z.boolean(),
    release: z.record(z.string(), z.unknown()).nullable().describe('Its release.json; null when missing or invalid.'),
    problem: z.string().nullable().describe('Why it cannot be deployed, or null.'),
  })).describe('The version directories, sorted by version (digits as numbers).'),
  deploys: z.array(DeployRecordOutput).describe('The last deploy log records of the service, newest first.'),
});

/** Options of {@link createReleasesConnector}. */
export interface ReleasesConnectorOptions {
  /** The clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** The supervisord client; by default one for `config.supervisor`. */
  readonly supervisor?: SupervisorClient;
}

/**
 * The releases connector: deploys and rolls back releases laid out as immutable directories
 * `<root>/<service>/<version>/` with a `current` symlink, for the services `config.services` lists
 * (any other is refused by the input schema, naming `service`). See {@link deployRelease} for what one
 * deployment does (switch, restart under supervisord, commit, deploy log record).
 *
 * - `releases.list` (read): the versions of a service with their `release.json`, the current one, and
 *   its last deploy log records.
 * - `releases.deploy`: makes a version current. Idempotent by state (already current with every process
 *   running: `changed: false`) and by idempotency key; compensation `releases.deploy` back to `previous`
 *   (recorded as a rollback); a no-op compensation when the call changed nothing.
 * - `releases.rollback`: deploys the version before the current one according to the deploy log (the
 *   `previous` of the newest `deploy` record of the current version), or `to`; recorded as a rollback;
 *   compensation `releases.deploy` back to the version that was current.
 *
 * Writes have risk `write-prod` when any service has `risk: write-prod`, else `write-low`; `target`
 * carries the service, its tier and its own risk (label `risk`). Verification re-observes until it has
 * held for `verifyWindowMs`: `current` points to the version, every process is RUNNING with the pid the
 * call started, and the `healthUrl` (if set) reports the version. Calls for one service are serialised
 * in this process.
 *
 * @throws ConfigError `CONFIG_INVALID` when `root` or `deployLog` is unset, or the supervisord password
 *   variable is unset.
 * @see docs/connectors/releases.md
 */
export function createReleasesConnector(config: ReleasesConfig, options: ReleasesConnectorOptions = {}): AnyToolContract[] {
  if (config.root === undefined || config.deployLog === undefined) {
    const key = config.root === undefined ? 'root' : 'deployLog';
    throw new ConfigError('CONFIG_INVALID', `connectors.releases.${key} is not set; the releases connector needs root and deployLog`, [
      { path: `connectors.releases.${key}`, message: 'is required when the connector is enabled', expected: 'a path' },
    ]);
  }
  const supervisor = options.supervisor ?? createSupervisordAccessClient('connectors.releases.supervisor', config.supervisor);
  const env: ReleaseEnvironment = {
    root: resolve(config.root),
    deployLog: resolve(config.deployLog),
    gitDir: config.gitDir === undefined ? undefined : resolve(config.gitDir),
    author: config.author,
    supervisor,
    ...(options.now === undefined ? {} : { now: options.now }),
  };
  const now = options.now ?? Date.now;
  const services = new Map<string, ReleaseService>(config.services.map((s) => [s.name, s]));
  const names = [...services.keys()];
  const listed = `a service listed in connectors.releases.services (${names.join(', ') || 'none'})`;
  const ServiceName = (names.length === 0 ? z.string().refine(() => false, { error: listed }) : z.enum(names as [string, ...string[]], { error: listed }))
    .describe('The service: one of connectors.releases.services.');
  const writeRisk: RiskClass = config.services.reduce<RiskClass>((highest, s) => (RISK_CLASSES.indexOf(s.risk) > RISK_CLASSES.indexOf(highest) ? s.risk : highest), 'write-low');
  const maxProcesses = Math.max(1, ...config.services.map((s) => s.processes.length));
  const writeTimeoutMs = config.supervisor.timeoutMs * (8 * maxProcesses + 2) + 60_000;

  const ListInput = z.object({
    service: ServiceName,
    limit: z.int().min(0).max(100).default(10).describe('Deploy log records returned, newest first.'),
  }).strict();
  const Compensates = z.object({
    tool: z.enum(['releases.deploy', 'releases.rollback']).describe('The tool whose call this one undoes.'),
    changed: z.boolean().describe("That call's `changed`: when false there is nothing to undo and this call does nothing."),
  }).strict();
  const DeployInput = z.object({
    service: ServiceName,
    version: ReleaseSlug.describe('The version to make current: a directory <root>/<service>/<version>/ with a release.json naming it.'),
    compensates: Compensates.optional().describe('Set by a compensation: the call this one undoes (recorded as a rollback when it undoes a deploy).'),
  }).strict();
  const RollbackInput = z.object({
    service: ServiceName,
    to: ReleaseSlug.optional().describe('The version to go back to; unset: the version before the current one according to the deploy log.'),
  }).strict();
  type DeployArgs = z.output<typeof DeployInput>;
  type RollbackArgs = z.output<typeof RollbackInput>;

  const configured = (name: string): ReleaseService => {
    const service = services.get(name);
    if (service === undefined) throw refused('service', `${name} is not ${listed}.`);
    return service;
  };
  const target = (args: { service: string; version?: string | undefined; to?: string | undefined }): { service: string | null; tier: string | null; labels: Record<string, string> } => {
    const service = services.get(args.service);
    if (service === undefined) return { service: null, tier: null, labels: { system: 'releases' } };
    const version = args.version ?? args.to;
    return { service: service.name, tier: service.tier ?? null, labels: { system: 'releases', risk: service.risk, ...(version === undefined ? {} : { version }) } };
  };
  const observe = async (args: { service: string }, signal: AbortSignal): Promise<Record<string, unknown>> => {
    const service = configured(args.service);
    const current = await readCurrent(env.root, service.name);
    const processes: Record<string, string> = {};
    for (const process of service.processes) processes[process] = (await supervisor.getProcessInfo(namespec(process), signal)).statename;
    return { current, processes };
  };

  /** Runs `fn` after every earlier write to `service` has finished (an in-process mutex per service). */
  const serialised = createKeyedMutex();

  const verification: VerificationProbe<{ service: string }, DeployReleaseResult> = {
    windowMs: config.verifyWindowMs,
    intervalMs: Math.min(1000, Math.max(100, Math.floor(config.verifyWindowMs / 5))),
    timeoutMs: config.verifyWindowMs + 30_000,
    async check(call, result, signal) {
      const service = configured(call.args.service);
      const current = await readCurrent(env.root, service.name);
      if (current !== result.version) return { ok: false, observed: `${service.name}'s current points to ${current ?? 'nothing'}; expected ${result.version}` };
      const seen: string[] = [];
      for (const process of service.processes) {
        const info = await supervisor.getProcessInfo(namespec(process), signal);
        const expected = result.restarted.find((r) => r.process === process)?.pid;
        if (info.statename !== 'RUNNING') return { ok: false, observed: `${process} is ${info.statename}; expected RUNNING on ${result.version}` };
        if (expected !== undefined && info.pid !== expected) return { ok: false, observed: `${process} runs pid ${info.pid}, not pid ${expected} started on ${result.version}: it restarted (crashed?) since` };
        seen.push(`${process} RUNNING (pid ${info.pid})`);
      }
      let health = '';
      if (service.healthUrl !== undefined) {
        const reported = await healthVersion(service.healthUrl, signal);
        if (reported !== result.version) return { ok: false, observed: `${service.healthUrl} reports ${reported}; expected ${result.version}` };
        health = `; ${service.healthUrl} reports ${reported}`;
      }
      return { ok: true, observed: `${service.name} runs ${result.version}: current points to it, ${seen.join(', ')}${health}` };
    },
  };

  const list: ToolContract<z.output<typeof ListInput>, z.output<typeof ListOutput>> = {
    name: 'releases.list',
    description: 'Lists the release versions of a configured service (with their release.json), the current one, and its last deploy log records.',
    input: ListInput,
    output: ListOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs: 30_000,
    permission: 'releases:read',
    retry: { maxAttempts: 3, intervalMs: 200, backoffRate: 2 },
    target,
    async execute(args, context) {
      const service = configured(args.service);
      const current = await readCurrent(env.root, service.name);
      const versions = await listVersions(env.root, service.name);
      const records = await recentRecords(env.deployLog, service.name, args.limit, context.signal);
      return {
        service: service.name,
        current,
        versions: versions.map((v) => ({ version: v.version, current: v.version === current, release: v.release, problem: v.problem })),
        deploys: records.map((r) => ({ at: new Date(r.at).toISOString(), version: r.version, previous: r.previous, kind: r.kind, by: r.by, ref: r.ref })),
      };
    },
  };

  const deploy: ToolContract<DeployArgs, DeployReleaseResult> = {
    name: 'releases.deploy',
    description: 'Deploys a release of a configured service: points current at the version directory, restarts its supervisord processes, commits <service>.version and appends a deploy log record; a version already current and running is left alone.',
    input: DeployInput,
    output: DeployOutput,
    risk: writeRisk,
    idempotent: true,
    timeoutMs: writeTimeoutMs,
    permission: 'releases:deploy',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    observe,
    compensation: { tool: 'releases.deploy', args: (args, result) => ({ service: args.service, version: result.previous, compensates: { tool: 'releases.deploy', changed: result.changed } }) },
    verification,
    probe: (call, signal) => probeDeployment(env, configured(call.args.service).processes, call.idempotencyKey, signal),
    execute(args, context) {
      const service = configured(args.service);
      return serialised(service.name, async () => {
        if (args.compensates?.changed === false) {
          const current = (await readCurrent(env.root, service.name)) ?? args.version;
          return { service: service.name, version: current, previous: current, kind: 'rollback' as const, changed: false, ref: null, at: now(), restarted: [] };
        }
        return deployRelease(env, {
          service: service.name,
          processes: service.processes,
          version: args.version,
          // Undoing a deploy is a rollback, and the deploy log must say so: a later rollback skips it.
          kind: args.compensates?.tool === 'releases.deploy' ? 'rollback' : 'deploy',
          by: `interlock:${context.missionId}`,
          idempotencyKey: context.idempotencyKey,
          signal: context.signal,
        });
      });
    },
  };

  const rollback: ToolContract<RollbackArgs, DeployReleaseResult> = {
    name: 'releases.rollback',
    description: 'Rolls a configured service back to the version before the current one according to the deploy log, or to the version named by to: switches current, restarts its processes, commits and records it as a rollback.',
    input: RollbackInput,
    output: DeployOutput,
    risk: writeRisk,
    idempotent: true,
    timeoutMs: writeTimeoutMs,
    permission: 'releases:rollback',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    observe,
    compensation: { tool: 'releases.deploy', args: (args, result) => ({ service: args.service, version: result.previous, compensates: { tool: 'releases.rollback', changed: result.changed } }) },
    verification,
    probe: (call, signal) => probeDeployment(env, configured(call.args.service).processes, call.idempotencyKey, signal),
    execute(args, context) {
      const service = configured(args.service);
      return serialised(service.name, async () => {
        // A retry goes to the version the first attempt chose, not the one before that.
        let version = (await readJournal(env.root, context.idempotencyKey))?.version ?? args.to;
        if (version === undefined) {
          const current = await readCurrent(env.root, service.name);
          if (current === null) throw refused('service', `${service.name} has no current release, so there is nothing to roll back.`);
          const found = await rollbackTarget(env.deployLog, service.name, current, context.signal);
          if (!found.ok) throw refused('to', `no version to roll ${service.name} back to from ${current}: ${found.reason}; name the version with to.`);
          version = found.version;
        }
        return deployRelease(env, {
          service: service.name,
          processes: service.processes,
          version,
          kind: 'rollback',
          by: `interlock:${context.missionId}`,
          idempotencyKey: context.idempotencyKey,
          field: 'to',
          signal: context.signal,
        });
      });
    },
  };

  return [list, deploy, rollback];
}

/**
 * The version a health URL reports: the `version` string of a JSON object body, else the whole body
 * trimmed; a description of the failure (`HTTP 503`, `ECONNREFUSED`) when there is no answer.
 */
async function healthVersion(url: string, signal: AbortSignal): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]), redirect: 'error', headers: { accept: 'application/json, text/plain' } });
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    return `no answer (${typeof cause?.code === 'string' ? cause.code : error instanceof Error ? error.message : String(error)})`;
  }
  const text = (await readLimited(response)).trim();
  if (!response.ok) return `HTTP ${response.status}`;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && typeof (value as { version?: unknown }).version === 'string') return (value as { version: string }).version;
  } catch {
    // not JSON: the body is the version
  }
  return text;
}

/** The first {@link MAX_HEALTH_BYTES} of a body as text; the rest is not read. */
async function readLimited(response: Response): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= MAX_HEALTH_BYTES) {
      await response.body.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_HEALTH_BYTES).toString('utf8');
}
