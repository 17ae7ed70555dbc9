import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres.js';
import { createDatabase, type DatabaseHandle } from './database.js';
import { migrateToLatest } from './migrate.js';
import { PgWorkerRegistry } from './worker-registry.js';

const LEASE_MS = 30_000;
const NOW = 1_800_000_000_000;

let testDb: TestDatabase;
let handles: DatabaseHandle[];
let registry: PgWorkerRegistry;

/** A registry on a pool of its own, as another Interlock process would have. */
function anotherProcess(): PgWorkerRegistry {
  const handle = createDatabase({ url: testDb.url, poolSize: 2 });
  handles.push(handle);
  return new PgWorkerRegistry(handle.db);
}

function worker(id: string) {
  return { id, host: 'node-a', pid: 4242, version: '0.1.0', startedAt: NOW - 3_600_000 };
}

beforeAll(async () => {
  testDb = await createTestDatabase('store_workers');
  const handle = createDatabase({ url: testDb.url });
  await migrateToLatest(handle.db);
  await handle.close();
});

beforeEach(() => {
  handles = [];
  registry = anotherProcess();
});

afterEach(async () => {
  await handles[0]?.db.deleteFrom('interlock.workers').execute();
  await Promise.all(handles.map((handle) => handle.close()));
});

afterAll(async () => {
  await testDb.drop();
});

describe('PgWorkerRegistry', () => {
  it('registers workers, renews heartbeats and lists them', async () => {
    await registry.register(worker('w1'), NOW - 10_000);
    await registry.register({ ...worker('w2'), startedAt: NOW - 60_000 }, NOW - 10_000);

    expect(await registry.heartbeat('w1', NOW)).toBe(true);
    expect(await registry.heartbeat('never-registered', NOW)).toBe(false);

    expect(await registry.list()).toEqual([
      { id: 'w1', host: 'node-a', pid: 4242, version: '0.1.0', startedAt: NOW - 3_600_000, heartbeatAt: NOW, state: 'alive', takenOverBy: null },
      { id: 'w2', host: 'node-a', pid: 4242, version: '0.1.0', startedAt: NOW - 60_000, heartbeatAt: NOW - 10_000, state: 'alive', takenOverBy: null },
    ]);
  });

  it('claims workers past their lease and cleanly stopped ones, never itself or a live one', async () => {
    await registry.register(worker('me'), NOW - LEASE_MS * 10);
    await registry.register(worker('fresh'), NOW - LEASE_MS + 1_000);
    await registry.register(worker('expired'), NOW - LEASE_MS - 1_000);
    await registry.register(worker('stopped'), NOW - 1_000);
    await registry.markStopped('stopped', NOW - 500);

    expect(await registry.claimExpired('me', LEASE_MS, NOW)).toEqual(['expired', 'stopped']);
    expect(await registry.claimExpired('me', LEASE_MS, NOW)).toEqual([]);

    const states = Object.fromEntries((await registry.list()).map((record) => [record.id, [record.state, record.takenOverBy]]));
    expect(states).toEqual({ me: ['alive', null], fresh: ['alive', null], expired: ['dead', 'me'], stopped: ['dead', 'me'] });
  });

  it('fences a claimed worker: its heartbeat answers false until it registers again', async () => {
    await registry.register(worker('slow'), NOW - LEASE_MS * 2);
    expect(await registry.claimExpired('survivor', LEASE_MS, NOW)).toEqual(['slow']);

    expect(await registry.heartbeat('slow', NOW + 1)).toBe(false);
    await registry.markStopped('slow', NOW + 2);
    expect((await registry.list())[0]).toMatchObject({ state: 'dead', takenOverBy: 'survivor' });

    await registry.register(worker('slow'), NOW + 3);
    expect((await registry.list())[0]).toMatchObject({ state: 'alive', takenOverBy: null, heartbeatAt: NOW + 3 });
    expect(await registry.heartbeat('slow', NOW + 4)).toBe(true);
  });

  it('gives each expired worker to exactly one of two workers claiming at the same time', async () => {
    const peers = [anotherProcess(), anotherProcess()];
    for (let round = 0; round < 5; round++) {
      const expired = Array.from({ length: 20 }, (_, index) => `r${round}-w${index}`);
      for (const id of expired) await registry.register(worker(id), NOW - LEASE_MS - 1);

      const [first, second] = await Promise.all([peers[0]?.claimExpired('a', LEASE_MS, NOW), peers[1]?.claimExpired('b', LEASE_MS, NOW)]);

      expect([...(first ?? []), ...(second ?? [])].sort()).toEqual([...expired].sort());
      const owners = new Map((await registry.list()).map((record) => [record.id, record.takenOverBy]));
      for (const id of first ?? []) expect(owners.get(id)).toBe('a');
      for (const id of second ?? []) expect(owners.get(id)).toBe('b');
    }
  });
});
