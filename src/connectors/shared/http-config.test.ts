import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load-config.js';
import { redactConfig } from '../../config/redact.js';
import { ConfigError } from '../../core/errors.js';
import { requireHttpSecrets } from './http-config.js';

const dir = mkdtempSync(join(tmpdir(), 'http-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string, env: Record<string, string> = {}) {
  const file = join(dir, `c${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig({ env, files: [file], cwd: dir });
}

describe('HTTP connector credentials', () => {
  it('reads the token and password from the variables the file names, and never prints them', () => {
    const config = load([
      'connectors:',
      '  prometheus: { enabled: true, url: "https://prometheus.example/prom", bearerTokenEnv: PROM_TOKEN }',
      '  alertmanager: { enabled: true, basicAuth: { username: interlock, passwordEnv: AM_PASSWORD } }',
    ].join('\n'), { PROM_TOKEN: 'tok-123', AM_PASSWORD: 'pw-456' });
    expect(config.connectors.prometheus).toMatchObject({ bearerToken: 'tok-123', bearerTokenEnv: 'PROM_TOKEN' });
    expect(config.connectors.alertmanager).toMatchObject({ basicAuthPassword: 'pw-456' });
    expect(requireHttpSecrets('connectors.prometheus', config.connectors.prometheus)).toEqual({ authorization: 'Bearer tok-123' });
    expect(requireHttpSecrets('connectors.alertmanager', config.connectors.alertmanager)).toEqual({ authorization: `Basic ${Buffer.from('interlock:pw-456').toString('base64')}` });
    const printed = JSON.stringify(redactConfig(config));
    expect(printed).not.toContain('tok-123');
    expect(printed).not.toContain('pw-456');
    expect(printed).toContain('PROM_TOKEN');
  });

  it('refuses credentials in the URL and two authentication schemes at once, naming the keys', () => {
    let error: unknown;
    try {
      load('connectors:\n  prometheus: { url: "http://user:secret@prometheus.example", bearerTokenEnv: T, basicAuth: { username: u, passwordEnv: P } }\n');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((issue) => issue.path).sort()).toEqual(['connectors.prometheus.basicAuth', 'connectors.prometheus.url']);
    expect(JSON.stringify(issues)).not.toContain('secret');
  });

  it('leaves an unset variable unset, and the connector then refuses to start naming the key', () => {
    const config = load('connectors:\n  alertmanager: { enabled: true, basicAuth: { username: u, passwordEnv: AM_PASSWORD } }\n', { AM_PASSWORD: '' });
    expect(config.connectors.alertmanager).not.toHaveProperty('basicAuthPassword');
    expect(() => requireHttpSecrets('connectors.alertmanager', config.connectors.alertmanager)).toThrow(/connectors\.alertmanager\.basicAuth\.passwordEnv names the environment variable AM_PASSWORD/);
  });
});
