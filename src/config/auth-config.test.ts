import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import { loadConfig } from './load-config.js';

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'interlock-auth-config-'));
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function load(relativePath: string, yaml: string) {
  const file = join(cwd, relativePath);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, yaml);
  return loadConfig({ env: {}, files: [file], cwd });
}

function issues(relativePath: string, yaml: string): string[] {
  try {
    load(relativePath, yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('auth configuration', () => {
  it('fills the JWT defaults, names the issuer as authorization server and resolves the key file against the file', () => {
    const config = load('etc/interlock.yaml', 'auth:\n  jwt:\n    issuer: https://login.example.com/realms/ops\n    audience: https://interlock.example.com/mcp\n    publicKeyFile: keys/issuer.pem\n');
    expect(config.auth).toEqual({
      jwt: {
        issuer: 'https://login.example.com/realms/ops',
        audience: 'https://interlock.example.com/mcp',
        publicKeyFile: join(cwd, 'etc', 'keys', 'issuer.pem'),
        algorithms: ['RS256', 'ES256', 'EdDSA'],
        principalClaim: 'sub',
        requiredScopes: [],
        clockToleranceSeconds: 30,
      },
      authorizationServers: ['https://login.example.com/realms/ops'],
    });
  });

  it('keeps configured authorization servers', () => {
    const config = load('interlock.yaml', 'auth:\n  authorizationServers: [https://as.example.com]\n  jwt:\n    issuer: https://login.example.com\n    audience: [https://a.example.com, https://b.example.com]\n    jwksUrl: https://login.example.com/jwks\n');
    expect(config.auth.authorizationServers).toEqual(['https://as.example.com']);
    expect(config.auth.jwt?.audience).toEqual(['https://a.example.com', 'https://b.example.com']);
  });

  it('requires exactly one key source, and refuses symmetric algorithms and bad scopes, naming each field', () => {
    expect(issues('interlock.yaml', 'auth:\n  jwt:\n    issuer: https://login.example.com\n    audience: x\n')).toEqual(['auth.jwt.jwksUrl: is missing: set jwksUrl (or publicKeyFile) so token signatures can be checked']);
    expect(issues('interlock.yaml', 'auth:\n  jwt:\n    issuer: https://login.example.com\n    audience: x\n    jwksUrl: https://login.example.com/jwks\n    publicKeyFile: k.pem\n')).toEqual(['auth.jwt.publicKeyFile: is set together with auth.jwt.jwksUrl; keep one']);
    const paths = issues('interlock.yaml', 'auth:\n  jwt:\n    issuer: not a url\n    audience: []\n    jwksUrl: https://login.example.com/jwks\n    algorithms: [HS256]\n    requiredScopes: ["two words"]\n').map((issue) => issue.split(':')[0]);
    expect(paths.sort()).toEqual(['auth.jwt.algorithms.0', 'auth.jwt.audience', 'auth.jwt.issuer', 'auth.jwt.requiredScopes.0']);
  });
});

describe('mcp.server configuration', () => {
  it('defaults to enabled, 60 requests at once and 10 per second, a 30 s call wait', () => {
    expect(loadConfig({ env: {}, files: [], cwd }).mcp.server).toEqual({ enabled: true, rateLimit: { capacity: 60, refillPerSecond: 10 }, allowedOrigins: [], callWaitMs: 30_000 });
  });

  it('takes a public URL that is an origin only', () => {
    expect(load('interlock.yaml', 'mcp:\n  server:\n    publicUrl: https://interlock.example.com\n').mcp.server.publicUrl).toBe('https://interlock.example.com');
    expect(issues('interlock.yaml', 'mcp:\n  server:\n    publicUrl: https://interlock.example.com/interlock\n    rateLimit:\n      refillPerSecond: 0\n')).toEqual([
      'mcp.server.publicUrl: has a path, query, fragment or credentials',
      'mcp.server.rateLimit.refillPerSecond: too small',
    ]);
  });
});
