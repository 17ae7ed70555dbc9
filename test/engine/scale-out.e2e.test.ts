// Scale-out (issue #2): several worker processes on one PostgreSQL share 500 missions through the DBOS
// queue; every side effect happens exactly once and every mission finishes, also when one worker is
// killed for good in the middle (its missions are taken over by the survivors).
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAuditSigner } from '../../src/server/audit.js';
import { createDatabase, PgAuditLog } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { http, spawnWorker, type WorkerProcess } from '../support/workers.js';

const MISSIONS = 500;
const STEPS_PER_MISSION = 2;

let database: TestDatabase;
let dataDir: string;
let pool: pg.Pool;
const workers: WorkerProcess[] = [];

beforeEach(async () => {
  database = await createTestDatabase('scale_out');
  dataDir = await mkdtemp(join(tmpdir(), 'interlock-scale-'));
  await chmod(dataDir, 0o755);
  // Short heartbeats and lease so a dead worker is noticed within seconds.
  // Every worker signs audit checkpoints each second with the data directory's shared key.
  await writeFile(join(dataDir, 'interlock.yaml'), 'engine:\n  heartbeatMs: 250\n  leaseMs: 1500\n  concurrency: 25\naudit:\n  checkpointIntervalMs: 1000\n');
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  // An idle connection the server drops would otherwise be an unhandled 'error' event of the pool.
  pool.on('error', () => undefined);
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.kill()));
  await pool.end();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
});

async function startWorkers(n: number): Promise<WorkerProcess[]> {
  const started = await Promise.all(Array.from({ length: n }, (_, i) => spawnWorker({
    DATABASE_URL: database.url, INTERLOCK_DATA_DIR: dataDir, INTERLOCK_CONFIG: join(dataDir, 'interlock.yaml'), INTERLOCK_WORKER_ID: `worker-${i + 1}`,
  })));
  workers.push(...started);
  return started;
}

/** Submits the missions round-robin over the workers' APIs, at most 16 requests in flight. */
async function submit(targets: readonly WorkerProcess[], count: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < count) {
      const i = next++;
      const target = targets[i % targets.length]!;
      const { status, json } = await http('POST', `${target.url}/v1/missions`, {
        title: `mission ${i}`,
        labels: { service: `ledger-${i}` }, // one target per mission: the guards (breaker, per-target rate limit) must not link them
        steps: Array.from({ length: STEPS_PER_MISSION }, (_, s) => ({ tool: 'ledger.append', args: { amount: s + 1 } })),
      });
      expect(status).toBe(201);
      ids.push(json.mission.id);
    }
  }));
  return ids;
}

async function waitAllFinished(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>('select count(*)::int as n from interlock.missions where outcome is null');
    if (rows[0]!.n === 0) return;
    if (Date.now() > deadline) throw new Error(`${rows[0]!.n} mission(s) still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function expectEverySideEffectOnce(ids: readonly string[]): Promise<void> {
  const outcomes = await pool.query<{ outcome: string; n: number }>('select outcome, count(*)::int as n from interlock.missions group by outcome');
  expect(outcomes.rows).toEqual([{ outcome: 'resolved', n: ids.length }]);
  const perStep = await pool.query<{ n: number; steps: number }>(
    'select n, count(*)::int as steps from (select count(*)::int as n from ledger group by mission_id, step_id) per group by n');
  expect(perStep.rows).toEqual([{ n: 1, steps: ids.length * STEPS_PER_MISSION }]);
  const missing = await pool.query('select m.id from interlock.missions m where (select count(*) from ledger l where l.mission_id = m.id::text) <> $1', [STEPS_PER_MISSION]);
  expect(missing.rows).toEqual([]);
}

/**
 * The workers' audit entries form one tree: the checkpoints they signed concurrently all verify, and
 * every tool call of every mission is in it once.
 */
async function expectOneAuditTree(ids: readonly string[]): Promise<void> {
  const handle = createDatabase({ url: database.url, poolSize: 2 });
  try {
    const log = new PgAuditLog(handle.db);
    const signer = await loadAuditSigner(join(dataDir, 'audit-signing.key'), 'interlock/audit', { create: false });
    expect(signer).toBeDefined();
    await log.checkpoint(signer!, 'interlock/audit');
    const verified = await log.verify(signer!.verifierKey);
    expect(verified).toMatchObject({ ok: true, size: await log.size() });
    expect(verified.ok && verified.checkpoints).toBeGreaterThan(2);
    const calls = await pool.query<{ n: number }>("select count(distinct (mission_id, convert_from(entry, 'UTF8')::jsonb #>> '{data,stepId}'))::int as n from interlock.audit_entries where kind = 'tool.called'");
    expect(calls.rows[0]!.n).toBe(ids.length * STEPS_PER_MISSION);
  } finally {
    await handle.close();
  }
}

async function missionsRunBy(): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ executor_id: string; n: number }>(
    "select executor_id, count(*)::int as n from dbos.workflow_status where name = 'interlock.mission' group by executor_id");
  return new Map(rows.map((r) => [r.executor_id, r.n]));
}

describe('scale-out on one database', () => {
  it('two workers share 500 missions: all finish, every side effect exactly once', async () => {
    const started = await startWorkers(2);
    const ids = await submit(started, MISSIONS);
    await waitAllFinished(240_000);
    await expectEverySideEffectOnce(ids);
    await expectOneAuditTree(ids);
    const by = await missionsRunBy();
    expect([...by.keys()].sort()).toEqual(['worker-1', 'worker-2']);
    for (const n of by.values()) expect(n).toBeGreaterThan(MISSIONS / 10);
  }, 300_000);

  it('three workers, one killed for good mid-run: the survivors take over its missions, all finish, every side effect once', async () => {
    const started = await startWorkers(3);
    const [doomed, ...survivors] = started as [WorkerProcess, WorkerProcess, WorkerProcess];
    const submitting = submit(survivors, MISSIONS);
    // Kill worker-1 while it holds missions in flight.
    for (;;) {
      const { rows } = await pool.query<{ n: number }>(
        "select count(*)::int as n from dbos.workflow_status where executor_id = 'worker-1' and status = 'PENDING'");
      if (rows[0]!.n >= 5) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await doomed.kill();
    const ids = await submitting;
    await waitAllFinished(240_000);
    await expectEverySideEffectOnce(ids);
    const registry = await pool.query<{ id: string; state: string; taken_over_by: string | null }>('select id, state, taken_over_by from interlock.workers order by id');
    expect(registry.rows[0]).toMatchObject({ id: 'worker-1', state: 'dead' });
    expect(['worker-2', 'worker-3']).toContain(registry.rows[0]!.taken_over_by);
    const pendingOnDead = await pool.query("select 1 from dbos.workflow_status where executor_id = 'worker-1' and status = 'PENDING'");
    expect(pendingOnDead.rows).toEqual([]);
  }, 300_000);
});
