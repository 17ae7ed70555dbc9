import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseUpstream, renderUpstream } from '../connectors/nginx/upstream-file.js';
import { fixtureState } from '../../test/support/estate.js';
import { ESTATE_SERVICE_PROGRAMS, ESTATE_SERVICES } from './estate-layout.js';
import {
  renderAlertmanagerConfig,
  renderLoad,
  renderNginxConfig,
  renderPool,
  renderPrometheusConfig,
  renderSupervisordConfig,
  seededLoad,
  seededWeights,
  type SupervisordRenderOptions,
} from './estate-render.js';

const renderOptions: SupervisordRenderOptions = {
  node: '/usr/bin/node',
  examplesDir: '/opt/interlock/examples/estate',
  prometheus: '/usr/bin/prometheus',
  alertmanager: '/usr/bin/prometheus-alertmanager',
  nginx: '/usr/sbin/nginx',
  postgresCommand: ['/opt/pg/bin/postgres', '-D', '/srv/estate/postgres', '-p', '41004', '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
  password: 's3cret',
};

/** The `[program:x]` sections of a supervisord configuration, as key → value maps. */
function programs(config: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of config.split('\n')) {
    const header = /^\[program:(.+)\]$/.exec(line);
    if (header !== null) sections.set(header[1]!, (current = new Map()));
    else if (line.startsWith('[')) current = undefined;
    else if (current !== undefined && line.includes('=')) current.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1));
  }
  return sections;
}

describe('supervisord configuration', () => {
  it('runs every program of the estate, XML-RPC on loopback with basic auth, and the watchdog of the watched process', () => {
    const config = renderSupervisordConfig(fixtureState(), renderOptions);
    expect(config).toContain('[inet_http_server]\nport=127.0.0.1:41003\nusername=interlock\npassword=s3cret\n');
    expect(config).toContain('pidfile=/srv/estate/supervisord.pid');
    const sections = programs(config);
    expect([...sections.keys()]).toEqual(['watchdog', 'postgres', 'prometheus', 'alertmanager', 'checkout', 'checkout-canary', 'payments', 'catalog', 'catalog-2', 'nginx', 'loadgen']);
    expect(sections.get('watchdog')?.get('environment')).toBe('ESTATE_WATCH_PID="4242"');
    expect([sections.get('postgres')?.get('user'), sections.get('postgres')?.get('stopsignal')]).toEqual(['postgres', 'INT']);
    expect(sections.get('postgres')?.get('command')).toBe('/opt/pg/bin/postgres -D /srv/estate/postgres -p 41004 -c listen_addresses=127.0.0.1 -c unix_socket_directories=');
    expect(sections.get('alertmanager')?.get('command')).toContain('--cluster.listen-address= ');
    expect(sections.get('alertmanager')?.get('command')).toContain('--storage.path=/srv/estate/alertmanager/data');
    // The spares wait for a fault or a fix; nginx and the load generator for the services (up starts them).
    for (const name of ['checkout-canary', 'catalog-2', 'nginx', 'loadgen']) expect(sections.get(name)?.get('autostart')).toBe('false');
    for (const name of ['checkout', 'payments', 'catalog', 'postgres', 'prometheus', 'alertmanager']) expect(sections.get(name)?.get('autostart')).toBe('true');
    expect(sections.get('catalog-2')?.get('command')).toBe('/usr/bin/node --max-old-space-size=1024 /srv/estate/releases/catalog/current/service.mjs');
    expect(sections.get('checkout-canary')?.get('command')).toContain('/srv/estate/releases/checkout-canary/current/service.mjs');
    expect(sections.get('catalog-2')?.get('environment')).toBe([
      'ESTATE_SERVICE="catalog"', 'ESTATE_INSTANCE="catalog-2"', 'ESTATE_PORT="41010"', 'ESTATE_DATABASE_URL_FILE="/srv/estate/secrets/database.url"',
      'ESTATE_POOL_FILE="/srv/estate/pools/catalog.json"', 'ESTATE_FAULT_FILE="/srv/estate/faults/catalog.json"', 'ESTATE_CONCURRENCY="2"', 'ESTATE_CAPACITY_RPS="30"',
    ].join(','));
    for (const [name, section] of sections) expect(section.get('stdout_logfile')).toBe(`/srv/estate/logs/${name}.log`);
  });

  it('has no watchdog without a watched process, and no user switch when not root', () => {
    const sections = programs(renderSupervisordConfig(fixtureState('/srv/estate', { watchPid: null, postgres: { port: 41_004, database: 'estate', user: 'postgres', runAs: null } }), renderOptions));
    expect(sections.has('watchdog')).toBe(false);
    expect(sections.get('postgres')?.has('user')).toBe(false);
  });

  it('quotes paths with spaces and doubles % so supervisord takes them literally', () => {
    const sections = programs(renderSupervisordConfig(fixtureState('/srv/my estate 100%'), renderOptions));
    expect(sections.get('checkout')?.get('command')).toBe('/usr/bin/node --max-old-space-size=1024 "/srv/my estate 100%%/releases/checkout/current/service.mjs"');
    expect(sections.get('checkout')?.get('environment')).toContain('ESTATE_POOL_FILE="/srv/my estate 100%%/pools/checkout.json"');
  });
});

describe('nginx', () => {
  it('proxies a location per service to its upstream and includes the connector\'s files', () => {
    const config = renderNginxConfig(fixtureState());
    expect(config).toContain('daemon off;');
    expect(config).toContain('include /srv/estate/nginx/interlock/*.conf;');
    expect(config).toContain('listen 127.0.0.1:41000;');
    for (const service of ESTATE_SERVICES) expect(config).toContain(`location /${service.name}/ { proxy_pass http://${service.name}; }`);
  });

  it('seeds the upstream files in the nginx connector\'s format: the first instance at 100, the canary and the spare down', () => {
    const weights = seededWeights(fixtureState());
    expect(weights).toEqual({
      checkout: [{ address: '127.0.0.1:41006', weight: 100 }, { address: '127.0.0.1:41007', weight: 0 }],
      payments: [{ address: '127.0.0.1:41008', weight: 100 }],
      catalog: [{ address: '127.0.0.1:41009', weight: 100 }, { address: '127.0.0.1:41010', weight: 0 }],
    });
    const text = renderUpstream('checkout', weights.checkout!);
    expect(text).toContain('    server 127.0.0.1:41007 down;');
    expect(parseUpstream('checkout', text)).toEqual(weights.checkout);
  });
});

describe('Prometheus and Alertmanager', () => {
  it('scrapes every service program with its program and tier, the exporter and itself every second, and sends alerts to the estate\'s Alertmanager', () => {
    const config = parse(renderPrometheusConfig(fixtureState()));
    expect(config.global).toEqual({ scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '1s' });
    expect(config.rule_files).toEqual(['/srv/estate/prometheus/rules.yml']);
    expect(config.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['127.0.0.1:41002']);
    const estate = config.scrape_configs.find((job: any) => job.job_name === 'estate');
    expect(estate.static_configs).toContainEqual({ targets: ['127.0.0.1:41007'], labels: { program: 'checkout-canary', tier: 'critical' } });
    expect(estate.static_configs).toContainEqual({ targets: ['127.0.0.1:41010'], labels: { program: 'catalog-2', tier: 'standard' } });
    expect(estate.static_configs).toHaveLength(ESTATE_SERVICE_PROGRAMS.length);
    // No `service` target label: it would rename the services' own `service` label to exported_service.
    for (const target of estate.static_configs) expect(target.labels).not.toHaveProperty('service');
    expect(config.scrape_configs.map((job: any) => job.static_configs[0].targets[0])).toEqual(['127.0.0.1:41006', '127.0.0.1:41005', '127.0.0.1:41001']);
  });

  it('groups by alert name and service, at once, resolved too, with the bearer token from the token file', () => {
    const config = parse(renderAlertmanagerConfig(fixtureState()));
    expect(config.route).toEqual({ receiver: 'interlock', group_by: ['alertname', 'service'], group_wait: '0s', group_interval: '1s', repeat_interval: '1h' });
    expect(config.receivers).toEqual([{ name: 'interlock', webhook_configs: [{ url: 'http://127.0.0.1:7411/v1/signals/alertmanager', send_resolved: true, http_config: { authorization: { type: 'Bearer', credentials_file: '/srv/token' } } }] }]);
    const withoutToken = parse(renderAlertmanagerConfig(fixtureState('/srv/estate', { alertmanager: { webhookUrl: 'http://x:1/v1/signals/a', sourceName: 'a', tokenFile: null } })));
    expect(withoutToken.receivers[0].webhook_configs[0]).not.toHaveProperty('http_config');
  });

  it('has the five alert rules, each with severity and for, and keeps the attribution of the rules adapted', () => {
    const text = readFileSync(new URL('../../examples/estate/alert-rules.yml', import.meta.url), 'utf8');
    expect(text).toContain('https://github.com/samber/awesome-prometheus-alerts');
    expect(text).toContain('CC BY 4.0');
    const rules = parse(text).groups.flatMap((group: any) => group.rules);
    expect(rules.map((rule: any) => rule.alert)).toEqual(['HighHttpErrorRate', 'HighLatencyP99', 'HeapGrowing', 'DbPoolExhausted', 'LoadNearCapacity']);
    for (const rule of rules) {
      expect(rule.labels.severity).toMatch(/^(critical|warning)$/);
      expect(rule.for).toMatch(/^\d+s$/);
      // Every alert keeps `service` and `tier` (the aggregation names them).
      expect(rule.expr).toMatch(/by \(service, tier/);
    }
  });
});

describe('control files', () => {
  it('writes the load and pool settings as the load generator and the services read them', () => {
    expect(JSON.parse(renderLoad(seededLoad()))).toEqual({ checkout: 15, payments: 15, catalog: 15 });
    expect(renderPool(12)).toBe('{"max":12}\n');
  });
});
