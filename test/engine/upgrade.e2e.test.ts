// A mission waiting for approval survives an upgrade of Interlock (issue #2): it is started by this
// build, the worker stops while the mission waits, and a different build (another package version,
// changed code, the same pinned workflow version) recovers it and finishes it once approved.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, PgIdentityStore } from '../../src/store/index.js';
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
    // Both releases share one data directory (the audit signing key), never the repository's own.
    const env = { DATABASE_URL: database.url, INTERLOCK_WORKER_ID: 'upgrade-1', INTERLOCK_DATA_DIR: join(release, 'data') };
    const current = await spawnWorker(env);
    workers.push(current);
    const { json } = await http('POST', `${current.url}/v1/missions`, { title: 'prod change across an upgrade', steps: [{ tool: 'ledger.append-prod', args: { amount: 5 } }] });
    const waiting = await waitForMission(current.url, json.mission.id, (m) => m.waitingFor === 'approval');
    expect(waiting.workflowVersion).toBe('mission-v1');
    await current.stop();

    const next = await spawnWorker({ ...env, INTERLOCK_DIST: join(release, 'dist') });
    workers.push(next);
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    // The change board member who approves: a second identity, created as `interlock principals create` would.
    const handle = createDatabase({ url: database.url, poolSize: 1 });
    const identity = new PgIdentityStore(handle.db);
    await identity.createPrincipal({ name: 'change-board-member', kind: 'human', groups: ['change-board'], roles: { '*': ['approver'] } }, Date.now());
    const { secret: approverToken } = await identity.createToken({ principal: 'change-board-member', expiresAt: null }, Date.now());
    try {
      const { rows: registry } = await pool.query<{ version: string }>("select version from interlock.workers where id = 'upgrade-1'");
      expect(registry[0]?.version).toBe(NEXT_VERSION);
      const stillWaiting = await waitForMission(next.url, waiting.id, (m) => m.waitingFor === 'approval');
      expect(stillWaiting.outcome).toBeNull();

      // The approval request made under the old release is decided and consumed under the new one.
      const { json: pending } = await http('GET', `${next.url}/v1/approvals?mission=${waiting.id}&status=pending`);
      const request = pending.approvals[0];
      const voted = await fetch(`${next.url}/v1/approvals/${request.id}/approve`, {
        method: 'POST', headers: { authorization: `Bearer ${approverToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ actionHash: request.actionHash }),
      });
      expect(voted.status).toBe(200);
      const done = await waitForMission(next.url, waiting.id);
      expect(done.outcome).toBe('resolved');
      expect(done.decision.reasons.at(-1).message).toBe('approved by change-board-member');
      const { rows } = await pool.query('select count(*)::int as n from ledger where mission_id = $1', [waiting.id]);
      expect(rows[0].n).toBe(1);
      const { rows: wf } = await pool.query<{ application_version: string; executor_id: string }>('select application_version, executor_id from dbos.workflow_status where workflow_uuid = $1', [waiting.id]);
      expect(wf[0]).toEqual({ application_version: 'mission-v1', executor_id: 'upgrade-1' });
    } finally {
      await handle.close();
      await pool.end();
      await next.stop();
    }
  });
});
