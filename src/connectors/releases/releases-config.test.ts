import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load-config.js';
import { configIssuesOf } from '../../../test/support/connectors.js';
import { ReleasesConfigSchema } from './releases-config.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'releases-config-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The issues, `<path>: <message>`, of a configuration `loadConfig` refuses. */
const issuesOf = (yaml: string): Promise<string[]> => configIssuesOf(dir, yaml);

describe('connectors.releases', () => {
  it('resolves root, deployLog and gitDir against the file, and reads the supervisord password from the variable named', async () => {
    await writeFile(join(dir, 'interlock.yaml'), [
      'connectors:',
      '  releases:',
      '    enabled: true',
      '    root: releases',
      '    deployLog: logs/deploys.jsonl',
      '    gitDir: /srv/git/deployments',
      '    supervisor: { url: "http://127.0.0.1:9101/RPC2", basicAuth: { username: interlock, passwordEnv: SUPERVISOR_PASSWORD } }',
      '    services: [{ name: checkout, processes: [checkout, "workers:worker_00"], tier: critical, risk: write-prod, healthUrl: "http://127.0.0.1:8101/version" }]',
      '',
    ].join('\n'));
    const config = loadConfig({ env: { SUPERVISOR_PASSWORD: 's3cret' }, cwd: '/', files: [join(dir, 'interlock.yaml')] }).connectors.releases;
    expect(config).toMatchObject({
      root: join(dir, 'releases'),
      deployLog: join(dir, 'logs', 'deploys.jsonl'),
      gitDir: '/srv/git/deployments',
      author: { name: 'Interlock', email: 'interlock@localhost' },
      supervisor: { url: 'http://127.0.0.1:9101/RPC2', timeoutMs: 30_000, basicAuthPassword: 's3cret' },
      verifyWindowMs: 5000,
      services: [{ name: 'checkout', processes: ['checkout', 'workers:worker_00'], tier: 'critical', risk: 'write-prod' }],
    });
  });

  it('names every problem: missing root, deployLog and services when enabled', async () => {
    expect(await issuesOf('connectors:\n  releases:\n    enabled: true\n')).toEqual([
      'connectors.releases.deployLog: is required when the connector is enabled',
      'connectors.releases.root: is required when the connector is enabled',
      'connectors.releases.services: is empty, so no tool could deploy anything',
    ]);
  });

  it('refuses service names that are not one safe path segment, duplicates, no processes and a bad health URL', async () => {
    expect(await issuesOf([
      'connectors:',
      '  releases:',
      '    root: /srv/releases',
      '    deployLog: /var/log/deploys.jsonl',
      '    services:',
      '      - { name: "../etc", processes: [a] }',
      '      - { name: current, processes: [a] }',
      '      - { name: web, processes: [] }',
      '      - { name: web, processes: ["has space"], healthUrl: "ftp://x" }',
      '    author: { email: nobody }',
      '    supervisor: { url: "http://user:pw@127.0.0.1:9001/RPC2" }',
      '',
    ].join('\n'))).toEqual([
      'connectors.releases.author.email: wrong format',
      'connectors.releases.services.0.name: wrong format',
      'connectors.releases.services.1.name: "current" is the pointer to the running release, not a version',
      'connectors.releases.services.2.processes: too small',
      'connectors.releases.services.3.healthUrl: wrong format',
      'connectors.releases.services.3.name: is the name of another service',
      'connectors.releases.services.3.processes.0: wrong format',
      'connectors.releases.supervisor.url: holds credentials',
    ]);
  });

  it('is off by default, with nothing required', () => {
    expect(ReleasesConfigSchema.parse({})).toEqual({
      enabled: false, author: { name: 'Interlock', email: 'interlock@localhost' }, supervisor: { url: 'http://127.0.0.1:9001/RPC2', timeoutMs: 30_000 }, verifyWindowMs: 5000, services: [],
    });
  });
});
