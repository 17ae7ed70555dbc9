import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import { RISK_CLASSES, type AnyToolContract, type RiskClass, type ToolContract } from '../../core/tools/tool.js';
import type { NginxConfig, NginxUpstreamConfig } from './nginx-config.js';
import { describeWeights, parseUpstream, renderUpstream, trafficShift, upstreamFileName, type ServerWeight } from './upstream-file.js';

const SYSTEM = 'nginx';

const ServerWeightSchema = z.object({ address: z.string(), weight: z.int().min(0).max(100) }).strict();
const Servers = z.array(ServerWeightSchema);

/** What was kept before the first attempt of one idempotency key: the file, and nginx's workers then. */
const Backup = z.object({
  upstream: z.string(),
  /** The servers of the file before, or null when there was no file. */
  previous: Servers.nullable(),
  masterPid: z.int(),
  previousWorkers: z.array(z.int()),
});
type Backup = z.output<typeof Backup>;

const NginxStatus = z.object({
  running: z.boolean(),
  masterPid: z.int().nullable(),
  workers: z.int(),
  configValid: z.boolean(),
  configError: z.string().nullable(),
});

const UpstreamOutput = z.object({
  upstream: z.string(),
  file: z.string(),
  /** False when Interlock has not written the file yet: every server then counts as weight 1. */
  generated: z.boolean(),
  servers: Servers,
  nginx: NginxStatus,
});

const SetWeightsOutput = z.object({
  upstream: z.string(),
  servers: Servers,
  sha256: z.string(),
  previous: Servers.nullable(),
  shiftPercent: z.number(),
  masterPid: z.int(),
  previousWorkers: z.array(z.int()),
});
type SetWeightsOutput = z.output<typeof SetWeightsOutput>;

const RestoreOutput = z.object({ upstream: z.string(), restored: z.enum(['weights', 'absence']), servers: Servers.nullable() });

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Options of {@link createNginxConnector}: the resolved `connectors.nginx` configuration. */
export type NginxConnectorOptions = Pick<NginxConfig, 'binary' | 'mainConfig' | 'confDir' | 'pidFile' | 'timeoutMs' | 'upstreams'>;

/**
 * The nginx connector: reads and sets the server weights of configured upstreams (canary traffic
 * shifts) through one generated include file per upstream, `<confDir>/upstream-<name>.conf`, never
 * touching hand-written configuration. A write goes: the file written atomically, `nginx -t -c
 * <mainConfig>`, and only if valid a reload (SIGHUP to the master in `pidFile`); an invalid result is
 * rolled back and the call fails with nginx's error text. The file's servers before the first attempt
 * of an idempotency key are kept in `<confDir>/.interlock/<sha256(key)>.json`, so retries and the
 * compensation `nginx.restore_upstream` know what to put back. Writes to one upstream are serialised
 * by an in-process mutex. Verification reads the file back and checks that the nginx master started
 * a new generation of workers (it reloaded the configuration).
 * @see docs/connectors/nginx.md
 */
export function createNginxConnector(options: NginxConnectorOptions): AnyToolContract[] {
  const confDir = resolve(options.confDir);
  const backups = join(confDir, '.interlock');
  const upstreams = new Map(options.upstreams.map((u) => [u.name, u]));
  const names = options.upstreams.map((u) => u.name);
  const risk: RiskClass = options.upstreams.reduce<RiskClass>((highest, u) => (RISK_CLASSES.indexOf(u.risk) > RISK_CLASSES.indexOf(highest) ? u.risk : highest), 'write-low');
  const locks = new Map<string, Promise<unknown>>();

  const UpstreamName = (names.length === 0 ? z.never() : z.enum(names as [string, ...string[]])).describe('A configured upstream.');

  /** A list of servers and weights; {@link checkWeights} checks it against the upstream. */
  const WeightList = (mustBeComplete: boolean) => z.array(ServerWeightSchema.extend({
    address: z.string().min(1).max(300).describe('A configured server of the upstream, e.g. 127.0.0.1:8081.'),
    weight: z.int().min(0).max(100).describe('Its weight 0..100; 0 takes it out of rotation (`down`).'),
  })).min(1).max(64).describe(mustBeComplete ? 'Every server of the upstream with its weight.' : 'The servers whose weight changes; the others keep theirs.');

  /** Known servers of the upstream, each once, and not every server at 0 when all are listed. */
  const checkWeights = (value: { upstream: string; weights?: readonly ServerWeight[] | null; previous?: readonly ServerWeight[] | null }, ctx: z.RefinementCtx, key: 'weights' | 'previous'): void => {
    const upstream = upstreams.get(value.upstream);
    const list = value[key];
    if (upstream === undefined || list === undefined || list === null) return;
    const known = upstream.servers.map((s) => s.address);
    const seen = new Set<string>();
    list.forEach((entry, index) => {
      if (!known.includes(entry.address)) {
        ctx.addIssue({ code: 'custom', path: [key, index, 'address'], input: entry.address, params: { expected: `a server of upstream ${upstream.name}: ${known.join(', ')}` }, message: 'is not a configured server of the upstream' });
      } else if (seen.has(entry.address)) {
        ctx.addIssue({ code: 'custom', path: [key, index, 'address'], input: entry.address, params: { expected: 'each server once' }, message: 'is listed twice' });
      }
      seen.add(entry.address);
    });
    if (known.every((address) => seen.has(address)) && list.every((entry) => entry.weight === 0)) {
      ctx.addIssue({ code: 'custom', path: [key], input: describeWeights(list), params: { expected: 'at least one server with weight > 0' }, message: 'would take every server of the upstream out of rotation' });
    }
  };

  const ReadInput = z.object({ upstream: UpstreamName }).strict();
  const SetInput = z.object({ upstream: UpstreamName, weights: WeightList(false) }).strict()
    .superRefine((value, ctx) => checkWeights(value, ctx, 'weights'));
  const RestoreInput = z.object({ upstream: UpstreamName, previous: WeightList(true).nullable().describe('The servers and weights to put back, or null to remove the file (as before the first write).') }).strict()
    .superRefine((value, ctx) => checkWeights(value, ctx, 'previous'));

  const fileOf = (name: string): string => join(confDir, upstreamFileName(name));
  const configured = (name: string): NginxUpstreamConfig => {
    const upstream = upstreams.get(name);
    if (upstream === undefined) throw refused(`Upstream ${name} is not configured (connectors.nginx.upstreams); only configured upstreams are touched.`, 'upstream');
    return upstream;
  };

  /** The file's text, or null when there is none. */
  const readText = async (file: string): Promise<string | null> => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw failed(`read ${file}`, error);
    }
  };

  /** The servers the file holds, null without a file; throws when the file is not Interlock's. */
  const current = async (upstream: NginxUpstreamConfig): Promise<ServerWeight[] | null> => {
    const text = await readText(fileOf(upstream.name));
    if (text === null) return null;
    const servers = parseUpstream(upstream.name, text);
    if (servers === undefined) {
      throw new ConnectorError('TOOL_FAILED', `${fileOf(upstream.name)} was not generated by Interlock (or was edited); remove it or restore the generated text, Interlock never overwrites hand-written configuration.`, { system: SYSTEM, retryable: false });
    }
    return servers;
  };

  /** Configured servers with the weights of `servers` (weight 1, nginx's default, for those without). */
  const complete = (upstream: NginxUpstreamConfig, servers: readonly ServerWeight[] | null): ServerWeight[] =>
    upstream.servers.map((s) => ({ address: s.address, weight: servers?.find((x) => x.address === s.address)?.weight ?? 1 }));

  const master = async (): Promise<number | null> => {
    const text = await readText(options.pidFile);
    const pid = text === null ? Number.NaN : Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      process.kill(pid, 0);
      return pid;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
    }
  };

  /** `nginx -t -c <mainConfig>`: null when valid, else nginx's error text. */
  const testConfig = (signal?: AbortSignal): Promise<string | null> => new Promise((done, fail) => {
    execFile(options.binary, ['-t', '-c', options.mainConfig], { timeout: options.timeoutMs, signal, maxBuffer: 1_048_576, windowsHide: true }, (error, stdout, stderr) => {
      if (error === null) return done(null);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES') return fail(failed(`run ${options.binary}`, error));
      if (error.killed || error.name === 'AbortError') return fail(new ConnectorError('TOOL_FAILED', `nginx -t did not finish within ${options.timeoutMs} ms.`, { system: SYSTEM, retryable: true, cause: error }));
      const text = `${stderr}${stdout}`.split('\n').filter((line) => line.trim() !== '' && !/test failed$/.test(line)).join('\n').trim();
      done(text === '' ? error.message : text);
    });
  });

  const status = async (): Promise<z.output<typeof NginxStatus>> => {
    const masterPid = await master();
    const workers = masterPid === null ? [] : await workersOf(masterPid);
    const configError = await testConfig();
    return { running: masterPid !== null, masterPid, workers: workers.length, configValid: configError === null, configError };
  };

  /** Writes the file (or removes it for null), tests the configuration, and reloads; rolls back when invalid. */
  const apply = async (upstream: NginxUpstreamConfig, servers: readonly ServerWeight[] | null, rollback: string | null, masterPid: number, signal: AbortSignal): Promise<void> => {
    const file = fileOf(upstream.name);
    const put = async (text: string | null): Promise<void> => {
      if (text === null) await rm(file, { force: true });
      else await atomicWrite(file, text);
    };
    try {
      await mkdir(confDir, { recursive: true });
      await put(servers === null ? null : renderUpstream(upstream.name, servers));
    } catch (error) {
      throw failed(`write ${file}`, error);
    }
    let invalid: string | null;
    try {
      invalid = await testConfig(signal);
    } catch (error) {
      await put(rollback).catch(() => undefined);
      throw error;
    }
    if (invalid !== null) {
      try {
        await put(rollback);
      } catch (error) {
        throw new ConnectorError('TOOL_FAILED', `nginx -t failed and ${file} could not be put back (${(error as NodeJS.ErrnoException).code ?? String(error)}); nginx still serves the old configuration, but fix the file before the next reload. nginx said: ${invalid}`, { system: SYSTEM, retryable: false, outcomeUnknown: true, cause: error });
      }
      throw new ConnectorError('TOOL_FAILED', `nginx -t rejected the configuration with the new ${upstreamFileName(upstream.name)}; the previous file was put back and nginx was not reloaded. nginx said: ${invalid}`, { system: SYSTEM, retryable: false, details: { nginxError: invalid } });
    }
    try {
      process.kill(masterPid, 'SIGHUP');
    } catch (error) {
      await put(rollback).catch(() => undefined);
      throw failed(`signal the nginx master (pid ${masterPid}) to reload`, error);
    }
  };

  /** Runs `fn` after every earlier write to `name` has finished (an in-process mutex per upstream). */
  const serialised = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(name) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(() => undefined, () => undefined);
    locks.set(name, settled);
    try {
      return await run;
    } finally {
      if (locks.get(name) === settled) locks.delete(name);
    }
  };

  const backupFile = (key: string): string => join(backups, `${sha256(key)}.json`);
  const readBackup = async (key: string): Promise<Backup | undefined> => {
    const text = await readText(backupFile(key));
    if (text === null) return undefined;
    const parsed = Backup.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  };

  const runningMaster = async (): Promise<number> => {
    const pid = await master();
    if (pid === null) throw new ConnectorError('TOOL_FAILED', `nginx is not running (no live master pid in ${options.pidFile}); start it before changing weights, nothing was written.`, { system: SYSTEM, retryable: false });
    return pid;
  };

  /** The weights after `args`, from the servers before the first attempt. */
  const intended = (upstream: NginxUpstreamConfig, previous: readonly ServerWeight[] | null, weights: readonly ServerWeight[]): ServerWeight[] =>
    complete(upstream, previous).map((s) => ({ address: s.address, weight: weights.find((w) => w.address === s.address)?.weight ?? s.weight }));

  const read: ToolContract<z.output<typeof ReadInput>, z.output<typeof UpstreamOutput>> = {
    name: 'nginx.upstream',
    description: 'Reads the servers and weights of a configured nginx upstream as Interlock last wrote them, and whether nginx runs with a valid configuration.',
    input: ReadInput,
    output: UpstreamOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs: options.timeoutMs + 5000,
    permission: 'nginx:read',
    target: (args) => targetOf(upstreams.get(args.upstream)),
    async execute(args) {
      const upstream = configured(args.upstream);
      const servers = await current(upstream);
      return { upstream: upstream.name, file: fileOf(upstream.name), generated: servers !== null, servers: complete(upstream, servers), nginx: await status() };
    },
  };

  const setWeights: ToolContract<z.output<typeof SetInput>, SetWeightsOutput> = {
    name: 'nginx.set_weights',
    description: 'Sets the weights (0..100, 0 = down) of servers of a configured nginx upstream, e.g. to shift canary traffic; tests the configuration and reloads nginx.',
    input: SetInput,
    output: SetWeightsOutput,
    risk,
    idempotent: true,
    timeoutMs: options.timeoutMs + 10_000,
    permission: 'nginx:write',
    target: (args) => targetOf(upstreams.get(args.upstream)),
    compensation: { tool: 'nginx.restore_upstream', args: (args, result) => ({ upstream: args.upstream, previous: result.previous }) },
    async observe(args) {
      const upstream = configured(args.upstream);
      const servers = complete(upstream, await current(upstream));
      return { weights: Object.fromEntries(servers.map((s) => [s.address, s.weight])), running: (await master()) !== null };
    },
    async probe(call) {
      const upstream = configured(call.args.upstream);
      const backup = await readBackup(call.idempotencyKey);
      if (backup === undefined) return { state: 'not_applied' };
      const servers = intended(upstream, backup.previous, call.args.weights);
      const text = await readText(fileOf(upstream.name));
      if (text !== renderUpstream(upstream.name, servers)) {
        const before = backup.previous === null ? null : renderUpstream(upstream.name, backup.previous);
        return text === before ? { state: 'not_applied' } : { state: 'unknown', reason: `${upstreamFileName(upstream.name)} holds neither the weights before nor the intended ones` };
      }
      const reloaded = (await master()) !== null && (await newGeneration(backup));
      // Written but not reloaded: running the call again is safe (idempotent) and finishes it.
      if (!reloaded) return { state: 'not_applied' };
      return { state: 'applied', result: resultOf(upstream, servers, backup) };
    },
    verification: {
      intervalMs: 200,
      timeoutMs: 15_000,
      async check(call, result) {
        const upstream = configured(call.args.upstream);
        const text = await readText(fileOf(upstream.name));
        if (text === null || sha256(text) !== result.sha256) return { ok: false, observed: `${upstreamFileName(upstream.name)} does not hold the weights written (${describeWeights(result.servers)})` };
        const pid = await master();
        if (pid === null) return { ok: false, observed: `nginx is not running (no live master pid in ${options.pidFile})` };
        const workers = await workersOf(pid);
        const fresh = workers.filter((w) => !result.previousWorkers.includes(w));
        if (fresh.length === 0) return { ok: false, observed: `nginx master ${pid} has not started new workers since the reload: it still serves the previous configuration` };
        return { ok: true, observed: `upstream ${upstream.name} serves ${describeWeights(result.servers)}: the file holds them and nginx master ${pid} runs ${fresh.length} worker(s) started after the reload` };
      },
    },
    execute(args, context) {
      const upstream = configured(args.upstream);
      return serialised(upstream.name, async () => {
        const masterPid = await runningMaster();
        let backup = await readBackup(context.idempotencyKey);
        if (backup === undefined) {
          backup = { upstream: upstream.name, previous: await current(upstream), masterPid, previousWorkers: await workersOf(masterPid) };
          try {
            await mkdir(backups, { recursive: true });
            await atomicWrite(backupFile(context.idempotencyKey), JSON.stringify(backup));
          } catch (error) {
            throw failed('keep the previous weights', error);
          }
        }
        const before = complete(upstream, backup.previous);
        const servers = intended(upstream, backup.previous, args.weights);
        if (servers.every((s) => s.weight === 0)) {
          throw refused(`weights: the call would take every server of upstream ${upstream.name} out of rotation (${describeWeights(servers)}); keep at least one server with weight > 0.`, 'weights');
        }
        const shift = trafficShift(before, servers);
        if (upstream.maxShiftPercent !== undefined && shift > upstream.maxShiftPercent) {
          throw refused(`weights: the call would shift ${shift} percentage points of upstream ${upstream.name}'s traffic (${describeWeights(before)} → ${describeWeights(servers)}), more than its maxShiftPercent ${upstream.maxShiftPercent}; shift in smaller steps.`, 'weights');
        }
        const rollback = backup.previous === null ? null : renderUpstream(upstream.name, backup.previous);
        await apply(upstream, servers, rollback, masterPid, context.signal);
        return { ...resultOf(upstream, servers, backup), shiftPercent: shift };
      });
    },
  };

  const restore: ToolContract<z.output<typeof RestoreInput>, z.output<typeof RestoreOutput>> = {
    name: 'nginx.restore_upstream',
    description: 'Puts the weights of a configured nginx upstream back as they were before a nginx.set_weights (or removes the generated file if there was none), tests the configuration and reloads nginx.',
    input: RestoreInput,
    output: RestoreOutput,
    risk,
    idempotent: true,
    timeoutMs: options.timeoutMs + 10_000,
    permission: 'nginx:write',
    target: (args) => targetOf(upstreams.get(args.upstream)),
    execute(args, context) {
      const upstream = configured(args.upstream);
      return serialised(upstream.name, async () => {
        const masterPid = await runningMaster();
        const text = await readText(fileOf(upstream.name));
        const servers = args.previous === null ? null : complete(upstream, args.previous);
        await apply(upstream, servers, text, masterPid, context.signal);
        return { upstream: upstream.name, restored: servers === null ? 'absence' as const : 'weights' as const, servers };
      });
    },
  };

  return [read, setWeights, restore];

  function resultOf(upstream: NginxUpstreamConfig, servers: ServerWeight[], backup: Backup): SetWeightsOutput {
    return {
      upstream: upstream.name,
      servers,
      sha256: sha256(renderUpstream(upstream.name, servers)),
      previous: backup.previous,
      shiftPercent: trafficShift(complete(upstream, backup.previous), servers),
      masterPid: backup.masterPid,
      previousWorkers: backup.previousWorkers,
    };
  }

  async function newGeneration(backup: Backup): Promise<boolean> {
    const pid = await master();
    if (pid === null) return false;
    return (await workersOf(pid)).some((w) => !backup.previousWorkers.includes(w));
  }
}

/** What policy sees as the target of a call on `upstream`. */
function targetOf(upstream: NginxUpstreamConfig | undefined): { service: string | null; tier: string | null; labels: Record<string, string> } {
  if (upstream === undefined) return { service: null, tier: null, labels: {} };
  return { service: upstream.service ?? null, tier: upstream.tier ?? null, labels: { upstream: upstream.name, risk: upstream.risk } };
}

/**
 * The pids of the serving worker processes of nginx master `pid`: its children whose title is
 * `nginx: worker process` (not `… is shutting down`, the previous generation draining). Reads /proc.
 */
async function workersOf(pid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const workers: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const title = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      if (title === 'nginx: worker process') workers.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return workers.sort((a, b) => a - b);
}

function refused(message: string, field: string): ConnectorError {
  return new ConnectorError('TOOL_FAILED', message, { system: SYSTEM, retryable: false, details: { field } });
}

function failed(what: string, error: unknown): ConnectorError {
  const code = (error as NodeJS.ErrnoException).code;
  return new ConnectorError('TOOL_FAILED', `Could not ${what}: ${code ?? (error instanceof Error ? error.message : String(error))}.`, {
    system: SYSTEM, status: code, retryable: code === 'EBUSY' || code === 'EAGAIN', cause: error,
  });
}

/** Writes `content` to `file` through a temporary file in the same directory and a rename, so nginx never reads half a file. */
async function atomicWrite(file: string, content: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, 'utf8');
  await rename(temporary, file);
}
