import { describe, expect, it } from 'vitest';
import { loadConfig } from './load-config.js';
import { redactConfig, redactDatabaseUrl } from './redact.js';
import type { InterlockConfig } from './schema.js';

describe('redactDatabaseUrl', () => {
  it('replaces the password and keeps user, host, port, database and parameters', () => {
    expect(redactDatabaseUrl('postgres://app:s3cr%40t@db.internal:5432/interlock?sslmode=require')).toBe('postgres://app:***@db.internal:5432/interlock?sslmode=require');
    expect(redactDatabaseUrl('postgresql://user:pw@host/db')).toBe('postgresql://user:***@host/db');
  });

  it('leaves a URL without a password as it is', () => {
    expect(redactDatabaseUrl('postgres://app@db/interlock')).toBe('postgres://app@db/interlock');
  });

  it('masks a password given as a parameter', () => {
    expect(redactDatabaseUrl('postgres://db/interlock?user=app&password=pw&sslmode=require')).toBe('postgres://db/interlock?user=app&password=***&sslmode=require');
  });

  it('masks the password of a URL the WHATWG parser rejects (socket path, empty host)', () => {
    const redacted = redactDatabaseUrl('postgres://app:p@ss:w/rd@/interlock?host=/var/run/postgresql');
    expect(redacted).toBe('postgres://app:***@/interlock?host=/var/run/postgresql');
  });
});

describe('redactConfig', () => {
  const config = loadConfig({ env: { DATABASE_URL: 'postgres://interlock:hunter2@db:5432/interlock' }, cwd: '/srv/interlock' });

  it('masks the database password and leaves the rest', () => {
    const redacted = redactConfig(config);
    expect(redacted.database.url).toBe('postgres://interlock:***@db:5432/interlock');
    expect({ ...redacted, database: { ...redacted.database, url: config.database.url } }).toEqual(config);
    expect(config.database.url).toBe('postgres://interlock:hunter2@db:5432/interlock');
  });

  it('masks every string under a key named like a token, secret or password, at any depth', () => {
    const withSecrets = {
      ...config,
      connectors: { slack: { botToken: 'xoxb-1', channel: '#ops' }, git: { credentials: { user: 'bot', key: 'k' } }, ldap: { bindPassword: 'p', timeoutMs: 5 } },
      apiKey: 'sk-1',
    } as unknown as InterlockConfig;
    expect(redactConfig(withSecrets)).toMatchObject({
      connectors: { slack: { botToken: '***', channel: '#ops' }, git: { credentials: { user: '***', key: '***' } }, ldap: { bindPassword: '***', timeoutMs: 5 } },
      apiKey: '***',
    });
    expect(JSON.stringify(redactConfig(withSecrets))).not.toMatch(/xoxb-1|sk-1|hunter2/);
  });

  it("masks an audit export sink's token but shows the name of the variable it came from", () => {
    const withSink = { ...config, audit: { ...config.audit, export: { ...config.audit.export, sinks: [{ name: 'siem', type: 'cloudevents', url: 'https://siem.example', bearerTokenEnv: 'SIEM_TOKEN', bearerToken: 's3cret' }] } } } as unknown as InterlockConfig;
    expect(redactConfig(withSink).audit.export.sinks[0]).toMatchObject({ bearerTokenEnv: 'SIEM_TOKEN', bearerToken: '***' });
  });
});
