// A mission waiting for approval survives an upgrade of Interlock (issue #2): it is started by this
// build, the worker stops while the mission waits, and a different build (another package version,
// changed code, the same pinned workflow version) recovers it and finishes it once approved.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DBOSClient } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_TOPIC, type ControlMessage } from '../../src/engine/mission-workflow.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { http, spawnWorker, waitForMission, type WorkerProcess } from '../support/workers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NEXT_VERSION = '99.0.0-upgrade-test';

let database: TestDatabase;
let release: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('upgrade');
  // "The next release": a copy of the built package with another version and changed workflow code.
  if (!existsSync(join(ROOT, 'dist/server/main.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  release = await mkdtemp(join(tmpdir(), 'interlock-next-'));
  await cp(join(ROOT, 'dist'), join(release, 'dist'), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(release, 'node_modules'));
  const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  await writeFile(join(release, 'package.json'), JSON.stringify({ ...manifest, version: NEXT_VERSION }));
  await appendFile(join(release, 'dist/engine/mission-workflow.js'), '\n// changed in the next release\nexport const RELEASE_NOTE = "next";\n');
}, 120_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await database?.drop();
  await rm(release, { recursive: true, force: true });
});

describe('upgrade while a mission waits for approval', () => {
  it('the next release resumes the waiting mission and finishes it once approved, without repeating anything', async () => {
    const env = { DATABASE_URL: database.url, INTERLOCK_WORKER_ID: 'upgrade-1' };
    const current = await spawnWorker(env);
    workers.push(current);
    const { json } = await http('POST', `${current.url}/v1/missions`, { title: 'prod change across an upgrade', steps: [{ tool: 'ledger.append-prod', args: { amount: 5 } }] });
    const waiting = await waitForMission(current.url, json.mission.id, (m) => m.waitingFor === 'approval');
    expect(waiting.workflowVersion).toBe('mission-v1');
    await current.stop();

    const next = await spawnWorker({ ...env, INTERLOCK_DIST: join(release, 'dist') });
    workers.push(next);
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    const client = await DBOSClient.create({ systemDatabaseUrl: database.url, systemDatabaseSchemaName: 'dbos' });
    try {
      const { rows: registry } = await pool.query<{ version: string }>("select version from interlock.workers where id = 'upgrade-1'");
      expect(registry[0]?.version).toBe(NEXT_VERSION);
      const stillWaiting = await waitForMission(next.url, waiting.id, (m) => m.waitingFor === 'approval');
      expect(stillWaiting.outcome).toBeNull();

      await client.send<ControlMessage>(waiting.id, { type: 'review', approved: true, by: 'change-board' }, CONTROL_TOPIC);
      const done = await waitForMission(next.url, waiting.id);
      expect(done.outcome).toBe('resolved');
      expect(done.decision.reasons.at(-1).message).toBe('approved by change-board');
      const { rows } = await pool.query('select count(*)::int as n from ledger where mission_id = $1', [waiting.id]);
      expect(rows[0].n).toBe(1);
      const { rows: wf } = await pool.query<{ application_version: string; executor_id: string }>('select application_version, executor_id from dbos.workflow_status where workflow_uuid = $1', [waiting.id]);
      expect(wf[0]).toEqual({ application_version: 'mission-v1', executor_id: 'upgrade-1' });
    } finally {
      await client.destroy();
      await pool.end();
      await next.stop();
    }
  });
});
