// The crash harness (issue #2): a 5-step mission whose write tool records its side effect in its own
// table (the ledger). The worker is killed with SIGKILL at every step boundary and in the middle of
// every step (before and after the side effect), restarted, and for each kill point we check: no side
// effect twice, none lost, the right final stage. Run against the machine's PostgreSQL server and
// against embedded PostgreSQL.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { http, spawnWorker, waitForMission } from '../support/workers.js';

const STEPS = ['s1', 's2', 's3', 's4', 's5'];
const POINTS = ['boundary-before', 'mid-before-effect', 'mid-after-effect', 'boundary-after'] as const;
const KILL_POINTS = STEPS.flatMap((step) => POINTS.map((point) => `${step}:${point}`));

for (const mode of ['server', 'embedded'] as const) {
  describe(`crash harness, ${mode} PostgreSQL`, () => {
    let env: Record<string, string>;
    let database: TestDatabase | undefined;
    let dataDir: string;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), `interlock-crash-${mode}-`));
      await chmod(dataDir, 0o755); // as root, the embedded server runs as user postgres and must reach it
      env = { INTERLOCK_DATA_DIR: dataDir, INTERLOCK_WORKER_ID: `crash-${mode}`, DATABASE_URL: '' };
      if (mode === 'server') {
        database = await createTestDatabase(`crash_${mode}`);
        env.DATABASE_URL = database.url;
      }
    });

    afterAll(async () => {
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it.each(KILL_POINTS)('kill -9 at %s: every side effect exactly once, mission resolved', async (killPoint) => {
      const doomed = await spawnWorker({ ...env, CRASH_AT: killPoint });
      const { status, json } = await http('POST', `${doomed.url}/v1/missions`, {
        title: `crash at ${killPoint}`,
        labels: { service: `ledger-${killPoint.replace(':', '-')}` }, // one target per mission: the circuit breaker must not link them
        steps: STEPS.map((id, i) => ({ id, tool: 'ledger.append', args: { amount: i + 1 } })),
      });
      expect(status).toBe(201);
      const ended = await doomed.exited;
      expect(ended.signal).toBe('SIGKILL');

      const survivor = await spawnWorker(env);
      try {
        const mission = await waitForMission(survivor.url, json.mission.id);
        expect(mission.outcome).toBe('resolved');
        expect(mission.stage).toBe('close');
        expect(mission.history.map((t: { to: string }) => t.to)).toEqual(['intake', 'context', 'plan', 'review', 'execute', 'verify', 'close']);
        // The recovery path taken: a kill before the effect leaves an intent the probe finds not applied
        // (so the call runs again: 2 attempts); a kill after it is recovered by the probe (1 attempt).
        const [stepId, point] = killPoint.split(':');
        const killed = mission.steps.find((s: { stepId: string }) => s.stepId === stepId);
        expect(killed.attempts).toBe(point === 'mid-before-effect' ? 2 : 1);
        const ledger = new pg.Pool({ connectionString: survivor.databaseUrl, max: 1 });
        try {
          const { rows } = await ledger.query<{ step_id: string; n: number }>(
            'select step_id, count(*)::int as n from ledger where mission_id = $1 group by step_id order by step_id', [mission.id]);
          expect(rows).toEqual(STEPS.map((step_id) => ({ step_id, n: 1 })));
        } finally {
          await ledger.end();
        }
      } finally {
        await survivor.stop();
      }
    });
  });
}
