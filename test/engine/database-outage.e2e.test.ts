// Database lost mid-run (issue #2): PostgreSQL stops while a mission executes; the mission pauses and
// resumes when the server returns, and nothing is lost or done twice. The server is a private embedded
// PostgreSQL this test starts and stops; the worker is a separate process pointed at it.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/store/index.js';
import { http, spawnWorker, waitForMission, type WorkerProcess } from '../support/workers.js';

let dir: string;
let server: EmbeddedPostgres | undefined;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlock-outage-'));
  await chmod(dir, 0o755);
  server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg') });
});

afterAll(async () => {
  await worker?.kill();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('database lost mid-run', () => {
  it('pauses the running mission while PostgreSQL is down and finishes it, once, when it returns', async () => {
    worker = await spawnWorker({ DATABASE_URL: server!.url, INTERLOCK_WORKER_ID: 'outage-1', INTERLOCK_DATA_DIR: dir });
    const { json } = await http('POST', `${worker.url}/v1/missions`, {
      title: 'survive a database restart',
      steps: [1, 2, 3].map((n) => ({ tool: 'ledger.append', args: { amount: n, delayMs: 1500 } })),
    });
    await waitForMission(worker.url, json.mission.id, (m) => m.steps.some((s: { stepId: string; status: string }) => s.stepId === 's2' && s.status === 'running'));

    await server!.stop();
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const during = await fetch(`${worker.url}/readyz`);
    expect(during.status).toBe(503);
    server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg') });

    const mission = await waitForMission(worker.url, json.mission.id, undefined, 120_000);
    expect(mission.outcome).toBe('resolved');
    const pool = new pg.Pool({ connectionString: server.url, max: 1 });
    try {
      const { rows } = await pool.query('select step_id, count(*)::int as n from ledger where mission_id = $1 group by step_id order by step_id', [mission.id]);
      expect(rows).toEqual([{ step_id: 's1', n: 1 }, { step_id: 's2', n: 1 }, { step_id: 's3', n: 1 }]);
    } finally {
      await pool.end();
    }
    expect(worker.child.exitCode).toBeNull();
  }, 180_000);
});
