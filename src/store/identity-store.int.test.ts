import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { hashToken } from '../core/identity/tokens.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import type { DatabaseHandle } from './database.js';
import { PgIdentityStore } from './identity-store.js';
import { rejection } from '../../test/support/errors.js';

let testDb: MigratedTestDatabase;
let handle: DatabaseHandle;
let store: PgIdentityStore;
const NOW = Date.UTC(2026, 0, 2, 3, 0, 0);

beforeAll(async () => {
  testDb = await createMigratedTestDatabase('store_identity');
  handle = testDb.handle;
  store = new PgIdentityStore(handle.db);
});

afterAll(async () => {
  await testDb.close();
});

describe('principals', () => {
  it('creates a principal with unique name, groups and roles, and finds it by name', async () => {
    const alice = await store.createPrincipal({ name: 'alice', kind: 'human', groups: ['change-board', 'change-board'], roles: { shop: ['approver'], '*': ['viewer'] } }, NOW);
    expect(alice).toMatchObject({ name: 'alice', kind: 'human', groups: ['change-board'], roles: { shop: ['approver'], '*': ['viewer'] } });
    expect(await store.findPrincipal('alice')).toEqual(alice);
    expect(await store.findPrincipal('nobody')).toBeUndefined();
    expect((await store.listPrincipals()).map((p) => p.name)).toContain('alice');
    const taken = await rejection(store.createPrincipal({ name: 'alice', kind: 'agent', groups: [], roles: {} }, NOW));
    expect(taken.code).toBe('PRINCIPAL_NAME_TAKEN');
  });

  it('refuses invalid fields, naming each', async () => {
    const error = await rejection(store.createPrincipal({ name: 'bad name', kind: 'robot' as 'agent', groups: ['Bad Group'], roles: { shop: ['root' as 'admin'] } }, NOW));
    expect(error.code).toBe('INPUT_INVALID');
    expect((error.details.issues as Array<{ path: string }>).map((issue) => issue.path)).toEqual(['name', 'groups.0', 'roles.shop', 'kind']);
  });
});

describe('API tokens', () => {
  it('stores only the SHA-256 of a token, shows the secret once and never lists it', async () => {
    await store.createPrincipal({ name: 'ci', kind: 'service', groups: [], roles: { '*': ['operator'] } }, NOW);
    const { token, secret } = await store.createToken({ principal: 'ci', label: 'pipeline', expiresAt: null }, NOW);
    expect(secret).toMatch(/^il_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    const { rows } = await handle.pool.query<{ hash: Buffer }>('select hash from interlock.api_tokens where id = $1', [token.id]);
    expect(rows[0]?.hash.equals(hashToken(secret))).toBe(true);
    const { rows: all } = await handle.pool.query('select * from interlock.api_tokens');
    expect(JSON.stringify(all)).not.toContain(secret.slice(36));
    const listed = await store.listTokens({ principal: 'ci' });
    expect(listed).toEqual([{ ...token, lastUsedAt: null }]);
    expect(JSON.stringify(listed)).not.toContain(secret.slice(36));
  });

  it('authenticates to the principal, and records the use to the minute', async () => {
    await store.createPrincipal({ name: 'bob', kind: 'human', groups: ['sre'], roles: { shop: ['operator'] } }, NOW);
    const { token, secret } = await store.createToken({ principal: 'bob', expiresAt: null }, NOW);
    expect(await store.authenticate(secret, NOW + 1000)).toMatchObject({ name: 'bob', kind: 'human', groups: ['sre'], roles: { shop: ['operator'] } });
    await store.authenticate(secret, NOW + 30_000);
    expect((await store.listTokens({ principal: 'bob' }))[0]?.lastUsedAt).toBe(NOW + 1000);
    await store.authenticate(secret, NOW + 61_000);
    expect((await store.listTokens({ principal: 'bob' })).find((t) => t.id === token.id)?.lastUsedAt).toBe(NOW + 61_000);
  });

  it('refuses a malformed, unknown or altered token as AUTH_TOKEN_INVALID, revealing nothing else', async () => {
    await store.createPrincipal({ name: 'carol', kind: 'human', groups: [], roles: {} }, NOW);
    const { token, secret } = await store.createToken({ principal: 'carol', expiresAt: null }, NOW);
    await store.revokeToken(token.id, NOW);
    const altered = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of ['', 'il_nope', altered, secret.replace(/^il_[0-9a-f]{32}/, `il_${'0'.repeat(32)}`)]) {
      const error = await rejection(store.authenticate(bad, NOW));
      expect(error.code, bad).toBe('AUTH_TOKEN_INVALID');
    }
  });

  it('refuses a revoked token with AUTH_TOKEN_REVOKED and an expired one with AUTH_TOKEN_EXPIRED', async () => {
    await store.createPrincipal({ name: 'dave', kind: 'human', groups: [], roles: {} }, NOW);
    const revoked = await store.createToken({ principal: 'dave', expiresAt: null }, NOW);
    const first = await store.revokeToken(revoked.token.id, NOW + 5);
    expect(first.revokedAt).toBe(NOW + 5);
    expect((await store.revokeToken(revoked.token.id, NOW + 10)).revokedAt).toBe(NOW + 5);
    expect((await rejection(store.authenticate(revoked.secret, NOW + 20))).code).toBe('AUTH_TOKEN_REVOKED');

    const expiring = await store.createToken({ principal: 'dave', expiresAt: NOW + 60_000 }, NOW);
    await expect(store.authenticate(expiring.secret, NOW + 59_999)).resolves.toMatchObject({ name: 'dave' });
    const expired = await rejection(store.authenticate(expiring.secret, NOW + 60_000));
    expect(expired.code).toBe('AUTH_TOKEN_EXPIRED');
    expect(expired.details).toMatchObject({ tokenId: expiring.token.id, expiredAt: NOW + 60_000 });
  });

  it('answers PRINCIPAL_NOT_FOUND, TOKEN_NOT_FOUND and INPUT_INVALID for what does not exist or cannot be', async () => {
    expect((await rejection(store.createToken({ principal: 'ghost', expiresAt: null }, NOW))).code).toBe('PRINCIPAL_NOT_FOUND');
    expect((await rejection(store.listTokens({ principal: 'ghost' }))).code).toBe('PRINCIPAL_NOT_FOUND');
    expect((await rejection(store.revokeToken('6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11', NOW))).code).toBe('TOKEN_NOT_FOUND');
    expect((await rejection(store.revokeToken('nope', NOW))).code).toBe('TOKEN_NOT_FOUND');
    await store.createPrincipal({ name: 'erin', kind: 'human', groups: [], roles: {} }, NOW);
    expect((await rejection(store.createToken({ principal: 'erin', expiresAt: NOW }, NOW))).code).toBe('INPUT_INVALID');
  });
});
