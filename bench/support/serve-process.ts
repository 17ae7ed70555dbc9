import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './report.js';
import { isAlive, processMemory, type ProcessMemory } from '../../test/support/processes.js';

export type { ProcessMemory };

/** The CLI launcher; it runs the compiled `dist/`. */
const INTERLOCK_BIN = join(REPO_ROOT, 'bin', 'interlock.js');

/** Lines of a child's output kept for error messages. */
const TAIL_LINES = 30;

/** How a stopped child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** SIGTERM to exit, ms. */
  readonly stopMs: number;
}

/** Sends SIGTERM and waits for the exit; after `timeoutMs` sends SIGKILL and throws. */
async function terminate(child: ChildProcess, exited: Promise<Omit<Exit, 'stopMs'>>, timeoutMs: number, tail: () => string): Promise<Exit> {
  const started = performance.now();
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timedOut = Symbol('timeout');
  const result = await Promise.race([exited, sleep(timeoutMs, timedOut)]);
  if (result === timedOut) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`process ${child.pid ?? '?'} did not exit within ${timeoutMs} ms of SIGTERM and was killed; its last output:\n${tail()}`);
  }
  return { ...result, stopMs: performance.now() - started };
}

/** A child process with its output tail and its exit. */
interface Watched {
  readonly child: ChildProcess;
  readonly exited: Promise<Omit<Exit, 'stopMs'>>;
  readonly tail: () => string;
  /** Called with each stdout line. */
  onLine(listener: (line: string) => void): void;
}

function watch(child: ChildProcess): Watched {
  const lines: string[] = [];
  const listeners: Array<(line: string) => void> = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > TAIL_LINES) lines.shift();
  };
  if (child.stdout !== null) createInterface({ input: child.stdout }).on('line', (line) => {
    keep(line);
    for (const listener of listeners) listener(line);
  });
  if (child.stderr !== null) createInterface({ input: child.stderr }).on('line', keep);
  const exited = new Promise<Omit<Exit, 'stopMs'>>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, exited, tail: () => lines.join('\n'), onLine: (listener) => listeners.push(listener) };
}

/**
 * The environment for a child `interlock serve`: this process's environment without any Interlock
 * setting, `DATABASE_URL` or `NODE_OPTIONS`, then a free port on loopback, `info` logs (the
 * "Interlock is serving" line carries the URL), and `overrides`.
 */
export function serveEnvironment(overrides: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('INTERLOCK_') || key === 'DATABASE_URL' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return { ...env, INTERLOCK_HOST: '127.0.0.1', INTERLOCK_PORT: '0', INTERLOCK_LOG_LEVEL: 'info', ...overrides };
}

/** Options of {@link startServe}. */
export interface StartServeOptions {
  /** Environment of the child, e.g. from {@link serveEnvironment}. */
  readonly env: NodeJS.ProcessEnv;
  /** Working directory (no `interlock.yaml` in it, so only `env` configures the server). */
  readonly cwd: string;
  /** Give up when `/readyz` has not answered 200 this long after the spawn, ms. */
  readonly readyTimeoutMs: number;
  /** Interval between `/readyz` probes, ms. */
  readonly pollMs: number;
}

/** A running `interlock serve` child. */
export interface ServeProcess {
  readonly pid: number;
  /** Base URL of its HTTP API, from its "Interlock is serving" log line. */
  readonly url: string;
  /** Spawn to the first `/readyz` 200, ms. */
  readonly readyMs: number;
  /** The JSON log entries it wrote up to that point, e.g. `embedded PostgreSQL started` with its `ms`. */
  readonly startupLog: ReadonlyArray<Readonly<Record<string, unknown>>>;
  memory(): Promise<ProcessMemory>;
  /** SIGTERM, then waits for the exit (SIGKILL and throws after `timeoutMs`). */
  stop(timeoutMs: number): Promise<Exit>;
}

/** A pino JSON log line as an object, or undefined for any other output. */
function parseLogLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry: unknown = JSON.parse(line);
    return typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves with the `url` of the first "Interlock is serving" line; rejects if the child exits first. */
function servingUrl(watched: Watched): Promise<string> {
  return new Promise((resolve, reject) => {
    watched.onLine((line) => {
      const entry = parseLogLine(line);
      if (entry?.msg === 'Interlock is serving' && typeof entry.url === 'string') resolve(entry.url);
    });
    void watched.exited.then(({ code, signal }) => reject(new Error(`interlock serve exited (code ${code ?? 'none'}, signal ${signal ?? 'none'}) before serving; its last output:\n${watched.tail()}`)));
  });
}

/** Probes `<url>/readyz` until it answers 200; throws at `deadline` (performance.now() ms). */
async function waitReady(url: string, watched: Watched, deadline: number, pollMs: number): Promise<void> {
  for (;;) {
    if (watched.child.exitCode !== null) throw new Error(`interlock serve exited before it was ready; its last output:\n${watched.tail()}`);
    const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then((response) => response.status, () => 0);
    if (status === 200) return;
    if (performance.now() > deadline) throw new Error(`${url}/readyz did not answer 200 in time (last status ${status}); the server's last output:\n${watched.tail()}`);
    await sleep(pollMs);
  }
}

/**
 * Spawns `node bin/interlock.js serve` and resolves once `/readyz` answers 200, with the time that
 * took. On failure the child is stopped and the error carries the tail of its output.
 */
export async function startServe(options: StartServeOptions): Promise<ServeProcess> {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [INTERLOCK_BIN, 'serve'], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const watched = watch(child);
  const startupLog: Array<Record<string, unknown>> = [];
  watched.onLine((line) => {
    const entry = parseLogLine(line);
    if (entry !== undefined && startupLog.length < 1000) startupLog.push(entry);
  });
  const url = servingUrl(watched);
  const stop = (timeoutMs: number): Promise<Exit> => terminate(child, watched.exited, timeoutMs, watched.tail);
  try {
    const deadline = spawnedAt + options.readyTimeoutMs;
    const base = await Promise.race([url, sleep(options.readyTimeoutMs, null)]);
    if (base === null) throw new Error(`interlock serve did not log "Interlock is serving" within ${options.readyTimeoutMs} ms; its last output:\n${watched.tail()}`);
    await waitReady(base, watched, deadline, options.pollMs);
    const readyMs = performance.now() - spawnedAt;
    const pid = child.pid;
    if (pid === undefined) throw new Error('interlock serve has no PID');
    return { pid, url: base, readyMs, startupLog: [...startupLog], memory: () => processMemory(pid), stop };
  } catch (error) {
    await stop(10_000).catch(() => undefined);
    throw error;
  }
}

/**
 * Spawns a bare `node -e "setInterval(() => {}, 1000)"`, the memory baseline, waits `settleMs`,
 * reads its memory and stops it.
 */
export async function bareNodeMemory(settleMs: number): Promise<ProcessMemory> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'pipe'], env: serveEnvironment({}) });
  const watched = watch(child);
  try {
    await sleep(settleMs);
    if (child.pid === undefined) throw new Error('the bare node process has no PID');
    return await processMemory(child.pid);
  } finally {
    await terminate(child, watched.exited, 10_000, watched.tail);
  }
}

/**
 * Stops a PostgreSQL server left running in `clusterDir` (its `postmaster.pid` names a live
 * process), as happens when `interlock serve` is killed before it stops its embedded server.
 * Returns the PID it stopped, or null when there was none.
 */
export async function stopLeftoverPostgres(clusterDir: string, timeoutMs = 10_000): Promise<number | null> {
  const pidFile = await readFile(join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = Number(pidFile?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  process.kill(pid, 'SIGINT');
  const deadline = performance.now() + timeoutMs;
  while (isAlive(pid) && performance.now() < deadline) await sleep(50);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  return pid;
}

