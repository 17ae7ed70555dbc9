// The `interlock` command as a user runs it: `node bin/interlock.js ...` (the built CLI in dist/), against
// the machine's PostgreSQL, with a real `interlock serve` for the `missions` commands. Every process is
// started with a clean environment in an empty directory (no interlock.yaml) and killed in afterAll.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'interlock.js');
const BUILT_CLI = join(ROOT, 'dist', 'cli', 'main.js');
/** Nothing listens on port 1. */
const UNREACHABLE_DB = 'postgres://postgres@127.0.0.1:1/x';
const PASSWORD = 'Sup3r-s3cret-pw';

/** Every process a test started; afterAll kills those still running. */
const children = new Set<ChildProcess>();
const databases: TestDatabase[] = [];
/** The working directory of every run, with the data directories under it. */
let workDir: string;

beforeAll(async () => {
  if (!existsSync(BUILT_CLI)) {
    throw new Error(`${BUILT_CLI} is missing: these tests run the built CLI (node bin/interlock.js); run \`npm run build\` first (\`npm test\` does)`);
  }
  workDir = await mkdtemp(join(tmpdir(), 'interlock-cli-e2e-'));
});

afterAll(async () => {
  const running = [...children].filter((child) => child.exitCode === null && child.signalCode === null);
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((child) => once(child, 'exit')));
  const dropped = await Promise.allSettled(databases.map((database) => database.drop()));
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  for (const result of dropped) if (result.status === 'rejected') throw result.reason;
});

/** The environment of every run: PATH only, and a data directory of its own; `env` adds to it. */
function environment(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', INTERLOCK_DATA_DIR: join(workDir, 'data'), ...env };
}

/** `node bin/interlock.js ...args` started in {@link workDir}, tracked for afterAll. */
function start(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: workDir, env: environment(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  return child;
}

/** How a run ended and what it printed. */
interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Non-empty stderr lines. */
  readonly errLines: string[];
  /** Wall time from start to exit, ms. */
  readonly ms: number;
}

/** Collects the output of `child` until it exits; SIGKILLs it after `timeoutMs` (the run then has signal SIGKILL). */
async function finish(child: ChildProcess, timeoutMs: number, started = Date.now()): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, stdout, stderr, errLines: stderr.split('\n').filter((line) => line !== ''), ms: Date.now() - started };
}

/** Runs `interlock ...args` to the end (at most `timeoutMs`). */
function interlock(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Run> {
  return finish(start(args, env), timeoutMs);
}

/** The cells of the table rows of `text` (lines starting with `│`), header included. */
function tableRows(text: string): string[][] {
  return text.split('\n').filter((line) => line.startsWith('│')).map((line) => line.split('│').slice(1, -1).map((cell) => cell.trim()));
}

async function freshDatabase(prefix: string): Promise<TestDatabase> {
  const database = await createTestDatabase(prefix);
  databases.push(database);
  return database;
}

describe('usage', () => {
  it('prints the usage with --help and exits 0', async () => {
    const run = await interlock(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: interlock \[options\] \[command\]\n/);
    for (const command of ['serve', 'db', 'doctor', 'config', 'missions', 'approvals', 'principals', 'tokens']) expect(run.stdout).toMatch(new RegExp(`\\n {2}${command} `));
    expect(run.stderr).toBe('');
  });

  it('prints the package version with --version and exits 0', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const run = await interlock(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
    expect(run.stderr).toBe('');
  });

  it('exits 0 without a word when the reader of its output goes away (| head)', async () => {
    const child = start(['config', 'print', '--json']);
    child.stdout?.destroy();
    const run = await finish(child, 30_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});

describe('when the database is unreachable', () => {
  it('serve exits non-zero within seconds with one line naming the address', async () => {
    const run = await interlock(['serve'], { DATABASE_URL: UNREACHABLE_DB }, 15_000);
    expect(run.signal).toBeNull();
    expect(run.code).not.toBe(0);
    expect(run.ms).toBeLessThan(10_000);
    expect(run.errLines).toHaveLength(1);
    expect(run.errLines[0]).toMatch(/^interlock: .*127\.0\.0\.1:1\b/);
  });

  it('serve never prints the password of DATABASE_URL, not even with INTERLOCK_DEBUG=1', async () => {
    const url = `postgres://interlock:${PASSWORD}@127.0.0.1:1/x`;
    const run = await interlock(['serve'], { DATABASE_URL: url }, 15_000);
    expect(run.code).not.toBe(0);
    expect(run.errLines).toHaveLength(1);
    expect(run.errLines[0]).toMatch(/^interlock: .*127\.0\.0\.1:1\b/);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);

    const debug = await interlock(['serve'], { DATABASE_URL: url, INTERLOCK_DEBUG: '1' }, 15_000);
    expect(debug.code).not.toBe(0);
    expect(debug.errLines[0]).toMatch(/^interlock: .*127\.0\.0\.1:1\b/);
    expect(debug.stderr).toMatch(/\n\s+at /); // the stack, as asked
    expect(debug.stdout + debug.stderr).not.toContain(PASSWORD);
  });

  it('doctor exits 1 and names the failed check', async () => {
    const run = await interlock(['doctor'], { DATABASE_URL: UNREACHABLE_DB });
    expect(run.code).toBe(1);
    const checks = new Map(tableRows(run.stdout).map(([name, status, detail]) => [name, { status, detail }]));
    expect(checks.get('database')?.status).toBe('fail');
    expect(checks.get('database')?.detail).toContain('127.0.0.1:1');
    expect(checks.get('configuration')?.status).toBe('ok');
    expect(run.errLines).toHaveLength(1);
    expect(run.errLines[0]).toMatch(/^interlock: 1 of \d+ checks failed: database$/);
  });
});

describe('db migrate and doctor on a fresh database', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await freshDatabase('cli_e2e_migrate');
  });

  it('db migrate applies every migration, then finds none to apply', async () => {
    const first = await interlock(['db', 'migrate'], { DATABASE_URL: database.url });
    expect(first.code, first.stderr).toBe(0);
    const applied = /^applied (\d+) migrations? \((.+)\); schema is at (\S+)\n$/.exec(first.stdout);
    expect(applied, first.stdout).not.toBeNull();
    const [, count, names, current] = applied!;
    const list = names!.split(', ');
    expect(list).toHaveLength(Number(count));
    expect(current).toBe(list.at(-1));

    const second = await interlock(['db', 'migrate'], { DATABASE_URL: database.url });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`schema is up to date at ${current}\n`);

    // Stdout holds the result alone, so scripts can parse it.
    const json = await interlock(['db', 'migrate', '--json'], { DATABASE_URL: database.url });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ applied: [], current });
  });

  it('doctor exits 0 with a table of passing checks', async () => {
    const run = await interlock(['doctor'], { DATABASE_URL: database.url });
    expect(run.errLines).toEqual([]);
    expect(run.code).toBe(0);
    const [head, ...rows] = tableRows(run.stdout);
    expect(head).toEqual(['CHECK', 'STATUS', 'DETAIL']);
    const statuses = Object.fromEntries(rows.map(([name, status]) => [name, status]));
    expect(statuses).toMatchObject({ configuration: 'ok', 'data directory': 'ok', database: 'ok', migrations: 'ok' });
    expect(rows.every(([, status]) => status !== 'fail')).toBe(true);
  });
});

describe('config print', () => {
  it('shows DATABASE_URL with its password redacted', async () => {
    const env = { DATABASE_URL: `postgres://interlock:${PASSWORD}@db.internal:5432/interlock` };
    const yaml = await interlock(['config', 'print'], env);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toContain('url: postgres://interlock:***@db.internal:5432/interlock\n');
    const json = await interlock(['config', 'print', '--json'], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).database.url).toBe('postgres://interlock:***@db.internal:5432/interlock');
    expect(yaml.stdout + yaml.stderr + json.stdout + json.stderr).not.toContain(PASSWORD);
  });
});

describe('serve and the missions commands', () => {
  let server: ChildProcess;
  let output: Promise<Run>;
  let url: string;
  let missionId: string | undefined;
  /** The API token of the admin bootstrapped with `principals create` and `tokens create`. */
  let token: string;

  /** The ID of the mission the first test created. */
  const id = (): string => {
    if (missionId === undefined) throw new Error('no mission: creating it failed (see the first test of this block)');
    return missionId;
  };

  beforeAll(async () => {
    const database = await freshDatabase('cli_e2e_serve');
    // The first admin, straight in the (fresh, so first migrated) database, before the server runs.
    const admin = await interlock(['principals', 'create', 'ci-admin', '--kind', 'human', '--role', 'admin'], { DATABASE_URL: database.url, INTERLOCK_LOG_LEVEL: 'warn' }, 60_000);
    expect(admin.code, admin.stderr).toBe(0);
    const created = await interlock(['tokens', 'create', '--principal', 'ci-admin'], { DATABASE_URL: database.url, INTERLOCK_LOG_LEVEL: 'warn' });
    expect(created.code, created.stderr).toBe(0);
    token = created.stdout.trim();
    expect(token).toMatch(/^il_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    const port = await getPort({ host: '127.0.0.1' });
    url = `http://127.0.0.1:${port}`;
    const dataDir = await mkdtemp(join(workDir, 'serve-'));
    const started = Date.now();
    server = start(['serve'], { DATABASE_URL: database.url, INTERLOCK_HOST: '127.0.0.1', INTERLOCK_PORT: String(port), INTERLOCK_DATA_DIR: dataDir, INTERLOCK_LOG_LEVEL: 'warn' });
    output = finish(server, 600_000, started);
    await waitUntilReady(url, server, output);
  });

  it('runs a mission created over HTTP to resolved', async () => {
    const response = await fetch(`${url}/v1/missions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ title: 'smoke', steps: [{ tool: 'builtin.noop' }] }),
    });
    const body = (await response.json()) as { mission: { id: string } };
    expect(response.status).toBe(201);
    const mission = await waitForOutcome(url, body.mission.id, token);
    expect(mission.outcome).toBe('resolved');
    missionId = body.mission.id;
  });

  it('missions list without a token exits 1 saying how to give one', async () => {
    const run = await interlock(['missions', 'list', '--url', url]);
    expect(run.code).toBe(1);
    expect(run.errLines).toEqual([expect.stringMatching(/^interlock: Interlock at .* needs an API token: set INTERLOCK_TOKEN or pass --token/)]);
  });

  it('missions list shows it in the table', async () => {
    const run = await interlock(['missions', 'list', '--url', url], { INTERLOCK_TOKEN: token });
    expect(run.errLines).toEqual([]);
    expect(run.code).toBe(0);
    const [head, ...rows] = tableRows(run.stdout);
    expect(head).toEqual(['ID', 'TITLE', 'PROJECT', 'STAGE', 'OUTCOME', 'RISK', 'AGE']);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.slice(0, 6)).toEqual([id(), 'smoke', 'default', 'close', 'resolved', 'read']);
  });

  it('missions list --json prints the page as JSON', async () => {
    const run = await interlock(['missions', 'list', '--json', '--url', url], { INTERLOCK_TOKEN: token });
    expect(run.code).toBe(0);
    const page = JSON.parse(run.stdout) as { missions: Array<{ id: string; outcome: string }>; next: string | null };
    expect(page.missions.map((mission) => [mission.id, mission.outcome])).toEqual([[id(), 'resolved']]);
    expect(page.next).toBeNull();
  });

  it('missions show prints its steps and stage history, ending resolved', async () => {
    const run = await interlock(['missions', 'show', id(), '--url', url], { INTERLOCK_TOKEN: token });
    expect(run.errLines).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Mission ${id()}: smoke\\n`));
    expect(run.stdout).toMatch(/\n {2}outcome +resolved\n/);
    const rows = tableRows(run.stdout);
    expect(rows).toContainEqual(['s1', 'builtin.noop', 'read', 'succeeded', '1', expect.stringMatching(/^\d+(ms|\.\ds)$/)]);
    const history = rows.filter((row) => /^\d{4}-\d\d-\d\dT/.test(row[0] ?? '') && row[1]?.includes('→'));
    expect(history[0]?.[1]).toBe('(new) → intake');
    expect(history.at(-1)?.[1]).toBe('verify → close');
  });

  it('missions cancel of the finished mission exits 1 with the one-line MISSION_ALREADY_FINISHED message', async () => {
    const run = await interlock(['missions', 'cancel', id(), '--url', url, '--token', token]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    // What the server answers, straight from the API.
    const response = await fetch(`${url}/v1/missions/${id()}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const answer = (await response.json()) as { error: { code: string; message: string } };
    expect(answer.error.code).toBe('MISSION_ALREADY_FINISHED');
    expect(run.errLines).toEqual([`interlock: ${answer.error.message}`]);
  });

  it('stops on SIGTERM and exits 0 within 15 s', async () => {
    server.kill('SIGTERM');
    const stopping = Date.now();
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
    const ended = await Promise.race([output, timeout]);
    expect(ended, `still running 15 s after SIGTERM`).not.toBe('timeout');
    const run = ended as Run;
    expect(run.signal).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(15_000);
  });
});

describe('serve when its port is taken', () => {
  it('exits 1 within seconds with the error, instead of running on without an API', async () => {
    const database = await freshDatabase('cli_e2e_port');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as { port: number };
      const run = await interlock(['serve'], { DATABASE_URL: database.url, INTERLOCK_HOST: '127.0.0.1', INTERLOCK_PORT: String(port), INTERLOCK_LOG_LEVEL: 'warn' }, 30_000);
      expect(run.signal).toBeNull();
      expect(run.code).toBe(1);
      expect(run.errLines.filter((line) => line.startsWith('interlock: '))).toEqual([expect.stringMatching(new RegExp(`^interlock: .*EADDRINUSE.*127\\.0\\.0\\.1:${port}$`))]);
      expect(run.ms).toBeLessThan(20_000);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

/** Polls `GET /readyz` until it answers 200; rejects with the server's output if it exits first or takes over 60 s. */
async function waitUntilReady(base: string, child: ChildProcess, output: Promise<Run>): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited: Run | undefined;
  void output.then((run) => (exited = run));
  for (;;) {
    if (exited !== undefined) throw new Error(`interlock serve exited (${exited.code ?? exited.signal}) before it was ready:\n${exited.stderr}\n${exited.stdout.slice(-4000)}`);
    const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) }).then((response) => response.status === 200, () => false);
    if (ready) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      const run = await output;
      throw new Error(`interlock serve not ready within 60 s:\n${run.stderr}\n${run.stdout.slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Polls `GET /v1/missions/:id` (with API token `token`) until the mission has an outcome, at most 30 s. */
async function waitForOutcome(base: string, missionId: string, token: string): Promise<{ outcome: string; stage: string }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { mission } = (await (await fetch(`${base}/v1/missions/${missionId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { mission: { outcome: string | null; stage: string } };
    if (mission.outcome !== null) return { outcome: mission.outcome, stage: mission.stage };
    if (Date.now() > deadline) throw new Error(`mission ${missionId} has no outcome after 30 s (stage ${mission.stage})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
