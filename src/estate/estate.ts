// The reference estate's controller: `up`, `down`, `status`, `inject` and `heal` (docs/estate.md).
// It writes the estate directory, runs supervisord (which runs PostgreSQL, Prometheus, Alertmanager,
// the services, nginx and the load generator), waits until everything answers, and applies and
// removes the faults Interlock is meant to find and fix.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, open, readFile, readdir, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import pg from 'pg';
import { stringify } from 'yaml';
import { parseUpstream, renderUpstream, upstreamFileName, type ServerWeight } from '../connectors/nginx/upstream-file.js';
import { createSupervisorClient, type ProcessInfo, type SupervisorClient } from '../connectors/supervisor/supervisor-client.js';
import { InputError, InterlockError } from '../core/errors.js';
import { prepareEmbeddedPostgres } from '../store/embedded-postgres.js';
import { appendDeployLog, commitVersion, currentRelease, deployRelease, initDeploymentsRepo, switchCurrent } from './deploy.js';
import {
  ESTATE_DATABASE,
  ESTATE_FAULTS,
  ESTATE_PACKAGES,
  ESTATE_RELEASES,
  ESTATE_SERVICE_PROGRAMS,
  ESTATE_SERVICES,
  estatePaths,
  faultFile,
  FAULT_SETTINGS,
  logFile,
  poolFile,
  releaseTracks,
  seededRelease,
  trackDir,
  WATCHDOG_PROGRAM,
  type EstateFault,
  type EstatePaths,
} from './estate-layout.js';
import {
  programAddress,
  renderAlertmanagerConfig,
  renderLoad,
  renderNginxConfig,
  renderPool,
  renderPrometheusConfig,
  renderReleaseJson,
  renderSupervisordConfig,
  seededLoad,
  seededWeights,
  type UpstreamWeights,
} from './estate-render.js';
import { readEstateState, writeEstateState, type EstateInjection, type EstatePorts, type EstateState } from './estate-state.js';
import { DATABASE_URL_ENV, estateInterlockConfig, SUPERVISOR_PASSWORD_ENV } from './interlock-config.js';

/** Where Interlock listens by default (`server.port` 7411). */
const DEFAULT_INTERLOCK_URL = 'http://127.0.0.1:7411';
/** The intake source Alertmanager notifies by default: Interlock's default Alertmanager source. */
const DEFAULT_SOURCE_NAME = 'alertmanager';
/** supervisord's basic-auth user. */
const SUPERVISOR_USERNAME = 'interlock';
/** How long `up` waits for everything to be ready, ms. */
const DEFAULT_READY_TIMEOUT_MS = 120_000;
/** How long `down` waits for supervisord to stop its programs before SIGKILL, ms. */
const STOP_TIMEOUT_MS = 60_000;
/** How long `heal` lets requests in flight to a server taken out of rotation finish before stopping it, ms. */
const DRAIN_MS = 1500;
/** The PATH searched for the binaries when none is given. */
const DEFAULT_SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Interlock's `examples/estate` (two levels up from both `src/estate` and `dist/estate`). */
const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/estate/', import.meta.url));

// ---- Errors ----------------------------------------------------------------------------------------

function notRunning(dir: string): InputError {
  return new InputError('ESTATE_NOT_RUNNING', `The reference estate in ${dir} is not running; start it with \`interlock estate up --dir ${dir}\`.`, [], { details: { dir } });
}

function startFailed(reason: string, details: Record<string, unknown> = {}, cause?: unknown): InterlockError {
  return new InterlockError('ESTATE_START_FAILED', `The reference estate did not become ready: ${reason}.`, { details, cause });
}

// ---- Binaries --------------------------------------------------------------------------------------

/** The absolute paths of the programs the estate runs. */
export interface EstateBinaries {
  readonly supervisord: string;
  readonly prometheus: string;
  readonly alertmanager: string;
  readonly nginx: string;
  readonly git: string;
}

function which(name: string, searchPath: string, extra: readonly string[] = []): string | undefined {
  for (const candidate of [...searchPath.split(':').filter((dir) => dir !== '').map((dir) => join(dir, name)), ...extra]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Finds supervisord, Prometheus, Alertmanager, nginx and git on `searchPath` (nginx also in
 * /usr/sbin, Debian's place for it).
 * @throws InterlockError `ESTATE_PREREQUISITE_MISSING` naming the missing programs and the Debian
 *   packages to install.
 */
export function findEstateBinaries(searchPath: string = DEFAULT_SEARCH_PATH): EstateBinaries {
  const found = {
    supervisord: which('supervisord', searchPath),
    prometheus: which('prometheus', searchPath),
    alertmanager: which('prometheus-alertmanager', searchPath),
    nginx: which('nginx', searchPath, ['/usr/sbin/nginx']),
    git: which('git', searchPath),
  };
  const missing = Object.entries(found).filter(([, path]) => path === undefined).map(([name]) => (name === 'alertmanager' ? 'prometheus-alertmanager' : name));
  if (missing.length > 0) {
    throw new InterlockError('ESTATE_PREREQUISITE_MISSING', `The reference estate needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed; install them with: ${ESTATE_PACKAGES}`, { details: { missing } });
  }
  return found as EstateBinaries;
}

// ---- Small helpers ---------------------------------------------------------------------------------

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The PID of the estate's supervisord while it runs, else undefined. */
async function supervisordPid(paths: EstatePaths): Promise<number | undefined> {
  const pid = await readPid(paths.supervisordPidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  // A pid file left by a supervisord that was killed may name a process that reused the PID since.
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return command.includes('supervisord') && command.includes(paths.supervisordConfig) ? pid : undefined;
  } catch {
    return pid; // no /proc: trust the pid file
  }
}

/** Writes `content` through a temporary file and a rename, so no reader sees half a file. */
async function writeAtomic(file: string, content: string, mode = 0o644): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, file);
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function readJson(file: string): Promise<unknown> {
  const text = await readText(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of a file, or '' when it cannot be read. */
function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolvePromise(true)));
  });
}

/** Free ports on 127.0.0.1: from `basePort` upwards in a fixed order, or any free ones. */
async function choosePorts(basePort: number | undefined): Promise<EstatePorts> {
  const names = ['http', 'prometheus', 'alertmanager', 'supervisor', 'postgres', 'exporter', ...ESTATE_SERVICE_PROGRAMS.map((p) => `program:${p.name}`)];
  const chosen = new Map<string, number>();
  for (const [index, name] of names.entries()) {
    let port: number;
    if (basePort === undefined) port = await getPort({ host: '127.0.0.1', exclude: [...chosen.values()] });
    else {
      port = basePort + index;
      if (port > 65_535 || !(await isPortFree(port))) {
        throw new InputError('INPUT_INVALID', `Port ${port} (for ${name.replace('program:', '')}) is not free on 127.0.0.1; the estate takes ${names.length} ports from --base-port ${basePort}: choose another base port.`, [{ path: 'basePort', message: `port ${port} is taken`, received: String(basePort) }]);
      }
    }
    chosen.set(name, port);
  }
  const get = (name: string): number => chosen.get(name) as number;
  return {
    http: get('http'),
    prometheus: get('prometheus'),
    alertmanager: get('alertmanager'),
    supervisor: get('supervisor'),
    postgres: get('postgres'),
    exporter: get('exporter'),
    programs: Object.fromEntries(ESTATE_SERVICE_PROGRAMS.map((p) => [p.name, get(`program:${p.name}`)])),
  };
}

/** A supervisord XML-RPC client for the estate (password from its secrets file). */
function supervisorClient(state: EstateState, timeoutMs = 60_000): SupervisorClient {
  const password = readFileSync(state.paths.supervisorPasswordFile, 'utf8').trim();
  const authorization = `Basic ${Buffer.from(`${state.supervisorUsername}:${password}`).toString('base64')}`;
  return createSupervisorClient({ url: state.urls.supervisor, timeoutMs, headers: { authorization } });
}

/** GETs `url` and parses JSON, or returns undefined on any failure. */
async function getJson(url: string, timeoutMs = 3000): Promise<unknown> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return undefined;
    return await response.json();
  } catch {
    return undefined;
  }
}

async function answersOk(url: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

// ---- up --------------------------------------------------------------------------------------------

/** Options of {@link up}. */
export interface EstateUpOptions {
  /** The estate directory (created when missing; relative paths resolve against the working directory). */
  readonly dir: string;
  /** Take ports from here upwards (11 of them) instead of any free ones. */
  readonly basePort?: number;
  /** End the estate when this process dies (a watchdog program under supervisord). */
  readonly watchPid?: number;
  /** Interlock's base URL: Alertmanager notifies `<url>/v1/signals/<sourceName>`. @default http://127.0.0.1:7411 */
  readonly interlockUrl?: string;
  /** A file holding the Interlock API token Alertmanager sends as a bearer token; unset: none sent. */
  readonly tokenFile?: string;
  /** The intake source Alertmanager notifies. @default alertmanager */
  readonly sourceName?: string;
  /** The PATH searched for the binaries. @default the usual system directories */
  readonly searchPath?: string;
  /** How long to wait for everything to be ready, ms. @default 120000 */
  readonly readyTimeoutMs?: number;
  /** Receives a line for each step. */
  readonly onProgress?: (line: string) => void;
}

/** What {@link up} did. */
export interface EstateUpResult {
  readonly state: EstateState;
  /** True when the estate was running already (nothing was started). */
  readonly alreadyRunning: boolean;
  /** How long the start took, ms. */
  readonly durationMs: number;
}

/**
 * Starts the reference estate in `options.dir`: chooses ports, writes every configuration, seeds the
 * releases (`current` at the healthy versions), deploy log and deployments repository, initialises
 * PostgreSQL on first use, starts supervisord and waits until every program is RUNNING, the database
 * holds the estate's table, the services answer through nginx, Prometheus scrapes every running
 * target and Alertmanager is ready. Then writes `estate.json` and `interlock.yaml` (Interlock's
 * configuration for this estate). An estate already running in the directory is left as it is.
 *
 * @throws InterlockError `ESTATE_PREREQUISITE_MISSING` when a binary is not installed.
 * @throws InputError `INPUT_INVALID` when `watchPid` is not a live process, a port from `basePort` is
 *   taken, or `dir` is a non-empty directory that holds no estate (nothing is written then).
 * @throws InterlockError `ESTATE_START_FAILED` when it is not ready within `readyTimeoutMs` (the
 *   estate is stopped again; `details.logs` has the end of the logs of what was not ready).
 */
export async function up(options: EstateUpOptions): Promise<EstateUpResult> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  const dir = resolve(options.dir);
  const binaries = findEstateBinaries(options.searchPath);
  if (options.watchPid !== undefined && !(Number.isInteger(options.watchPid) && options.watchPid > 0 && isAlive(options.watchPid))) {
    throw new InputError('INPUT_INVALID', `--watch-pid ${options.watchPid} is not a running process.`, [{ path: 'watchPid', message: 'not a running process', received: String(options.watchPid) }]);
  }
  const interlockUrl = (options.interlockUrl ?? DEFAULT_INTERLOCK_URL).replace(/\/+$/, '');
  try {
    new URL(interlockUrl);
  } catch {
    throw new InputError('INPUT_INVALID', `--interlock-url ${interlockUrl} is not a URL.`, [{ path: 'interlockUrl', message: 'not a URL', received: interlockUrl }]);
  }
  const paths = estatePaths(dir);
  const previous = await readEstateState(dir).catch(() => undefined);
  if (previous !== undefined && (await supervisordPid(paths)) !== undefined) {
    progress(`the estate in ${dir} is running already`);
    return { state: previous, alreadyRunning: true, durationMs: Date.now() - started };
  }
  if (!(await stat(join(EXAMPLES_DIR, 'service.mjs')).then(() => true, () => false))) {
    throw new InterlockError('INTERNAL', `Interlock's estate programs are missing (${EXAMPLES_DIR}service.mjs); reinstall Interlock.`);
  }

  const entries = await readdir(dir).catch(() => [] as string[]);
  if (previous === undefined && entries.length > 0) {
    throw new InputError('INPUT_INVALID', `${dir} is not empty and holds no reference estate; choose an empty or new directory for --dir.`, [{ path: 'dir', message: 'not empty and not an estate', received: dir }]);
  }
  progress(`preparing ${dir}`);
  await mkdir(dir, { recursive: true });
  // PostgreSQL runs as user postgres and nginx's workers as nobody when root runs the estate: let
  // them in (the directory is the estate's own: new, empty, or an estate already).
  if (process.getuid?.() === 0) await chmod(dir, 0o755);
  for (const sub of [paths.secretsDir, paths.releasesDir, paths.poolsDir, paths.faultsDir, paths.logsDir, paths.nginxConfDir, join(paths.nginxDir, 'temp'), paths.prometheusDir, paths.alertmanagerDir]) await mkdir(sub, { recursive: true });
  await chmod(paths.secretsDir, 0o700);

  const ports = await choosePorts(options.basePort);
  const postgres = await prepareEmbeddedPostgres({ dataDir: paths.postgresDir, port: ports.postgres });
  const password = randomBytes(18).toString('base64url');
  await writeAtomic(paths.databaseUrlFile, `postgres://${postgres.user}:${encodeURIComponent(postgres.password)}@127.0.0.1:${ports.postgres}/${ESTATE_DATABASE}\n`, 0o600);
  await writeAtomic(paths.supervisorPasswordFile, `${password}\n`, 0o600);
  const sourceName = options.sourceName ?? DEFAULT_SOURCE_NAME;
  const state: EstateState = {
    format: 1,
    dir,
    createdAt: previous?.createdAt ?? Date.now(),
    startedAt: null,
    stoppedAt: null,
    ports,
    urls: {
      http: `http://127.0.0.1:${ports.http}`,
      prometheus: `http://127.0.0.1:${ports.prometheus}`,
      alertmanager: `http://127.0.0.1:${ports.alertmanager}`,
      supervisor: `http://127.0.0.1:${ports.supervisor}/RPC2`,
      exporter: `http://127.0.0.1:${ports.exporter}/metrics`,
    },
    supervisorUsername: SUPERVISOR_USERNAME,
    postgres: { port: ports.postgres, database: ESTATE_DATABASE, user: postgres.user, runAs: postgres.runAs ?? null },
    nginxBinary: binaries.nginx,
    alertmanager: {
      webhookUrl: `${interlockUrl}/v1/signals/${encodeURIComponent(sourceName)}`,
      sourceName,
      tokenFile: options.tokenFile === undefined ? null : resolve(options.tokenFile),
    },
    interlockUrl,
    watchPid: options.watchPid ?? null,
    paths,
    injections: [],
    healedAt: null,
  };

  progress('writing releases and configuration');
  await writeReleases(state);
  await seedDeployments(state);
  await writeHealthyControlFiles(state);
  await writeFile(paths.nginxConfig, renderNginxConfig(state));
  await writeFile(paths.prometheusConfig, renderPrometheusConfig(state));
  await copyFile(join(EXAMPLES_DIR, 'alert-rules.yml'), paths.prometheusRules);
  await writeFile(paths.alertmanagerConfig, renderAlertmanagerConfig(state));
  await writeAtomic(paths.supervisordConfig, renderSupervisordConfig(state, {
    node: process.execPath,
    examplesDir: EXAMPLES_DIR,
    prometheus: binaries.prometheus,
    alertmanager: binaries.alertmanager,
    nginx: binaries.nginx,
    postgresCommand: postgres.command,
    password,
  }), 0o600);
  await writeEstateState(state);

  progress('starting supervisord');
  await startSupervisord(binaries.supervisord, paths);
  try {
    await waitUntilReady(state, postgres.password, options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS, progress);
  } catch (error) {
    progress('not ready: stopping the estate');
    await stopEverything(paths).catch(() => undefined);
    throw error;
  }
  const running: EstateState = { ...state, startedAt: Date.now() };
  await writeEstateState(running);
  await writeFile(paths.interlockConfig, interlockYaml(running));
  progress(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${running.urls.http}`);
  return { state: running, alreadyRunning: false, durationMs: Date.now() - started };
}

/** `interlock.yaml` for the estate, with a header saying how to run Interlock on it. */
function interlockYaml(state: EstateState): string {
  return [
    '# Interlock configuration for the reference estate in this directory (docs/estate.md).',
    '# Generated by `interlock estate up`. Run Interlock with the two secrets in its environment:',
    `#   ${SUPERVISOR_PASSWORD_ENV}=$(cat ${state.paths.supervisorPasswordFile}) \\`,
    `#   ${DATABASE_URL_ENV}=$(cat ${state.paths.databaseUrlFile}) \\`,
    `#   interlock serve --config ${state.paths.interlockConfig}`,
    stringify(estateInterlockConfig(state, { url: state.interlockUrl })),
  ].join('\n');
}

/**
 * The environment variables Interlock needs to manage the estate: supervisord's password
 * ({@link SUPERVISOR_PASSWORD_ENV}) and the estate database's URL ({@link DATABASE_URL_ENV}), read
 * from the estate's secrets files. Secrets: pass them to Interlock, never log them.
 */
export async function estateInterlockEnv(state: EstateState): Promise<Record<string, string>> {
  return {
    [SUPERVISOR_PASSWORD_ENV]: (await readFile(state.paths.supervisorPasswordFile, 'utf8')).trim(),
    [DATABASE_URL_ENV]: (await readFile(state.paths.databaseUrlFile, 'utf8')).trim(),
  };
}

/** Copies the service into each seeded release directory with its `release.json`. */
async function writeReleases(state: EstateState): Promise<void> {
  for (const release of ESTATE_RELEASES) {
    const dir = join(trackDir(state.paths, release.track), release.version);
    await mkdir(dir, { recursive: true });
    await copyFile(join(EXAMPLES_DIR, 'service.mjs'), join(dir, 'service.mjs'));
    await writeFile(join(dir, 'release.json'), renderReleaseJson(release));
  }
  // The release copies live outside Interlock's tree: a link lets them import pg and prom-client.
  const nodeModules = dirname(dirname(createRequire(import.meta.url).resolve('pg/package.json')));
  await rm(state.paths.nodeModulesLink, { force: true, recursive: false }).catch(() => undefined);
  await symlink(nodeModules, state.paths.nodeModulesLink, 'dir');
}

/**
 * Points each track's `current` at its healthy version. On first use, creates the deployments
 * repository and records each seeded version there and in the deploy log; later, records a deploy
 * for each track whose `current` had to be moved back.
 */
async function seedDeployments(state: EstateState): Promise<void> {
  const { paths } = state;
  const fresh = !(await stat(join(paths.deploymentsRepo, '.git')).then(() => true, () => false));
  if (fresh) await initDeploymentsRepo(paths.deploymentsRepo);
  for (const track of releaseTracks()) {
    const release = seededRelease(track);
    const before = await currentRelease(paths, track);
    if (before === release.version && !fresh) continue;
    await switchCurrent(paths, track, release.version);
    const ref = await commitVersion(paths.deploymentsRepo, track, release.version, 'deploy');
    await appendDeployLog(paths.deployLog, { at: Date.now(), service: track, version: release.version, previous: before ?? undefined, kind: 'deploy', by: 'estate up', ref });
  }
}

/** The healthy pool sizes, load, upstream weights and no faults. */
async function writeHealthyControlFiles(state: EstateState): Promise<void> {
  for (const service of ESTATE_SERVICES) {
    await writeAtomic(poolFile(state.paths, service.name), renderPool(service.poolMax));
    await rm(faultFile(state.paths, service.name), { force: true });
  }
  await writeAtomic(state.paths.loadFile, renderLoad(seededLoad()));
  await writeUpstreams(state, seededWeights(state));
}

/** Writes each upstream's include file (only those that change), in the nginx connector's format. */
async function writeUpstreams(state: EstateState, weights: UpstreamWeights): Promise<boolean> {
  let changed = false;
  for (const [name, servers] of Object.entries(weights)) {
    const file = join(state.paths.nginxConfDir, upstreamFileName(name));
    const text = renderUpstream(name, servers);
    if ((await readText(file)) === text) continue;
    await writeAtomic(file, text);
    changed = true;
  }
  return changed;
}

/** Starts supervisord in the background (it forks; its parent exits once the configuration is read and its sockets are open). */
async function startSupervisord(binary: string, paths: EstatePaths): Promise<void> {
  const outputFile = join(paths.logsDir, 'supervisord.out');
  const output = await open(outputFile, 'a');
  try {
    const child = spawn(binary, ['-c', paths.supervisordConfig], { stdio: ['ignore', output.fd, output.fd], cwd: paths.dir });
    const code = await new Promise<number | null>((resolvePromise, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolvePromise(exitCode));
    });
    if (code !== 0) throw startFailed(`supervisord exited with ${String(code)}: ${tail(outputFile, 10).replace(/\s+/g, ' ')}`, { log: tail(outputFile) });
  } finally {
    await output.close();
  }
}

/** Polls `check` every 250 ms until it returns true or `deadline` passes; then throws ESTATE_START_FAILED with `what()`. */
async function until(deadline: number, check: () => Promise<boolean>, what: () => Promise<{ reason: string; details?: Record<string, unknown> }>): Promise<void> {
  while (!(await check())) {
    if (Date.now() > deadline) {
      const failure = await what();
      throw startFailed(failure.reason, failure.details);
    }
    await sleep(250);
  }
}

async function waitUntilReady(state: EstateState, postgresPassword: string, timeoutMs: number, progress: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const { paths } = state;
  const supervisor = supervisorClient(state);
  let processes: ProcessInfo[] = [];
  const fatal = (): ProcessInfo | undefined => processes.find((p) => p.statename === 'FATAL');
  const failure = (reason: string, program?: string) => () => Promise.resolve({
    reason: program === undefined ? reason : `${reason}; the end of ${logFile(paths, program)}:\n${tail(logFile(paths, program), 15)}`,
    details: { logs: Object.fromEntries(['supervisord', ...processes.filter((p) => p.statename !== 'RUNNING').map((p) => p.name)].map((name) => [name, tail(name === 'supervisord' ? paths.supervisordLog : logFile(paths, name))])) },
  });

  await until(deadline, async () => {
    try {
      processes = await supervisor.getAllProcessInfo(AbortSignal.timeout(3000));
      return true;
    } catch {
      return false;
    }
  }, failure(`supervisord does not answer at ${state.urls.supervisor}`));

  let lastError = '';
  await until(deadline, async () => {
    if (fatal() !== undefined) throw startFailed(`${fatal()?.name} could not be started (${fatal()?.spawnerr || 'it exited at once'})`, (await failure('', fatal()?.name)()).details);
    try {
      await createDatabase(state, postgresPassword);
      return true;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      processes = await supervisor.getAllProcessInfo(AbortSignal.timeout(3000)).catch(() => processes);
      return false;
    }
  }, failure(`PostgreSQL did not accept connections on port ${state.ports.postgres} (${lastError})`, 'postgres'));
  progress(`PostgreSQL ready on port ${state.ports.postgres}, database ${ESTATE_DATABASE}`);

  const autostart = new Set(['postgres', 'prometheus', 'alertmanager', ...ESTATE_SERVICE_PROGRAMS.filter((p) => p.autostart).map((p) => p.name), ...(state.watchPid === null ? [] : [WATCHDOG_PROGRAM])]);
  const allRunning = async (names: ReadonlySet<string>): Promise<boolean> => {
    processes = await supervisor.getAllProcessInfo(AbortSignal.timeout(3000)).catch(() => processes);
    const bad = processes.find((p) => names.has(p.name) && (p.statename === 'FATAL' || p.statename === 'EXITED'));
    if (bad !== undefined) throw startFailed(`${bad.name} ${bad.statename === 'FATAL' ? 'could not be started' : 'exited'}${bad.spawnerr === '' ? '' : ` (${bad.spawnerr})`}; the end of its log:\n${tail(logFile(paths, bad.name), 15)}`, (await failure('')()).details);
    return [...names].every((name) => processes.find((p) => p.name === name)?.statename === 'RUNNING');
  };
  const notRunningYet = (names: ReadonlySet<string>) => async () => {
    const waiting = [...names].filter((name) => processes.find((p) => p.name === name)?.statename !== 'RUNNING');
    return failure(`${waiting.join(', ')} not RUNNING`, waiting[0])();
  };
  await until(deadline, () => allRunning(autostart), notRunningYet(autostart));

  const services = ESTATE_SERVICE_PROGRAMS.filter((p) => p.autostart).map((p) => p.name);
  let unanswered: string[] = [];
  await until(deadline, async () => {
    const answers = await Promise.all(services.map(async (name) => [name, await answersOk(`http://${programAddress(state, name)}/healthz`)] as const));
    unanswered = answers.filter(([, ok]) => !ok).map(([name]) => name);
    return unanswered.length === 0;
  }, async () => failure(`${unanswered.join(', ')} do not answer /healthz`, unanswered[0])());
  progress(`supervisord runs ${autostart.size} programs; the services answer`);

  // nginx only now: a connection refused at start would take a server out of its upstream for 10 s.
  await supervisor.startProcess('nginx', AbortSignal.timeout(30_000)).catch(() => undefined);
  await until(deadline, () => allRunning(new Set(['nginx'])), notRunningYet(new Set(['nginx'])));
  await until(deadline, async () => {
    const answers = await Promise.all(ESTATE_SERVICES.map(async (s) => [s.name, await answersOk(`${state.urls.http}/${s.name}/${s.path}`)] as const));
    unanswered = answers.filter(([, ok]) => !ok).map(([name]) => name);
    return unanswered.length === 0;
  }, async () => failure(`${unanswered.join(', ')} do not answer through nginx at ${state.urls.http}`, 'nginx')());
  await supervisor.startProcess('loadgen', AbortSignal.timeout(30_000)).catch(() => undefined);
  await until(deadline, () => allRunning(new Set(['loadgen'])), notRunningYet(new Set(['loadgen'])));
  progress(`the services answer through nginx at ${state.urls.http}; load generator started`);

  let down: string[] = [];
  await until(deadline, async () => {
    const targets = await prometheusTargets(state);
    const running = new Set(processes.filter((p) => p.statename === 'RUNNING').map((p) => p.name));
    const expected = targets.filter((t) => running.has(t.program));
    down = expected.filter((t) => t.health !== 'up').map((t) => t.program);
    return expected.length > 0 && down.length === 0 && (await answersOk(`${state.urls.alertmanager}/-/ready`));
  }, async () => failure(down.length > 0 ? `Prometheus does not scrape ${down.join(', ')}` : `Prometheus or Alertmanager is not ready`, down[0] ?? 'prometheus')());
  progress(`Prometheus scrapes every running target; Alertmanager notifies ${state.alertmanager.webhookUrl}`);
}

/** Creates the estate's database, table and rows when missing. */
async function createDatabase(state: EstateState, password: string): Promise<void> {
  const connect = async (database: string): Promise<pg.Client> => {
    const client = new pg.Client({ host: '127.0.0.1', port: state.ports.postgres, user: state.postgres.user, password, database, connectionTimeoutMillis: 2000, application_name: 'estate-setup' });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const admin = await connect('postgres');
  try {
    const found = await admin.query('select 1 from pg_database where datname = $1', [ESTATE_DATABASE]);
    if (found.rowCount === 0) await admin.query(`create database ${admin.escapeIdentifier(ESTATE_DATABASE)}`);
  } finally {
    await admin.end();
  }
  const client = await connect(ESTATE_DATABASE);
  try {
    await client.query('create table if not exists items (id int primary key, name text not null, price int not null)');
    await client.query("insert into items select g, 'item ' || g, (g * 37) % 1000 + 100 from generate_series(1, 1000) as g on conflict do nothing");
  } finally {
    await client.end();
  }
}

/** Prometheus' active targets: program label, job and health. */
async function prometheusTargets(state: EstateState): Promise<Array<{ program: string; job: string; health: string; lastError: string }>> {
  const body = (await getJson(`${state.urls.prometheus}/api/v1/targets?state=active`)) as { data?: { activeTargets?: Array<{ labels?: Record<string, string>; health?: string; lastError?: string }> } } | undefined;
  return (body?.data?.activeTargets ?? []).map((t) => ({ program: t.labels?.program ?? '', job: t.labels?.job ?? '', health: t.health ?? 'unknown', lastError: t.lastError ?? '' }));
}

// ---- down ------------------------------------------------------------------------------------------

/** What {@link down} did. */
export interface EstateDownResult {
  readonly dir: string;
  /** True when supervisord was running and was stopped. */
  readonly stopped: boolean;
  readonly purged: boolean;
}

/** Stops supervisord (it stops its programs, PostgreSQL with a fast shutdown) and any server it left. */
async function stopEverything(paths: EstatePaths): Promise<boolean> {
  const pid = await supervisordPid(paths);
  if (pid !== undefined) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  // What a supervisord killed without stopping its programs can leave behind.
  for (const [file, signal] of [[join(paths.postgresDir, 'postmaster.pid'), 'SIGINT'], [paths.nginxPidFile, 'SIGQUIT']] as const) {
    const leftover = await readPid(file);
    if (leftover !== undefined && isAlive(leftover)) {
      process.kill(leftover, signal);
      const deadline = Date.now() + 30_000;
      while (isAlive(leftover) && Date.now() < deadline) await sleep(100);
    }
  }
  return pid !== undefined;
}

/**
 * Stops the estate in `dir`: supervisord and every program (PostgreSQL with a fast shutdown). The
 * directory stays (a later `up` reuses the database, deploy log and repository) unless `purge`.
 * @throws InputError `ESTATE_NOT_FOUND` when `dir` holds no estate.
 */
export async function down(dir: string, options: { readonly purge?: boolean } = {}): Promise<EstateDownResult> {
  const absolute = resolve(dir);
  const state = await readEstateState(absolute);
  const stopped = await stopEverything(state.paths);
  if (options.purge === true) {
    await rm(absolute, { recursive: true, force: true });
    return { dir: absolute, stopped, purged: true };
  }
  await writeEstateState({ ...state, stoppedAt: Date.now() });
  return { dir: absolute, stopped, purged: false };
}

// ---- status ----------------------------------------------------------------------------------------

/** The estate's state as `interlock estate status` shows it. */
export interface EstateStatus {
  readonly dir: string;
  readonly running: boolean;
  readonly supervisordPid: number | null;
  readonly urls: EstateState['urls'];
  /** Every program supervisord runs, with its state. */
  readonly programs: ReadonlyArray<{ readonly name: string; readonly state: string; readonly pid: number | null; readonly uptimeSeconds: number | null }>;
  /** Prometheus' targets by program, `up` or `down`. */
  readonly targets: ReadonlyArray<{ readonly program: string; readonly job: string; readonly health: string; readonly lastError: string }>;
  /** Alerts firing or pending in Prometheus. */
  readonly alerts: ReadonlyArray<{ readonly alertname: string; readonly service: string | null; readonly state: string; readonly activeAt: string | null; readonly labels: Readonly<Record<string, string>> }>;
  /** Each release track's current and healthy version. */
  readonly releases: ReadonlyArray<{ readonly track: string; readonly current: string | null; readonly healthy: string }>;
  /** Pool size per service (`pools/<service>.json`). */
  readonly pools: Readonly<Record<string, number | null>>;
  /** Requests per second per service (`load.json`). */
  readonly load: Readonly<Record<string, number>>;
  /** The servers and weights of each upstream (0 = down), or null when the file is not in the nginx connector's format. */
  readonly upstreams: Readonly<Record<string, readonly ServerWeight[] | null>>;
  /** The fault file of each service that has one. */
  readonly faults: Readonly<Record<string, unknown>>;
  readonly injections: readonly EstateInjection[];
  readonly healedAt: number | null;
}

/**
 * The state of the estate in `dir`: programs, Prometheus targets, alerts, releases, pools, load,
 * upstream weights and faults. A stopped estate is reported with `running: false`.
 * @throws InputError `ESTATE_NOT_FOUND` when `dir` holds no estate.
 */
export async function status(dir: string): Promise<EstateStatus> {
  const state = await readEstateState(resolve(dir));
  const { paths } = state;
  const pid = await supervisordPid(paths);
  let programs: EstateStatus['programs'] = [];
  let targets: EstateStatus['targets'] = [];
  let alerts: EstateStatus['alerts'] = [];
  if (pid !== undefined) {
    const infos = await supervisorClient(state, 5000).getAllProcessInfo(AbortSignal.timeout(5000)).catch(() => [] as ProcessInfo[]);
    programs = infos.map((p) => ({ name: p.name, state: p.statename, pid: p.pid === 0 ? null : p.pid, uptimeSeconds: p.statename === 'RUNNING' ? p.now - p.start : null }));
    targets = await prometheusTargets(state);
    alerts = await prometheusAlerts(state);
  }
  const releases = await Promise.all(releaseTracks().map(async (track) => ({ track, current: await currentRelease(paths, track), healthy: seededRelease(track).version })));
  const pools = Object.fromEntries(await Promise.all(ESTATE_SERVICES.map(async (s) => {
    const value = (await readJson(poolFile(paths, s.name))) as { max?: unknown } | undefined;
    return [s.name, typeof value?.max === 'number' ? value.max : null] as const;
  })));
  const loadValue = ((await readJson(paths.loadFile)) ?? {}) as Record<string, unknown>;
  const load = Object.fromEntries(ESTATE_SERVICES.map((s) => [s.name, typeof loadValue[s.name] === 'number' ? loadValue[s.name] as number : 0]));
  const upstreams = Object.fromEntries(await Promise.all(ESTATE_SERVICES.map(async (s) => [s.name, parseUpstream(s.name, (await readText(join(paths.nginxConfDir, upstreamFileName(s.name)))) ?? '') ?? null] as const)));
  const faults: Record<string, unknown> = {};
  for (const entry of await readdir(paths.faultsDir).catch(() => [] as string[])) {
    if (entry.endsWith('.json')) faults[entry.replace(/\.json$/, '')] = await readJson(join(paths.faultsDir, entry));
  }
  return { dir: state.dir, running: pid !== undefined, supervisordPid: pid ?? null, urls: state.urls, programs, targets, alerts, releases, pools, load, upstreams, faults, injections: state.injections, healedAt: state.healedAt };
}

/** Prometheus' firing and pending alerts. */
async function prometheusAlerts(state: EstateState): Promise<EstateStatus['alerts']> {
  const body = (await getJson(`${state.urls.prometheus}/api/v1/alerts`)) as { data?: { alerts?: Array<{ labels?: Record<string, string>; state?: string; activeAt?: string }> } } | undefined;
  return (body?.data?.alerts ?? []).map((a) => ({ alertname: a.labels?.alertname ?? '', service: a.labels?.service ?? null, state: a.state ?? 'unknown', activeAt: a.activeAt ?? null, labels: a.labels ?? {} }));
}

// ---- inject and heal -------------------------------------------------------------------------------

/** What {@link inject} or {@link heal} did. */
export interface EstateChange {
  /** When the change took effect, ms since the epoch. */
  readonly at: number;
  /** One sentence per action. */
  readonly actions: readonly string[];
}

async function runningState(dir: string): Promise<EstateState> {
  const state = await readEstateState(resolve(dir));
  if ((await supervisordPid(state.paths)) === undefined) throw notRunning(state.dir);
  return state;
}

/** Sends SIGHUP to nginx: it rereads its configuration (the upstream files) and starts new workers. */
async function reloadNginx(state: EstateState): Promise<void> {
  const pid = await readPid(state.paths.nginxPidFile);
  if (pid === undefined || !isAlive(pid)) throw notRunning(state.dir);
  process.kill(pid, 'SIGHUP');
}

/** Starts `program` unless it runs, and waits until it answers `/healthz`. */
async function startProgram(state: EstateState, supervisor: SupervisorClient, program: string): Promise<boolean> {
  const signal = AbortSignal.timeout(60_000);
  const info = await supervisor.getProcessInfo(program, signal);
  const started = info.statename !== 'RUNNING' && info.statename !== 'STARTING';
  if (started) await supervisor.startProcess(program, signal);
  const deadline = Date.now() + 30_000;
  while (!(await answersOk(`http://${programAddress(state, program)}/healthz`, 2000))) {
    if (Date.now() > deadline) throw startFailed(`${program} does not answer /healthz; the end of its log:\n${tail(logFile(state.paths, program), 15)}`);
    await sleep(100);
  }
  return started;
}

/** Stops `program` if it runs; true when it did. */
async function stopProgram(supervisor: SupervisorClient, program: string): Promise<boolean> {
  const signal = AbortSignal.timeout(60_000);
  const info = await supervisor.getProcessInfo(program, signal);
  if (info.statename !== 'RUNNING' && info.statename !== 'STARTING' && info.statename !== 'BACKOFF') return false;
  await supervisor.stopProcess(program, signal);
  return true;
}

/**
 * Injects `fault` into the running estate in `dir` (docs/estate.md, "Faults") and records it in
 * `estate.json` with the time it took effect:
 * - `bad-release`: deploys checkout 1.5.0 (30 % of its requests fail); fix: roll back to 1.4.0.
 * - `memory-leak`: catalog's heap grows by 4 MB/s (its fault file); fix: restart catalog.
 * - `pool-exhaustion`: 20 % of payments' queries wait 2 s in the database, more than its pool of 4
 *   can carry; fix: a larger pool (12), and terminating the long-running queries relieves it.
 * - `canary-regression`: starts checkout-canary (1.5.0-canary, +400 ms per request) and sends it
 *   30 % of checkout's traffic; fix: weights back to checkout 100, canary 0.
 * - `load-surge`: catalog's load rises 2.5 times, beyond one instance's capacity; fix: start
 *   catalog-2 and give it weight in the catalog upstream.
 *
 * @throws InputError `INPUT_INVALID` for an unknown fault; `ESTATE_NOT_FOUND`, `ESTATE_NOT_RUNNING`.
 */
export async function inject(dir: string, fault: EstateFault): Promise<EstateChange> {
  if (!(ESTATE_FAULTS as readonly string[]).includes(fault)) {
    throw new InputError('INPUT_INVALID', `Unknown fault ${String(fault)}; one of ${ESTATE_FAULTS.join(', ')}.`, [{ path: 'fault', message: 'unknown fault', expected: ESTATE_FAULTS.join(' | '), received: String(fault) }]);
  }
  const state = await runningState(dir);
  const requestedAt = Date.now();
  const supervisor = supervisorClient(state);
  const actions: string[] = [];
  const { paths } = state;
  switch (fault) {
    case 'bad-release': {
      const { track, version } = FAULT_SETTINGS.badRelease;
      const result = await deployRelease({ paths, supervisor, track, version, programs: programsOfTrack(track), kind: 'deploy', by: 'estate inject bad-release' });
      actions.push(result.changed ? `deployed ${track} ${version} (was ${result.previous ?? 'none'}), restarted ${result.restarted.join(', ') || 'nothing'}` : `${track} runs ${version} already`);
      break;
    }
    case 'memory-leak': {
      const { service, leakBytesPerSecond } = FAULT_SETTINGS.memoryLeak;
      await writeAtomic(faultFile(paths, service), `${JSON.stringify({ at: Date.now(), fault: 'memory-leak', leakBytesPerSecond })}\n`);
      actions.push(`${service} leaks ${leakBytesPerSecond / 1_000_000} MB/s of heap (${faultFile(paths, service)}); a restart clears it`);
      break;
    }
    case 'pool-exhaustion': {
      const { service, slowQueryRatio, slowQueryMs } = FAULT_SETTINGS.poolExhaustion;
      await writeAtomic(faultFile(paths, service), `${JSON.stringify({ at: Date.now(), fault: 'slow-queries', slowQueryRatio, slowQueryMs })}\n`);
      actions.push(`${slowQueryRatio * 100} % of ${service}'s queries wait ${slowQueryMs} ms in the database (${faultFile(paths, service)}); its pool holds ${await poolMax(paths, service) ?? '?'} connections`);
      break;
    }
    case 'canary-regression': {
      const { upstream, canary, canaryWeight } = FAULT_SETTINGS.canaryRegression;
      if (await startProgram(state, supervisor, canary)) actions.push(`started ${canary} (${await currentRelease(paths, canary) ?? '?'})`);
      const servers = (seededWeights(state)[upstream] ?? []).map((s) => ({ address: s.address, weight: s.address === programAddress(state, canary) ? canaryWeight : 100 - canaryWeight }));
      if (await writeUpstreams(state, { [upstream]: servers })) await reloadNginx(state);
      actions.push(`${upstream} upstream: ${servers.map((s) => `${s.address}=${s.weight}`).join(', ')}; nginx reloaded`);
      const version = (await currentRelease(paths, canary)) ?? 'unknown';
      await appendDeployLog(paths.deployLog, { at: Date.now(), service: upstream, version, previous: (await currentRelease(paths, upstream)) ?? undefined, kind: 'config', by: 'estate inject canary-regression', description: `canary: ${canaryWeight} % of ${upstream} traffic to ${canary}` });
      break;
    }
    case 'load-surge': {
      const { service, factor } = FAULT_SETTINGS.loadSurge;
      const load = { ...seededLoad(), [service]: (seededLoad()[service] ?? 0) * factor };
      await writeAtomic(paths.loadFile, renderLoad(load));
      actions.push(`${service} load ${load[service]} requests/s (${factor} × normal; one instance sustains ${ESTATE_SERVICES.find((s) => s.name === service)?.capacityRps})`);
      break;
    }
  }
  const at = Date.now();
  const latest = await readEstateState(state.dir);
  await writeEstateState({ ...latest, injections: [...latest.injections, { fault, at, requestedAt, actions }] });
  return { at, actions };
}

/** The service programs that run release track `track`. */
function programsOfTrack(track: string): string[] {
  return ESTATE_SERVICE_PROGRAMS.filter((p) => p.track === track).map((p) => p.name);
}

async function poolMax(paths: EstatePaths, service: string): Promise<number | undefined> {
  const value = (await readJson(poolFile(paths, service))) as { max?: unknown } | undefined;
  return typeof value?.max === 'number' ? value.max : undefined;
}

/**
 * Puts the running estate in `dir` back to its healthy, seeded state: each track's healthy release
 * (rolled back through the estate's deploy), the seeded upstream weights (nginx reloaded), the
 * canary and the spare stopped, the seeded pool sizes and load, no fault files (the instances a
 * memory leak ran in are restarted). Records the time in `estate.json` (`healedAt`).
 * @throws InputError `ESTATE_NOT_FOUND`, `ESTATE_NOT_RUNNING`.
 */
export async function heal(dir: string): Promise<EstateChange> {
  const state = await runningState(dir);
  const { paths } = state;
  const supervisor = supervisorClient(state);
  const actions: string[] = [];
  for (const track of releaseTracks()) {
    const result = await deployRelease({ paths, supervisor, track, version: seededRelease(track).version, programs: programsOfTrack(track), kind: 'rollback', by: 'estate heal' });
    if (result.changed) actions.push(`rolled ${track} back to ${result.version} (was ${result.previous ?? 'none'})`);
  }
  if (await writeUpstreams(state, seededWeights(state))) {
    await reloadNginx(state);
    actions.push('upstream weights back to the seeded ones; nginx reloaded');
    // nginx's old workers finish the requests they sent before the reload; let them, then stop.
    await sleep(DRAIN_MS);
  }
  for (const program of ESTATE_SERVICE_PROGRAMS.filter((p) => !p.autostart)) {
    if (await stopProgram(supervisor, program.name)) actions.push(`stopped ${program.name}`);
  }
  for (const service of ESTATE_SERVICES) {
    if ((await poolMax(paths, service.name)) !== service.poolMax) {
      await writeAtomic(poolFile(paths, service.name), renderPool(service.poolMax));
      actions.push(`${service.name} pool back to ${service.poolMax}`);
    }
    const fault = (await readJson(faultFile(paths, service.name))) as { fault?: unknown; at?: unknown } | undefined;
    if (fault === undefined && !(await stat(faultFile(paths, service.name)).then(() => true, () => false))) continue;
    await unlink(faultFile(paths, service.name)).catch(() => undefined);
    actions.push(`removed ${service.name}'s fault file`);
    if (fault?.fault === 'memory-leak') {
      // The leaked memory stays until the process restarts; restart the instances that were leaking.
      const signal = AbortSignal.timeout(60_000);
      for (const program of ESTATE_SERVICE_PROGRAMS.filter((p) => p.service === service.name)) {
        const info = await supervisor.getProcessInfo(program.name, signal);
        if (info.statename !== 'RUNNING' || typeof fault.at !== 'number' || info.start * 1000 > fault.at) continue;
        await supervisor.stopProcess(program.name, signal);
        await supervisor.startProcess(program.name, signal);
        actions.push(`restarted ${program.name} (its heap held the leak)`);
      }
    }
  }
  if ((await readText(paths.loadFile)) !== renderLoad(seededLoad())) {
    await writeAtomic(paths.loadFile, renderLoad(seededLoad()));
    actions.push('load back to the seeded rates');
  }
  const at = Date.now();
  const latest = await readEstateState(state.dir);
  await writeEstateState({ ...latest, healedAt: at });
  return { at, actions };
}
