import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import type { MissionDetail } from '../../src/core/missions/mission.js';
import type { EngineObserver } from '../../src/engine/mission-workflow.js';
import { openDatabase, startInterlock, type RunningInterlock } from '../../src/server/main.js';
import { createLedgerTables, createLedgerTools } from '../fixtures/ledger-tools.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

/** An in-process Interlock on its own test database, with the ledger tools. */
export interface TestInterlock {
  readonly running: RunningInterlock;
  readonly ledger: pg.Pool;
  readonly database: TestDatabase;
  /** POSTs a mission request and returns the response status and JSON. */
  post(path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** Polls until the mission has an outcome (or `until` holds), at most `timeoutMs`. */
  waitFor(id: string, until?: (m: MissionDetail) => boolean, timeoutMs?: number): Promise<MissionDetail>;
  close(): Promise<void>;
}

/** Starts Interlock in this process against a fresh database on the machine's PostgreSQL. */
export async function startTestInterlock(name: string, env: Record<string, string> = {}, observer?: EngineObserver): Promise<TestInterlock> {
  const database = await createTestDatabase(name);
  const dataDir = await mkdtemp(join(tmpdir(), 'interlock-test-'));
  const config = loadConfig({
    env: { DATABASE_URL: database.url, INTERLOCK_PORT: '0', INTERLOCK_WORKER_ID: `${name.replace(/[^a-z0-9]/g, '-')}-1`, INTERLOCK_LOG_LEVEL: 'warn', ...env },
    cwd: dataDir,
  });
  const logger = pino({ level: 'warn' });
  const open = await openDatabase(config, logger);
  const ledger = new pg.Pool({ connectionString: database.url, max: 4 });
  await createLedgerTables(ledger);
  const running = await startInterlock({ config, database: open, extraTools: createLedgerTools(() => ledger), logger, ...(observer === undefined ? {} : { observer }) });
  const api = running.url;
  return {
    running,
    ledger,
    database,
    async post(path, body) {
      const response = await fetch(`${api}${path}`, body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, json: await response.json() };
    },
    async waitFor(id, until = (m) => m.outcome !== null, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const mission = await running.engine.get(id);
        if (until(mission)) return mission;
        if (Date.now() > deadline) throw new Error(`mission ${id} did not reach the expected state in ${timeoutMs} ms: stage ${mission.stage}, outcome ${mission.outcome}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async close() {
      await running.stop();
      await open.close();
      await ledger.end();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
