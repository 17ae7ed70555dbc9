import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load-config.js';
import { redactConfig } from '../../config/redact.js';
import { ConfigError } from '../../core/errors.js';
import { PostgresConfigSchema, requirePostgresUrl, withPostgresSecrets, type PostgresConfig } from './postgres-config.js';

const pool = { file: '/srv/pools/payments.json', metricsUrl: 'http://127.0.0.1:8102/metrics', baseline: 4, min: 2, max: 16 };

/** The `path: message` of each problem of `config`. */
function problems(config: unknown): string[] {
  const result = PostgresConfigSchema.safeParse(config);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('connectors.postgres schema', () => {
  it('is off with nothing configured, and fills the defaults of a service', () => {
    expect(PostgresConfigSchema.parse({})).toEqual({ enabled: false, statementTimeoutMs: 5000, maxTerminatePerCall: 10, verifyWindowMs: 2000, services: [] });
    expect(PostgresConfigSchema.parse({ enabled: true, url: 'postgres://interlock@db/estate', services: [{ name: 'payments', pool }] }).services)
      .toEqual([{ name: 'payments', risk: 'write-low', pool }]);
  });

  it('names each problem: no database, both url and urlEnv, a password in the url, no service, duplicates, pool limits', () => {
    expect(problems({ enabled: true })).toEqual(['url: is missing: the connector needs the database to connect to', 'services: is empty, so no tool could touch anything']);
    expect(problems({ url: 'postgres://a@db/x', urlEnv: 'DB_URL' })).toEqual(['urlEnv: conflicts with url']);
    expect(problems({ url: 'postgres://app:hunter2@db/x' })).toEqual(['url: holds a password']);
    expect(problems({ url: 'postgresql://app@db/x?sslmode=require&password=hunter2' })).toEqual(['url: holds a password']);
    expect(problems({ url: 'mysql://db/x' })).toEqual(['url: a postgres:// or postgresql:// connection URL']);
    expect(problems({ services: [{ name: 'a' }, { name: 'a', applicationName: 'other' }, { name: 'b', applicationName: 'a' }] }))
      .toEqual(['services.1.name: is the name of another service', 'services.2.applicationName: is the application_name of another service']);
    expect(problems({ services: [{ name: 'a', pool: { ...pool, min: 20 } }, { name: 'b', pool: { ...pool, baseline: 17 } }] }))
      .toEqual(['services.0.pool.min: is above max', 'services.1.pool.baseline: is outside min..max']);
    expect(problems({ services: [{ name: 'a', applicationName: 'x'.repeat(64) }, { name: 'b/c' }] }).map((p) => p.split(':')[0]))
      .toEqual(['services.0.applicationName', 'services.1.name']);
  });

  it('never shows a refused password back', () => {
    expect(JSON.stringify(PostgresConfigSchema.safeParse({ url: 'postgres://app:hunter2@db/x' }, { reportInput: true }).error)).not.toContain('hunter2');
  });
});

describe('the connection URL from the environment', () => {
  it('is read from the variable urlEnv names, and required only when the connector is built', () => {
    const config = PostgresConfigSchema.parse({ enabled: true, urlEnv: 'DB_URL', services: [{ name: 'payments' }] });
    expect(requirePostgresUrl(withPostgresSecrets(config, { DB_URL: 'postgres://app:s3cret@db/estate' }))).toBe('postgres://app:s3cret@db/estate');
    for (const env of [{}, { DB_URL: '' }, { DB_URL: 'not a url' }]) {
      const error = (() => {
        try {
          requirePostgresUrl(withPostgresSecrets(config, env));
        } catch (caught) {
          return caught as ConfigError;
        }
        throw new Error('expected a ConfigError');
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.issues.map((i) => i.path)).toEqual(['connectors.postgres.urlEnv']);
    }
    expect(requirePostgresUrl(PostgresConfigSchema.parse({ url: 'postgres://interlock@db/estate' }))).toBe('postgres://interlock@db/estate');
  });
});

describe('loadConfig with connectors.postgres', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'postgres-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves pool files against the file, reads the URL from the environment and masks it when printed', () => {
    writeFileSync(join(dir, 'interlock.yaml'), [
      'connectors:',
      '  postgres:',
      '    enabled: true',
      '    urlEnv: ESTATE_DATABASE_URL',
      '    services:',
      '      - { name: payments, tier: standard, pool: { file: pools/payments.json, metricsUrl: "http://127.0.0.1:8102/metrics", baseline: 4, min: 2, max: 16 } }',
      '',
    ].join('\n'));
    const config = loadConfig({ env: { ESTATE_DATABASE_URL: 'postgres://app:s3cret@db/estate' }, cwd: dir });
    expect((config.connectors.postgres as PostgresConfig).secretUrl).toBe('postgres://app:s3cret@db/estate');
    expect(config.connectors.postgres.services[0]?.pool?.file).toBe(join(dir, 'pools', 'payments.json'));
    const printed = JSON.stringify(redactConfig(config));
    expect(printed).not.toContain('s3cret');
    expect(printed).toContain('"secretUrl":"***"');
  });
});
