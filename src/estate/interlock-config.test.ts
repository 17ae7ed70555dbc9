import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../config/index.js';
import { SERIES_ROLES } from '../core/diagnosis/evidence.js';
import { fixtureState } from '../../test/support/estate.js';
import { ESTATE_DIAGNOSIS_QUERIES, estateInterlockConfig, estateTargets, SUPERVISOR_PASSWORD_ENV } from './interlock-config.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'interlock-estate-config-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('estateInterlockConfig', () => {
  it('is a valid interlock.yaml: every connector on, pointed at the estate, with the supervisord password from the environment', () => {
    const state = fixtureState('/srv/estate');
    const file = join(dir, 'interlock.yaml');
    writeFileSync(file, stringify(estateInterlockConfig(state, { url: 'http://127.0.0.1:7500', token: 'il_not_written' })));
    const config = loadConfig({ env: { [SUPERVISOR_PASSWORD_ENV]: 's3cret' }, files: [file], cwd: dir });

    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 7500 });
    expect(config.intake.sources).toEqual([{ name: 'alertmanager', type: 'alertmanager', project: 'default', auth: { type: 'token' } }]);
    const { connectors } = config;
    expect(connectors.prometheus).toMatchObject({ enabled: true, url: 'http://127.0.0.1:41001' });
    expect(connectors.alertmanager).toMatchObject({ enabled: true, url: 'http://127.0.0.1:41002' });
    expect(connectors.supervisor).toMatchObject({ enabled: true, url: 'http://127.0.0.1:41003/RPC2', basicAuth: { username: 'interlock', passwordEnv: SUPERVISOR_PASSWORD_ENV }, basicAuthPassword: 's3cret' });
    expect(connectors.supervisor.processes).toEqual([
      { name: 'checkout', service: 'checkout', tier: 'critical', risk: 'write-prod' },
      { name: 'checkout-canary', service: 'checkout', tier: 'critical', risk: 'write-prod' },
      { name: 'payments', service: 'payments', tier: 'standard', risk: 'write-low' },
      { name: 'catalog', service: 'catalog', tier: 'standard', risk: 'write-low' },
      { name: 'catalog-2', service: 'catalog', tier: 'standard', risk: 'write-low' },
    ]);
    expect(connectors.nginx).toMatchObject({ enabled: true, mainConfig: '/srv/estate/nginx/nginx.conf', confDir: '/srv/estate/nginx/interlock', pidFile: '/srv/estate/nginx/nginx.pid' });
    expect(connectors.nginx.upstreams.map((u) => [u.name, u.servers.map((s) => s.address), u.tier, u.risk])).toEqual([
      ['checkout', ['127.0.0.1:41006', '127.0.0.1:41007'], 'critical', 'write-prod'],
      ['payments', ['127.0.0.1:41008'], 'standard', 'write-low'],
      ['catalog', ['127.0.0.1:41009', '127.0.0.1:41010'], 'standard', 'write-low'],
    ]);
    expect(connectors.changes).toMatchObject({ enabled: true, git: [{ name: 'deployments', path: '/srv/estate/deployments', ref: 'HEAD' }], deployLog: '/srv/estate/deploy.log' });
    expect(connectors.logs.files.map((f) => [f.name, f.path, f.service, f.format.type])).toEqual([
      ['checkout', '/srv/estate/logs/checkout.log', 'checkout', 'json'],
      ['checkout-canary', '/srv/estate/logs/checkout-canary.log', 'checkout', 'json'],
      ['payments', '/srv/estate/logs/payments.log', 'payments', 'json'],
      ['catalog', '/srv/estate/logs/catalog.log', 'catalog', 'json'],
      ['catalog-2', '/srv/estate/logs/catalog-2.log', 'catalog', 'json'],
    ]);
    expect(JSON.stringify(config)).not.toContain('il_not_written');
  });

  it('queries every role the diagnosis reads about a service, by the estate\'s metric names and $service', () => {
    const roles = ESTATE_DIAGNOSIS_QUERIES.map((q) => q.role);
    expect(roles).toEqual(['error_rate', 'latency_p99', 'heap_bytes', 'gc_pause_seconds', 'pool_active', 'pool_max', 'pool_wait_seconds', 'long_queries', 'request_rate', 'request_capacity']);
    for (const role of roles) expect(SERIES_ROLES).toContain(role);
    for (const { query } of ESTATE_DIAGNOSIS_QUERIES) expect(query).toContain('service="$service"');
    const config = estateInterlockConfig(fixtureState(), { url: 'http://127.0.0.1:7411' }) as { diagnosis: { queries: unknown[] } };
    expect(config.diagnosis.queries).toEqual(ESTATE_DIAGNOSIS_QUERIES);
  });
});

describe('estateTargets', () => {
  it('gives the releases, postgres and scale connectors each service\'s processes, pool file and URLs', () => {
    const catalog = estateTargets(fixtureState()).find((t) => t.service === 'catalog');
    expect(catalog).toEqual({
      service: 'catalog',
      tier: 'standard',
      upstream: 'catalog',
      poolFile: '/srv/estate/pools/catalog.json',
      poolBaseline: 4,
      applicationName: 'catalog',
      instances: [
        { program: 'catalog', track: 'catalog', address: '127.0.0.1:41009', metricsUrl: 'http://127.0.0.1:41009/metrics', healthUrl: 'http://127.0.0.1:41009/healthz', autostart: true },
        { program: 'catalog-2', track: 'catalog', address: '127.0.0.1:41010', metricsUrl: 'http://127.0.0.1:41010/metrics', healthUrl: 'http://127.0.0.1:41010/healthz', autostart: false },
      ],
    });
  });
});
