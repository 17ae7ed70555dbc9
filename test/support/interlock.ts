import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import type { Principal } from '../../src/core/identity/identity.js';
import type { MissionDetail } from '../../src/core/missions/mission.js';
import type { AnyToolContract } from '../../src/core/tools/tool.js';
import type { EngineObserver } from '../../src/engine/mission-workflow.js';
import { openDatabase, startInterlock, type RunningInterlock } from '../../src/server/main.js';
import { createLedgerTables, createLedgerTools } from '../fixtures/ledger-tools.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

/** An in-process Interlock on its own test database, with the ledger tools. */
export interface TestInterlock {
  readonly running: RunningInterlock;
  readonly ledger: pg.Pool;
  readonly database: TestDatabase;
  /** API token of the principal `test-admin` (a human with `admin` in every project), created at start. */
  readonly adminToken: string;
  /** POSTs to the API as `test-admin` (or with `token`) and returns the response status and JSON. */
  post(path: string, body?: unknown, token?: string): Promise<{ status: number; json: any }>;
  /** GETs from the API as `test-admin` (or with `token`) and returns the response status and JSON. */
  get(path: string, token?: string): Promise<{ status: number; json: any }>;
  /** Polls until the mission has an outcome (or `until` holds), at most `timeoutMs`. */
  waitFor(id: string, until?: (m: MissionDetail) => boolean, timeoutMs?: number): Promise<MissionDetail>;
  /**
   * The mission's one pending approval request, polled for up to 15 s: a mission shows
   * `waitingFor: approval` a moment before its request is stored (the next workflow step).
   */
  pendingApproval(missionId: string): Promise<any>;
  close(): Promise<void>;
}

/** What a test may add to its Interlock: environment (config), observer, tools, and a pinned clock. */
export interface TestInterlockOptions {
  readonly env?: Record<string, string>;
  readonly observer?: EngineObserver;
  /** Tools beyond the ledger's, built on the test database's pool. */
  readonly extraTools?: (pool: pg.Pool) => AnyToolContract[];
  /** The engine's clock (policy time), ms since the epoch. */
  readonly now?: () => number;
}

/** Starts Interlock in this process against a fresh database on the machine's PostgreSQL. */
export async function startTestInterlock(name: string, options: TestInterlockOptions = {}): Promise<TestInterlock> {
  const { env = {}, observer, extraTools = () => [], now } = options;
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
  const running = await startInterlock({ config, database: open, extraTools: [...createLedgerTools(() => ledger), ...extraTools(ledger)], logger, ...(observer === undefined ? {} : { observer }), ...(now === undefined ? {} : { now }) });
  const api = running.url;
  const { token: adminToken } = await createPrincipalWithToken(running, { name: 'test-admin', kind: 'human', roles: { '*': ['admin'] } });
  return {
    running,
    ledger,
    database,
    adminToken,
    async post(path, body, token = adminToken) {
      const headers = { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
      const response = await fetch(`${api}${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: response.status, json: await response.json() };
    },
    async get(path, token = adminToken) {
      const response = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } });
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
    async pendingApproval(missionId) {
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
        const response = await fetch(`${api}/v1/approvals?mission=${missionId}&status=pending`, { headers: { authorization: `Bearer ${adminToken}` } });
        const json = (await response.json()) as { approvals: unknown[] };
        if (json.approvals.length === 1) return json.approvals[0];
      }
      throw new Error(`mission ${missionId} opened no approval request within 15 s`);
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

/**
 * Creates principal `principal` (no groups unless given) in a running Interlock's database and an API
 * token for it, as `interlock principals create` and `interlock tokens create` would.
 */
export async function createPrincipalWithToken(
  running: RunningInterlock,
  principal: { name: string; kind: Principal['kind']; groups?: string[]; roles: Principal['roles'] },
  options: { expiresAt?: number | null } = {},
): Promise<{ principal: Principal; token: string; tokenId: string }> {
  const created = await running.identity.createPrincipal({ groups: [], ...principal }, Date.now());
  const { token, secret } = await running.identity.createToken({ principal: created.name, expiresAt: options.expiresAt ?? null }, Date.now());
  return { principal: created, token: secret, tokenId: token.id };
}
