import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load-config.js';
import { configIssuesOf } from '../../../test/support/connectors.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scale-config-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The issue paths and messages of a configuration, given by its `lines`, `loadConfig` refuses. */
const issuesOf = (lines: string[]): Promise<string[]> => configIssuesOf(dir, `${lines.join('\n')}\n`);

describe('connectors.scale', () => {
  it('resolves the nginx paths against the file, keeps the nginx defaults, and reads the supervisord password', async () => {
    await writeFile(join(dir, 'interlock.yaml'), [
      'connectors:',
      '  scale:',
      '    enabled: true',
      '    supervisor: { basicAuth: { username: interlock, passwordEnv: SUPERVISOR_PASSWORD } }',
      '    nginx: { mainConfig: nginx/nginx.conf, confDir: nginx/interlock, pidFile: nginx/nginx.pid }',
      '    services:',
      '      - name: catalog',
      '        upstream: catalog',
      '        maxInstances: 2',
      '        instances: [{ process: catalog, address: "127.0.0.1:8103" }, { process: catalog-2, address: "127.0.0.1:8104", weight: 50 }]',
      '',
    ].join('\n'));
    const config = loadConfig({ env: { SUPERVISOR_PASSWORD: 's3cret' }, cwd: dir }).connectors.scale;
    expect(config).toMatchObject({
      supervisor: { url: 'http://127.0.0.1:9001/RPC2', basicAuthPassword: 's3cret' },
      nginx: { binary: '/usr/sbin/nginx', mainConfig: join(dir, 'nginx', 'nginx.conf'), confDir: join(dir, 'nginx', 'interlock'), pidFile: join(dir, 'nginx', 'nginx.pid'), timeoutMs: 10_000 },
      services: [{ name: 'catalog', upstream: 'catalog', risk: 'write-low', minInstances: 1, maxInstances: 2, instances: [{ process: 'catalog', address: '127.0.0.1:8103', weight: 1 }, { process: 'catalog-2', weight: 50 }] }],
    });
  });

  it('names every problem: bounds, duplicate processes, addresses, services and upstreams, bad addresses', async () => {
    expect(await issuesOf([
      'connectors:',
      '  scale:',
      '    services:',
      '      - { name: a, upstream: up, minInstances: 3, maxInstances: 2, instances: [{ process: p1, address: "127.0.0.1:1" }, { process: p1, address: "127.0.0.1:1" }] }',
      '      - { name: a, upstream: up, maxInstances: 5, instances: [{ process: p1, address: "x;y:1", weight: 0 }] }',
      '      - { name: c, upstream: "bad name", instances: [] }',
    ])).toEqual([
      'connectors.scale.services.0.instances.1.address: is the address of another instance',
      'connectors.scale.services.0.instances.1.process: is the process of another instance',
      'connectors.scale.services.0.minInstances: is more than maxInstances',
      'connectors.scale.services.1.instances.0.address: wrong format',
      'connectors.scale.services.1.instances.0.process: is an instance of another service',
      'connectors.scale.services.1.instances.0.weight: too small',
      'connectors.scale.services.1.maxInstances: is more than the instances listed',
      'connectors.scale.services.1.name: is the name of another service',
      'connectors.scale.services.1.upstream: is the upstream of another service',
      'connectors.scale.services.2.instances: too small',
      'connectors.scale.services.2.upstream: wrong format',
    ]);
  });

  it('refuses an upstream the nginx connector also writes when both are enabled', async () => {
    const scale = ['  scale:', '    enabled: true', '    services: [{ name: web, upstream: web, instances: [{ process: web, address: "127.0.0.1:8081" }] }]'];
    const nginx = (enabled: boolean): string[] => ['  nginx:', `    enabled: ${enabled}`, '    upstreams: [{ name: web, servers: [{ address: "127.0.0.1:8081" }] }]'];
    expect(await issuesOf(['connectors:', ...scale, ...nginx(true)])).toEqual([
      'connectors.scale.services.0.upstream: is also an upstream of the nginx connector; only one of them may write its file',
    ]);
    await writeFile(join(dir, 'interlock.yaml'), `${['connectors:', ...scale, ...nginx(false)].join('\n')}\n`);
    expect(loadConfig({ env: {}, cwd: dir }).connectors.scale.enabled).toBe(true);
  });

  it('needs a service when enabled', async () => {
    expect(await issuesOf(['connectors:', '  scale:', '    enabled: true'])).toEqual(['connectors.scale.services: is empty, so no tool could scale anything']);
  });
});
