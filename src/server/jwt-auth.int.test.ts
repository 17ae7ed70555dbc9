import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InterlockError } from '../core/errors.js';
import type { Authenticator } from '../core/ports.js';
import { PgIdentityStore } from '../store/identity-store.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import { combineAuthenticators, createJwtAuthenticator } from './jwt-auth.js';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const ISSUER = 'https://login.example.com/realms/ops';
const AUDIENCE = 'http://127.0.0.1:7411/mcp';

let testDb: MigratedTestDatabase;
let store: PgIdentityStore;
let jwksServer: Server;
let privateKey: CryptoKey;
let authenticator: Authenticator;

beforeAll(async () => {
  testDb = await createMigratedTestDatabase('server_jwt_auth');
  store = new PgIdentityStore(testDb.handle.db);
  const keys = await generateKeyPair('ES256', { extractable: true });
  privateKey = keys.privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256' };
  jwksServer = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/certs`;
  authenticator = combineAuthenticators(store, createJwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, principalClaim: 'preferred_username' }, store));
});

afterAll(async () => {
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  await testDb.close();
});

function sign(username: string): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'idp-user-7', preferred_username: username, iat: NOW / 1000, exp: NOW / 1000 + 300 })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .sign(privateKey);
}

describe('JWT bearer tokens against the PostgreSQL identity store', () => {
  it('authenticate the same principal, with the same roles, as its API token', async () => {
    const created = await store.createPrincipal({ name: 'triage-agent', kind: 'agent', groups: ['sre'], roles: { shop: ['operator'] } }, NOW);
    const { secret } = await store.createToken({ principal: 'triage-agent', expiresAt: null }, NOW);
    const viaToken = await authenticator.authenticate(secret, NOW);
    const viaJwt = await authenticator.authenticate(await sign('triage-agent'), NOW);
    expect(viaJwt).toEqual(created);
    expect(viaJwt).toEqual(viaToken);
  });

  it('refuse a JWT naming no principal of the database', async () => {
    const error: unknown = await authenticator.authenticate(await sign('nobody'), NOW).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InterlockError);
    expect((error as InterlockError).code).toBe('AUTH_TOKEN_INVALID');
    expect((error as InterlockError).message).toContain('`preferred_username`');
  });
});
