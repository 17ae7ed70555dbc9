// An alert storm against a real Interlock process (issue #5): 5,000 distinct alerts in 500
// Alertmanager notifications, 64 at a time, at a worker that takes 8 intake requests at once. The
// rest are answered busy (503 INTAKE_OVERLOADED to this Alertmanager source) with Retry-After, and the
// client sends them again after it.
// Every alert of a request answered 2xx is stored exactly once, with one `signal.received` audit
// entry per request, and the worker's memory stays bounded. A safety net, not a benchmark: no time
// is asserted (`npm run bench -- ingest` measures).
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase, PgIdentityStore } from '../../src/store/index.js';
import { acceptedRequests, buildStorm, checkStored, runStorm, traceMemory } from '../support/alert-storm.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { spawnWorker, type WorkerProcess } from '../support/workers.js';

const MAX_IN_FLIGHT = 8;
const RETRY_AFTER_SECONDS = 1;
/** Peak RSS the worker must stay under, KiB: a generous bound (it runs under tsx), not a benchmark. */
const MAX_PEAK_RSS_KIB = 400 * 1024;

let database: TestDatabase;
let dataDir: string;
let pool: pg.Pool;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  database = await createTestDatabase('storm');
  dataDir = await mkdtemp(join(tmpdir(), 'interlock-storm-'));
  await chmod(dataDir, 0o755);
  await writeFile(join(dataDir, 'interlock.yaml'), `
intake:
  maxInFlight: ${MAX_IN_FLIGHT}
  retryAfterSeconds: ${RETRY_AFTER_SECONDS}
  sources:
    - { name: alertmanager, type: alertmanager, project: storm, auth: { type: token } }
incidents:
  startMissions: false
`);
  worker = await spawnWorker({ DATABASE_URL: database.url, INTERLOCK_DATA_DIR: dataDir, INTERLOCK_CONFIG: join(dataDir, 'interlock.yaml'), INTERLOCK_WORKER_ID: 'storm-1' });
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
});

afterAll(async () => {
  await worker?.kill();
  await pool?.end();
  await database?.drop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

/** A principal with the `sender` role in project `storm` and its API token, as `interlock principals create` + `tokens create` make them. */
async function senderToken(): Promise<string> {
  const handle = createDatabase({ url: database.url, poolSize: 1 });
  try {
    const identity = new PgIdentityStore(handle.db);
    await identity.createPrincipal({ name: 'alertmanager', kind: 'service', groups: [], roles: { storm: ['sender'] } }, Date.now());
    return (await identity.createToken({ principal: 'alertmanager', label: 'storm test', expiresAt: null }, Date.now())).secret;
  } finally {
    await handle.close();
  }
}

it('stores every alert of a 2xx request exactly once under a storm, answers the excess busy with Retry-After, and stays within its memory bound', async () => {
  const storm = buildStorm({ alerts: 5000, perRequest: 10, services: 50, alertnames: ['TargetDown'] });
  expect(storm.requests).toHaveLength(500);
  const memory = traceMemory(worker!.child.pid!, 100);
  const run = await runStorm(storm, { url: `${worker!.url}/v1/signals/alertmanager`, token: await senderToken(), concurrency: 64, maxAttempts: 1000, timeoutMs: 60_000 });
  const trace = await memory.stop();

  // Every request was accepted in the end, each with all of its alerts.
  expect(run.results.filter((result) => result.status !== 202).map((result) => `${result.status} ${result.error ?? ''}`)).toEqual([]);
  expect(run.results.every((result, i) => result.accepted === storm.requests[i]!.fingerprints.length)).toBe(true);
  // The excess was refused before the body was read, with the configured Retry-After.
  expect(run.busyAnswers).toBeGreaterThan(0);
  expect(run.busyWithoutRetryAfter).toBe(0);
  expect(run.retryAfterValues).toEqual([String(RETRY_AFTER_SECONDS)]);
  expect(run.serverErrors).toBe(0);

  // Exactly once in the database, with one audit entry and one intake row per 2xx request.
  expect(await checkStored(pool, 'interlock.signals', storm, run)).toEqual({ expectedAlerts: 5000, rows: 5000, duplicated: 0, missing: 0, unexpected: 0 });
  const audited = await pool.query<{ n: number }>("select count(*)::int as n from interlock.audit_entries where kind = 'signal.received'");
  expect(audited.rows[0]!.n).toBe(acceptedRequests(run));
  const intakes = await pool.query<{ n: number }>('select count(*)::int as n from interlock.signal_intakes');
  expect(intakes.rows[0]!.n).toBe(acceptedRequests(run));
  // Grouped: one incident per (alertname, service), each tracking its 100 alerts.
  const incidents = await pool.query<{ n: number; alerts: number }>("select count(*)::int as n, min(jsonb_array_length(state->'alerts'))::int as alerts from interlock.incidents");
  expect(incidents.rows[0]).toEqual({ n: storm.groups, alerts: 100 });

  expect(trace.samples).toBeGreaterThan(0);
  expect(trace.highWaterMarkKiB).toBeLessThan(MAX_PEAK_RSS_KIB);
});
