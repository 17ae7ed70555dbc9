import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InterlockError } from '../core/errors.js';
import type { Principal } from '../core/identity/identity.js';
import type { Authenticator } from '../core/ports.js';
import { combineAuthenticators, createJwtAuthenticator, type JwtAuthenticatorOptions, type PrincipalLookup } from './jwt-auth.js';
import { rejection } from '../../test/support/errors.js';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const NOW_S = NOW / 1000;
const ISSUER = 'https://login.example.com/realms/ops';
const AUDIENCE = 'https://interlock.example.com/mcp';

const alice: Principal = { id: '00000000-0000-4000-8000-000000000001', kind: 'human', name: 'alice', groups: ['sre'], roles: { '*': ['operator'] } };
const triage: Principal = { id: '00000000-0000-4000-8000-000000000002', kind: 'agent', name: 'triage-agent', groups: [], roles: { shop: ['viewer'] } };

/** A port fake: principals by name. */
const identity: PrincipalLookup = {
  findPrincipal: (name) => Promise.resolve([alice, triage].find((p) => p.name === name)),
};

interface KeyPair {
  readonly publicKey: CryptoKey;
  readonly privateKey: CryptoKey;
}

let rsa: KeyPair;
let ec: KeyPair;
let ed: KeyPair;
let impostor: KeyPair;
let jwksServer: Server;
let jwksUrl: string;
let jwksRequests = 0;
let dir: string;

beforeAll(async () => {
  [rsa, ec, ed, impostor] = await Promise.all([
    generateKeyPair('RS256', { extractable: true }),
    generateKeyPair('ES256', { extractable: true }),
    generateKeyPair('EdDSA', { extractable: true }),
    generateKeyPair('RS256', { extractable: true }),
  ]);
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    { ...(await exportJWK(ed.publicKey)), kid: 'ed-1', alg: 'EdDSA', use: 'sig' },
  ];
  jwksServer = createServer((request, response) => {
    jwksRequests += 1;
    if (request.url !== '/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  dir = mkdtempSync(join(tmpdir(), 'interlock-jwt-'));
});

afterAll(async () => {
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** A token signed with `key` under `alg`/`kid`: iss, aud, sub alice, issued now, valid 5 min, unless overridden. */
async function sign(claims: JWTPayload = {}, key: CryptoKey = rsa.privateKey, header: { alg: string; kid?: string } = { alg: 'RS256', kid: 'rsa-1' }): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: NOW_S, exp: NOW_S + 300, ...claims }).setProtectedHeader(header).sign(key);
}

function jwks(overrides: Partial<JwtAuthenticatorOptions> = {}): Authenticator {
  return createJwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, ...overrides }, identity);
}


/** The error `token` is refused with, checked to reveal nothing of the token. */
async function refusal(authenticator: Authenticator, token: string, now = NOW): Promise<InterlockError> {
  const error = await rejection(authenticator.authenticate(token, now));
  const said = `${error.message} ${JSON.stringify(error.details)}`;
  for (const part of token.split('.')) if (part.length > 8) expect(said).not.toContain(part);
  expect(error.cause).toBeUndefined();
  return error;
}

describe('createJwtAuthenticator with a JWKS URL', () => {
  it('authenticates a valid token as the principal its sub names, for RS256, ES256 and EdDSA keys', async () => {
    const authenticator = jwks();
    await expect(authenticator.authenticate(await sign(), NOW)).resolves.toEqual(alice);
    await expect(authenticator.authenticate(await sign({ sub: 'triage-agent' }, ec.privateKey, { alg: 'ES256', kid: 'ec-1' }), NOW)).resolves.toEqual(triage);
    await expect(authenticator.authenticate(await sign({}, ed.privateKey, { alg: 'EdDSA', kid: 'ed-1' }), NOW)).resolves.toEqual(alice);
  });

  it('accepts any of several audiences, and a token whose aud lists several resources', async () => {
    const authenticator = jwks({ audience: ['https://interlock.example.com', AUDIENCE] });
    await expect(authenticator.authenticate(await sign({ aud: 'https://interlock.example.com' }), NOW)).resolves.toEqual(alice);
    await expect(jwks().authenticate(await sign({ aud: ['https://other.example.com', AUDIENCE] }), NOW)).resolves.toEqual(alice);
  });

  it('refuses an expired token as AUTH_TOKEN_EXPIRED, allowing the clock tolerance', async () => {
    const token = await sign({ iat: NOW_S - 600, exp: NOW_S - 20 });
    await expect(jwks().authenticate(token, NOW)).resolves.toEqual(alice); // 20 s late < 30 s tolerance
    const error = await refusal(jwks(), token, NOW + 15_000);
    expect(error.code).toBe('AUTH_TOKEN_EXPIRED');
    expect(error.status).toBe(401);
    expect(error.details).toEqual({ check: 'exp' });
    expect((await refusal(jwks({ clockToleranceSeconds: 0 }), token)).code).toBe('AUTH_TOKEN_EXPIRED');
  });

  it('refuses a token older than maxTokenAgeSeconds as expired, and one without iat when a maximum age is set', async () => {
    const old = await sign({ iat: NOW_S - 3600, exp: NOW_S + 300 });
    await expect(jwks().authenticate(old, NOW)).resolves.toEqual(alice);
    const error = await refusal(jwks({ maxTokenAgeSeconds: 600 }), old);
    expect(error.code).toBe('AUTH_TOKEN_EXPIRED');
    expect(error.message).toContain('maxTokenAgeSeconds');
    const noIat = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: NOW_S + 300 }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
    const missing = await refusal(jwks({ maxTokenAgeSeconds: 600 }), noIat);
    expect(missing.code).toBe('AUTH_TOKEN_INVALID');
    expect(missing.details).toEqual({ check: 'iat' });
  });

  it('refuses a token not yet valid (nbf in the future beyond the tolerance)', async () => {
    const error = await refusal(jwks(), await sign({ nbf: NOW_S + 120 }));
    expect(error.code).toBe('AUTH_TOKEN_INVALID');
    expect(error.details).toEqual({ check: 'nbf' });
  });

  it('refuses a token for another audience, naming the audience check and the expected resource', async () => {
    const error = await refusal(jwks(), await sign({ aud: 'https://other.example.com' }));
    expect(error.code).toBe('AUTH_TOKEN_INVALID');
    expect(error.details).toEqual({ check: 'audience' });
    expect(error.message).toContain('audience check');
    expect(error.message).toContain(AUDIENCE);
    expect(error.message).not.toContain('other.example.com');
    const none = await refusal(jwks(), await sign({ aud: undefined }));
    expect(none.details).toEqual({ check: 'audience' });
  });

  it('refuses a token from another issuer, naming the issuer check', async () => {
    const error = await refusal(jwks(), await sign({ iss: 'https://evil.example.com' }));
    expect(error.code).toBe('AUTH_TOKEN_INVALID');
    expect(error.details).toEqual({ check: 'issuer' });
    expect(error.message).toContain('issuer check');
    expect(error.message).not.toContain('evil.example.com');
  });

  it('refuses an algorithm that is not allowed, a symmetric one included', async () => {
    const es = await refusal(jwks({ algorithms: ['RS256'] }), await sign({}, ec.privateKey, { alg: 'ES256', kid: 'ec-1' }));
    expect(es.code).toBe('AUTH_TOKEN_INVALID');
    expect(es.details).toEqual({ check: 'algorithm' });
    const secret = new TextEncoder().encode('a shared secret of thirty-two bytes!');
    const hs = await refusal(jwks(), await sign({}, secret as unknown as CryptoKey, { alg: 'HS256', kid: 'rsa-1' }));
    expect(hs.details).toEqual({ check: 'algorithm' });
  });

  it('refuses an unsecured token (alg: none)', async () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: NOW_S, exp: NOW_S + 300 })}.`;
    const error = await refusal(jwks(), token);
    expect(error.code).toBe('AUTH_TOKEN_INVALID');
    expect(['algorithm', 'format']).toContain(error.details.check);
  });

  it('refuses a token signed by another key under a known kid, or under an unknown kid', async () => {
    const forged = await refusal(jwks(), await sign({}, impostor.privateKey));
    expect(forged.code).toBe('AUTH_TOKEN_INVALID');
    expect(forged.details).toEqual({ check: 'signature' });
    const unknownKid = await refusal(jwks(), await sign({}, impostor.privateKey, { alg: 'RS256', kid: 'rsa-2' }));
    expect(unknownKid.details).toEqual({ check: 'signature' });
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await sign()).split('.');
    const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'triage-agent', iat: NOW_S, exp: NOW_S + 300 })).toString('base64url');
    const error = await refusal(jwks(), `${header}.${payload}.${signature}`);
    expect(error.details).toEqual({ check: 'signature' });
  });

  it('refuses a token naming no known principal, naming the claim but not its value', async () => {
    const error = await refusal(jwks(), await sign({ sub: 'mallory' }));
    expect(error.code).toBe('AUTH_TOKEN_INVALID');
    expect(error.details).toEqual({ check: 'principal' });
    expect(error.message).toContain('`sub`');
    expect(error.message).not.toContain('mallory');
    const noSub = await refusal(jwks(), await sign({ sub: undefined }));
    expect(noSub.details).toEqual({ check: 'principal' });
  });

  it('maps another claim to the principal when principalClaim says so', async () => {
    const authenticator = jwks({ principalClaim: 'preferred_username' });
    await expect(authenticator.authenticate(await sign({ sub: 'f3a9c2', preferred_username: 'triage-agent' }), NOW)).resolves.toEqual(triage);
    const error = await refusal(authenticator, await sign());
    expect(error.message).toContain('`preferred_username`');
  });

  it('requires every required scope in the space-separated scope claim, answering 403 with the missing ones', async () => {
    const authenticator = jwks({ requiredScopes: ['interlock:mcp', 'missions:write'] });
    await expect(authenticator.authenticate(await sign({ scope: 'openid missions:write interlock:mcp' }), NOW)).resolves.toEqual(alice);
    const error = await refusal(authenticator, await sign({ scope: 'openid interlock:mcp' }));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.status).toBe(403);
    expect(error.details).toEqual({ requiredScopes: ['interlock:mcp', 'missions:write'], missingScopes: ['missions:write'] });
    const none = await refusal(authenticator, await sign());
    expect(none.details.missingScopes).toEqual(['interlock:mcp', 'missions:write']);
  });

  it('refuses a malformed token', async () => {
    const error = await refusal(jwks(), 'bm90IGpzb24.e30.c2lnbmF0dXJl');
    expect(error.code).toBe('AUTH_TOKEN_INVALID');
    expect(error.details).toEqual({ check: 'format' });
    const [header, , signature] = (await sign()).split('.');
    const notJson = await refusal(jwks(), `${header}.${Buffer.from('not json').toString('base64url')}.${signature}`);
    expect(notJson.details).toEqual({ check: 'signature' }); // the signature is checked before the claims are read
  });

  it('fetches the key set once and reuses it', async () => {
    const before = jwksRequests;
    const authenticator = jwks();
    for (let i = 0; i < 5; i += 1) await authenticator.authenticate(await sign(), NOW);
    expect(jwksRequests - before).toBe(1);
  });

  it('refuses tokens, failing closed, when the key set cannot be fetched', async () => {
    const down = createServer();
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const port = (down.address() as AddressInfo).port;
    await new Promise<void>((resolve) => down.close(() => resolve()));
    const unreachable = await refusal(jwks({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }), await sign());
    expect(unreachable.code).toBe('AUTH_TOKEN_INVALID');
    expect(unreachable.details).toEqual({ check: 'keys' });
    const notFound = await refusal(jwks({ jwksUrl: jwksUrl.replace('/jwks.json', '/missing.json') }), await sign());
    expect(notFound.details).toEqual({ check: 'keys' });
  });
});

describe('createJwtAuthenticator with a public key file', () => {
  it('verifies tokens with the PEM public key in the file', async () => {
    const file = join(dir, 'issuer.pem');
    writeFileSync(file, await exportSPKI(ec.publicKey));
    const authenticator = createJwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, publicKeyFile: file }, identity);
    await expect(authenticator.authenticate(await sign({}, ec.privateKey, { alg: 'ES256' }), NOW)).resolves.toEqual(alice);
    const other = await refusal(authenticator, await sign({}, rsa.privateKey, { alg: 'RS256' }));
    expect(other.code).toBe('AUTH_TOKEN_INVALID');
    expect(other.details).toEqual({ check: 'signature' });
  });

  it('refuses at creation a missing file, a private key, and a key no allowed algorithm can use', async () => {
    const create = (options: Partial<JwtAuthenticatorOptions>) => () => createJwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, ...options }, identity);
    expect(create({ publicKeyFile: join(dir, 'absent.pem') })).toThrow(/auth\.jwt\.publicKeyFile .*cannot be read/);
    const privateFile = join(dir, 'private.pem');
    writeFileSync(privateFile, await exportPKCS8(rsa.privateKey));
    expect(create({ publicKeyFile: privateFile })).toThrow(/holds a private key/);
    const rsaFile = join(dir, 'rsa.pem');
    writeFileSync(rsaFile, await exportSPKI(rsa.publicKey));
    expect(create({ publicKeyFile: rsaFile, algorithms: ['ES256'] })).toThrow(/none of auth\.jwt\.algorithms \(ES256\) can use/);
    expect(create({ publicKeyFile: rsaFile, jwksUrl })).toThrow(/exactly one/);
    expect(create({})).toThrow(/exactly one/);
  });
});

describe('combineAuthenticators', () => {
  const apiTokens: Authenticator = {
    authenticate: (token) => (token === 'il_good' ? Promise.resolve(triage) : Promise.reject(new InterlockError('AUTH_TOKEN_INVALID', 'unknown API token'))),
  };

  it('sends il_ tokens to the API token authenticator and JWTs to the JWT one', async () => {
    const combined = combineAuthenticators(apiTokens, jwks());
    await expect(combined.authenticate('il_good', NOW)).resolves.toEqual(triage);
    await expect(combined.authenticate(await sign(), NOW)).resolves.toEqual(alice);
    expect((await rejection(combined.authenticate('il_bad', NOW))).message).toBe('unknown API token');
  });

  it('refuses a JWT when JWTs are not configured, and a token of neither kind', async () => {
    const apiOnly = combineAuthenticators(apiTokens);
    const jwt = await rejection(apiOnly.authenticate(await sign(), NOW));
    expect(jwt.code).toBe('AUTH_TOKEN_INVALID');
    expect(jwt.message).toContain('auth.jwt is not configured');
    const other = await rejection(combineAuthenticators(apiTokens, jwks()).authenticate('ghp_something', NOW));
    expect(other.code).toBe('AUTH_TOKEN_INVALID');
    expect(other.message).not.toContain('ghp_something');
  });
});
