import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('../fixtures/worker.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));

/** A worker process started by a test. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Base URL of its HTTP API. */
  readonly url: string;
  readonly workerId: string;
  /** Its database URL (for the test to read the ledger). */
  readonly databaseUrl: string;
  /** An API token of an admin principal the worker created at start; {@link http} sends it to this worker. */
  readonly token: string;
  /** Resolves with the exit code or signal once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGTERM and waits for a clean exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** Sends SIGKILL and waits for the process to end. */
  kill(): Promise<void>;
}

/**
 * Starts `test/fixtures/worker.ts` (the production wiring plus the ledger tools) with `env` added to
 * this process's environment, and waits for its ready line. Rejects if it exits first or takes
 * longer than `timeoutMs`; its stderr is kept and attached to the error.
 */
export async function spawnWorker(env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', TSX, WORKER], {
    env: { ...process.env, INTERLOCK_PORT: '0', INTERLOCK_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  // Not `events.once`: it rejects on an 'error' event (e.g. a failed kill), and nothing awaits some of
  // the promises derived from this one, so a rejection would be unhandled. Errors go to the stderr kept.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  child.on('error', (error) => {
    stderr = `${stderr}\n[worker process error] ${error.message}`.slice(-8000);
  });
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise<{ url: string; workerId: string; databaseUrl: string; token: string }>((resolve, reject) => {
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { ready?: boolean; url: string; workerId: string; databaseUrl: string; token: string };
        if (parsed.ready === true) resolve(parsed);
      } catch {
        // not the ready line
      }
    });
    void exited.then(({ code, signal }) => reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${stderr}`)));
    setTimeout(() => reject(new Error(`worker not ready within ${timeoutMs} ms:\n${stderr}`)), timeoutMs).unref();
  });
  let info: { url: string; workerId: string; databaseUrl: string; token: string };
  try {
    info = await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  tokens.set(new URL(info.url).origin, info.token);
  return {
    child,
    ...info,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The API token of each spawned worker, by the origin of its URL (`http://127.0.0.1:port`). */
const tokens = new Map<string, string>();

/**
 * JSON of `GET url`, or of `POST url` with `body`, authenticated with the token of the spawned worker
 * that serves `url` (any worker's token is valid on every worker of the same database).
 */
export async function http(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const token = tokens.get(new URL(url).origin);
  const headers = { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
  const response = await fetch(url, body === undefined ? { method, headers } : { method, headers, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

/** Polls `GET <base>/v1/missions/:id` until `until` holds, at most `timeoutMs`. */
export async function waitForMission(base: string, id: string, until: (m: any) => boolean = (m) => m.outcome !== null, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await http('GET', `${base}/v1/missions/${id}`);
    if (json.mission !== undefined && until(json.mission)) return json.mission;
    if (Date.now() > deadline) throw new Error(`mission ${id} not in the expected state after ${timeoutMs} ms: ${JSON.stringify(json.mission?.stage)} ${JSON.stringify(json.mission?.outcome)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
