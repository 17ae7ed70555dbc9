// The postgres connector against the machine's PostgreSQL (a database of its own from
// test/support/postgres.ts). Sessions of the application `payments` run `select pg_sleep(30)` as a
// role without superuser rights, as a service's pool would; the connector connects as a role holding
// only pg_signal_backend and pg_read_all_stats, as docs/connectors/postgres.md recommends. A small
// HTTP server plays the service's /metrics: it applies the pool settings file every 200 ms and
// reports db_pool_max through prom-client, as the estate's services do. Nothing is timed: the tests
// poll with deadlines.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresConnector, PostgresConfigSchema, withPostgresSecrets } from '../../src/connectors/postgres/index.js';
import { InputError } from '../../src/core/errors.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import { toolRunner } from '../support/connectors.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const suffix = randomBytes(4).toString('hex');
/** The connector's role: pg_signal_backend and pg_read_all_stats, nothing else. */
const CONNECTOR_ROLE = `il_pg_connector_${suffix}`;
/** The services' role: a plain login role. */
const APP_ROLE = `il_pg_app_${suffix}`;

let database: TestDatabase;
let catalog: ToolCatalog;
let dir: string;
let metrics: Server;
let stopPolling: () => void = () => undefined;
const clients: pg.Client[] = [];
const { context, call, verify } = toolRunner(() => catalog);

/** A session of `applicationName` as `user` (the superuser `postgres` when unset) running `sql` (nothing when null). */
interface OpenSession {
  readonly pid: number;
  readonly client: pg.Client;
  /** Settles when the statement ends: the error's SQLSTATE (57P01 when terminated), or `done`. */
  readonly outcome: Promise<string>;
}

function urlAs(user: string): string {
  const url = new URL(database.url);
  url.username = user;
  return url.toString();
}

async function openSession(applicationName: string, sql: string | null, user = APP_ROLE): Promise<OpenSession> {
  const client = new pg.Client({ connectionString: urlAs(user), application_name: applicationName });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  const [row] = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows;
  const outcome = sql === null ? new Promise<string>(() => undefined) : client.query(sql).then(() => 'done', (error: unknown) => String((error as { code?: string }).code ?? error));
  return { pid: row!.pid, client, outcome };
}

/** Whether backend `pid` still exists, asked as the superuser. */
async function alive(pid: number): Promise<boolean> {
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  try {
    return (await admin.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

/** Ends the test's own sessions, as the superuser (they would sleep for 30 s otherwise). */
async function endSessions(...sessions: OpenSession[]): Promise<void> {
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  try {
    await admin.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [sessions.map((s) => s.pid)]);
  } finally {
    await admin.end();
  }
}

async function withAdmin(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Polls `check` until it is true, failing after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The error a call throws. */
async function refusal(promise: Promise<unknown>): Promise<InputError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(InputError);
  return error as InputError;
}

/** Plays the payments service's /metrics: applies the pool file every 200 ms, reports db_pool_max through prom-client. */
async function startMetrics(poolFile: string): Promise<string> {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'payments', version: '2.1.0' });
  const gauge = new Gauge({ name: 'db_pool_max', help: 'Largest number of connections in the pool.', registers: [registry] });
  const apply = async (): Promise<void> => {
    try {
      gauge.set((JSON.parse(await readFile(poolFile, 'utf8')) as { max: number }).max);
    } catch {
      // mid-write or missing: keep the pool as it is, as the service does
    }
  };
  await apply();
  const timer = setInterval(() => void apply(), 200);
  stopPolling = () => clearInterval(timer);
  metrics = createServer((_, response) => {
    void registry.metrics().then((text) => {
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(text);
    });
  });
  await new Promise<void>((done) => metrics.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`;
}

beforeAll(async () => {
  database = await createTestDatabase('postgres_connector');
  await withAdmin(`create role ${CONNECTOR_ROLE} login; grant pg_signal_backend, pg_read_all_stats to ${CONNECTOR_ROLE}; create role ${APP_ROLE} login`);
  dir = await mkdtemp(join(tmpdir(), 'postgres-connector-int-'));
  const poolFile = join(dir, 'pools', 'payments.json');
  await mkdir(join(dir, 'pools'));
  await writeFile(poolFile, '{"max": 4}\n');
  const metricsUrl = await startMetrics(poolFile);
  const config = withPostgresSecrets(PostgresConfigSchema.parse({
    enabled: true,
    urlEnv: 'ESTATE_DATABASE_URL',
    statementTimeoutMs: 5000,
    maxTerminatePerCall: 2,
    verifyWindowMs: 600,
    services: [
      { name: 'payments', tier: 'standard', pool: { file: poolFile, metricsUrl, baseline: 4, min: 2, max: 16 } },
      { name: 'checkout', tier: 'critical', risk: 'write-prod' },
    ],
  }), { ESTATE_DATABASE_URL: urlAs(CONNECTOR_ROLE) });
  catalog = new ToolCatalog(createPostgresConnector(config));
  catalog.check();
}, 60_000);

afterAll(async () => {
  stopPolling();
  await new Promise((done) => (metrics === undefined ? done(undefined) : metrics.close(done)));
  await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  await database?.drop();
  await withAdmin(`drop role if exists ${CONNECTOR_ROLE}; drop role if exists ${APP_ROLE}`).catch(() => undefined);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('postgres connector against PostgreSQL', () => {
  it('reads sessions from pg_stat_activity, bounded, with counts per state, and terminates the long-running queries of the service only', async () => {
    const payments = [await openSession('payments', 'select pg_sleep(30)'), await openSession('payments', 'select pg_sleep(30)'), await openSession('payments', 'select pg_sleep(30)')];
    const idle = await openSession('payments', null);
    const reports = await openSession('reports', 'select pg_sleep(30)');
    const superuser = await openSession('payments', 'select pg_sleep(30)', 'postgres');
    await until('every sleeping session running for 1 s', async () => {
      const { sessions } = await call('postgres.activity', { minDurationMs: 1000 });
      return sessions.length === 5;
    });

    const all = await call('postgres.activity', {});
    expect(all.service).toBeNull();
    expect(all.total).toBe(6);
    expect(all.byState).toEqual({ active: 5, idle: 1 });
    expect(all.sessions.map((s: { applicationName: string }) => s.applicationName)).not.toContain('interlock-postgres-connector');
    const first = all.sessions.find((s: { pid: number }) => s.pid === payments[0]!.pid);
    expect(first).toMatchObject({ applicationName: 'payments', service: 'payments', user: APP_ROLE, state: 'active', waitEventType: 'Timeout', waitEvent: 'PgSleep', query: 'select pg_sleep(30)', queryTruncated: false, terminable: true });
    expect(first.durationMs).toBeGreaterThanOrEqual(1000);
    expect(Date.parse(first.queryStart)).toBeLessThanOrEqual(Date.now());
    expect(all.sessions.find((s: { pid: number }) => s.pid === reports.pid)).toMatchObject({ service: null, terminable: false });
    expect(all.sessions.find((s: { pid: number }) => s.pid === superuser.pid)).toMatchObject({ service: 'payments', user: 'postgres', terminable: false });
    expect(all.sessions.find((s: { pid: number }) => s.pid === idle.pid)).toMatchObject({ state: 'idle', durationMs: null });

    const mine = await call('postgres.activity', { service: 'payments', minDurationMs: 1000, limit: 2 });
    expect(mine).toMatchObject({ service: 'payments', matching: 4, truncated: true, total: 5, byState: { active: 4, idle: 1 } });
    expect(mine.sessions).toHaveLength(2);
    expect(mine.sessions[0].durationMs).toBeGreaterThanOrEqual(mine.sessions[1].durationMs);

    // The cap: the two longest-running first, the third on the next call; never reports' or the superuser's.
    const tool = catalog.get('postgres.terminate');
    const args = { service: 'payments', minDurationMs: 1000 };
    expect(await tool.observe!(args, new AbortController().signal)).toMatchObject({ sessions: 4, active: 3, longRunning: 3 });
    const result = await call('postgres.terminate', args);
    expect(result).toMatchObject({ service: 'payments', alreadyGone: [], skipped: 1 });
    expect(result.terminated).toEqual([payments[0]!.pid, payments[1]!.pid]);
    expect(result.sessions.map((s: { query: string }) => s.query)).toEqual(['select pg_sleep(30)', 'select pg_sleep(30)']);
    const check = await verify(tool, args, result);
    expect(check.ok, check.observed).toBe(true);
    expect(await payments[0]!.outcome).toBe('57P01'); // admin_shutdown: terminated by pg_terminate_backend
    expect(await payments[1]!.outcome).toBe('57P01');

    const rest = await call('postgres.terminate', args);
    expect(rest).toMatchObject({ terminated: [payments[2]!.pid], skipped: 0 });
    expect((await verify(tool, args, rest)).ok).toBe(true);
    expect(await payments[2]!.outcome).toBe('57P01');
    // Idempotent by state: nothing left that qualifies.
    expect(await call('postgres.terminate', args)).toEqual({ service: 'payments', terminated: [], alreadyGone: [], sessions: [], skipped: 0 });

    expect(await alive(reports.pid)).toBe(true);
    expect(await alive(superuser.pid)).toBe(true);
    expect(await alive(idle.pid)).toBe(true); // idle: not a running query
    await endSessions(idle, reports, superuser);
  });

  it('terminates one pid of the service, refuses another application\'s or a superuser\'s, naming pid, and takes a gone pid as done', async () => {
    const mine = await openSession('payments', null);
    const other = await openSession('reports', 'select pg_sleep(30)');
    const superuser = await openSession('payments', null, 'postgres');

    const refused = await refusal(call('postgres.terminate', { service: 'payments', pid: other.pid }));
    expect(refused.code).toBe('TOOL_ARGS_INVALID');
    expect(refused.issues.map((i) => i.path)).toEqual(['pid']);
    expect(refused.message).toContain('application_name "reports", not of service payments');
    expect((await refusal(call('postgres.terminate', { service: 'payments', pid: superuser.pid }))).message).toContain('is a superuser\'s session');
    expect((await refusal(call('postgres.terminate', { service: 'checkout', pid: mine.pid }))).message).toContain('not of service checkout');
    expect(await alive(other.pid)).toBe(true);
    expect(await alive(superuser.pid)).toBe(true);

    const tool = catalog.get('postgres.terminate');
    const result = await call('postgres.terminate', { service: 'payments', pid: mine.pid });
    expect(result).toMatchObject({ service: 'payments', terminated: [mine.pid], alreadyGone: [], skipped: 0, sessions: [{ pid: mine.pid, state: 'idle', signalled: true }] });
    expect((await verify(tool, { service: 'payments', pid: mine.pid }, result)).ok).toBe(true);
    expect(await alive(mine.pid)).toBe(false);
    // Run again (a retry): the session is gone, which is what was asked.
    expect(await call('postgres.terminate', { service: 'payments', pid: mine.pid })).toEqual({ service: 'payments', terminated: [], alreadyGone: [mine.pid], sessions: [], skipped: 0 });
    await endSessions(other, superuser);
  });

  it('sets the pool size within the hard limit, verified by the service\'s metrics, compensated back, and reverted to the baseline', async () => {
    const poolFile = join(dir, 'pools', 'payments.json');
    const tool = catalog.get('postgres.set_pool_size');

    const beyond = catalog.validateArgs('postgres.set_pool_size', { service: 'payments', size: 17 }, 'steps.0');
    expect(beyond.ok).toBe(false);
    expect(!beyond.ok && beyond.issues.map((i) => i.path)).toEqual(['steps.0.args.size']);
    const refused = await refusal(tool.execute({ service: 'payments', size: 17 }, context()));
    expect(refused.issues).toEqual([expect.objectContaining({ path: 'size', expected: '2..16', received: '17' })]);
    expect(JSON.parse(await readFile(poolFile, 'utf8'))).toEqual({ max: 4 });

    const result = await call('postgres.set_pool_size', { service: 'payments', size: 12 });
    expect(result).toEqual({ service: 'payments', previous: 4, size: 12 });
    const check = await verify(tool, { service: 'payments', size: 12 }, result);
    expect(check).toEqual({ ok: true, observed: 'payments reports db_pool_max 12' });

    const undo = tool.compensation!.args({ service: 'payments', size: 12 }, result);
    const undone = await call(tool.compensation!.tool, undo);
    expect(undone).toEqual({ service: 'payments', previous: 12, size: 4 });
    expect((await verify(tool, undo, undone)).ok).toBe(true);

    await call('postgres.set_pool_size', { service: 'payments', size: 16 });
    const revert = catalog.get('postgres.revert_pool_size');
    const reverted = await call('postgres.revert_pool_size', { service: 'payments' });
    expect(reverted).toEqual({ service: 'payments', previous: 16, size: 4 });
    expect(await verify(revert, { service: 'payments' }, reverted)).toEqual({ ok: true, observed: 'payments reports db_pool_max 4' });
  });
});
