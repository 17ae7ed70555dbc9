import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import { PgMcpPinStore } from './mcp-pin-store.js';

let db: MigratedTestDatabase;
let store: PgMcpPinStore;
const definition = (description: string) => ({ name: 'echo', description, inputSchema: { type: 'object' }, outputSchema: null, annotations: null });

beforeAll(async () => {
  db = await createMigratedTestDatabase('store_mcp_pins', 2);
  store = new PgMcpPinStore(db.handle.db);
});

afterAll(async () => {
  await db.close();
});

describe('PgMcpPinStore (migration 0008)', () => {
  it('pins, holds a changed definition beside the accepted one, and clears the hold on accept', async () => {
    expect(await store.list('tools')).toEqual([]);
    await store.accept('tools', 'echo', { digest: 'a'.repeat(64), definition: definition('v1'), at: 1_000, by: 'trust-on-first-use' });
    await store.hold('tools', 'echo', { digest: 'b'.repeat(64), definition: definition('v2'), at: 2_000 });
    await store.hold('tools', 'late', { digest: 'c'.repeat(64), definition: { name: 'late' }, at: 3_000 });
    expect(await store.list('tools')).toEqual([
      { server: 'tools', tool: 'echo', accepted: { digest: 'a'.repeat(64), definition: definition('v1'), at: 1_000, by: 'trust-on-first-use' }, held: { digest: 'b'.repeat(64), definition: definition('v2'), at: 2_000 } },
      { server: 'tools', tool: 'late', accepted: null, held: { digest: 'c'.repeat(64), definition: { name: 'late' }, at: 3_000 } },
    ]);
    await store.accept('tools', 'echo', { digest: 'b'.repeat(64), definition: definition('v2'), at: 4_000, by: 'alice' });
    expect((await store.list('tools'))[0]).toEqual({ server: 'tools', tool: 'echo', accepted: { digest: 'b'.repeat(64), definition: definition('v2'), at: 4_000, by: 'alice' }, held: null });
    expect(await store.list('other')).toEqual([]);
  });
});
