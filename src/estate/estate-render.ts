// The text of every configuration file of the reference estate, from its state: supervisord,
// nginx (main file and the upstream include files, in the nginx connector's own format), Prometheus,
// Alertmanager, and the control files the services and the load generator read. Pure: no I/O.
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ServerWeight } from '../connectors/nginx/upstream-file.js';
import {
  ESTATE_SERVICE_PROGRAMS,
  ESTATE_SERVICES,
  estateService,
  faultFile,
  logFile,
  poolFile,
  trackDir,
  WATCHDOG_PROGRAM,
  type EstateServiceProgram,
} from './estate-layout.js';
import type { EstateState } from './estate-state.js';

/** What the supervisord configuration needs besides the state: the binaries and the secrets. */
export interface SupervisordRenderOptions {
  /** The Node.js binary the estate's programs run with (`process.execPath`). */
  readonly node: string;
  /** The directory of `loadgen.mjs` and `watchdog.mjs` (Interlock's `examples/estate`). */
  readonly examplesDir: string;
  readonly prometheus: string;
  readonly alertmanager: string;
  readonly nginx: string;
  /** The PostgreSQL server's command line (`prepareEmbeddedPostgres`). */
  readonly postgresCommand: readonly string[];
  /** supervisord's `[inet_http_server]` password: a secret, so the file is written mode 0600. */
  readonly password: string;
}

/** One `[program:x]` section's settings. */
interface ProgramSection {
  readonly name: string;
  readonly command: readonly string[];
  readonly priority: number;
  readonly autostart: boolean;
  readonly stopsignal?: 'TERM' | 'INT' | 'QUIT';
  readonly stopwaitsecs?: number;
  readonly user?: string;
  readonly environment?: Readonly<Record<string, string>>;
}

/** A value as supervisord's `command=` splits it (shlex): quoted when it holds a space or a quote. `%` is doubled (supervisord expands `%(x)s`). */
function commandWord(word: string): string {
  const escaped = word.replace(/%/g, '%%');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/(["\\])/g, '\\$1')}"`;
}

/** A `KEY="value",…` list for supervisord's `environment=`. */
function environmentLine(environment: Readonly<Record<string, string>>): string {
  return Object.entries(environment).map(([key, value]) => `${key}="${value.replace(/%/g, '%%').replace(/(["\\])/g, '\\$1')}"`).join(',');
}

/** The environment of a service program (see examples/estate/service.mjs). */
export function serviceEnvironment(state: EstateState, program: EstateServiceProgram): Record<string, string> {
  const service = estateService(program.service);
  return {
    ESTATE_SERVICE: program.service,
    ESTATE_INSTANCE: program.name,
    ESTATE_PORT: String(state.ports.programs[program.name]),
    ESTATE_DATABASE_URL_FILE: state.paths.databaseUrlFile,
    ESTATE_POOL_FILE: poolFile(state.paths, program.service),
    ESTATE_FAULT_FILE: faultFile(state.paths, program.service),
    ESTATE_CONCURRENCY: String(service.concurrency),
    ESTATE_CAPACITY_RPS: String(service.capacityRps),
  };
}

/** The programs supervisord runs, in priority order. */
function programSections(state: EstateState, options: SupervisordRenderOptions): ProgramSection[] {
  const { paths, ports } = state;
  const sections: ProgramSection[] = [];
  if (state.watchPid !== null) {
    sections.push({ name: WATCHDOG_PROGRAM, command: [options.node, join(options.examplesDir, 'watchdog.mjs')], priority: 1, autostart: true, environment: { ESTATE_WATCH_PID: String(state.watchPid) } });
  }
  sections.push(
    { name: 'postgres', command: options.postgresCommand, priority: 10, autostart: true, stopsignal: 'INT', stopwaitsecs: 30, ...(state.postgres.runAs === null ? {} : { user: state.postgres.runAs }) },
    {
      name: 'prometheus',
      command: [options.prometheus, `--config.file=${paths.prometheusConfig}`, `--storage.tsdb.path=${join(paths.prometheusDir, 'data')}`, `--web.listen-address=127.0.0.1:${ports.prometheus}`, '--storage.tsdb.retention.time=1d', '--web.enable-lifecycle', '--log.level=warn'],
      priority: 20,
      autostart: true,
    },
    {
      name: 'alertmanager',
      command: [options.alertmanager, `--config.file=${paths.alertmanagerConfig}`, `--storage.path=${join(paths.alertmanagerDir, 'data')}`, `--web.listen-address=127.0.0.1:${ports.alertmanager}`, '--cluster.listen-address=', '--log.level=warn'],
      priority: 20,
      autostart: true,
    },
  );
  for (const program of ESTATE_SERVICE_PROGRAMS) {
    sections.push({
      name: program.name,
      // A bounded heap: a leak that is not fixed ends in an out-of-memory crash and a restart by supervisord.
      command: [options.node, '--max-old-space-size=1024', join(trackDir(paths, program.track), 'current', 'service.mjs')],
      priority: 30,
      autostart: program.autostart,
      environment: serviceEnvironment(state, program),
    });
  }
  sections.push(
    // `up` starts nginx and the load generator once the services answer: a connection nginx finds
    // refused takes that server out of its upstream for 10 s (max_fails=1, fail_timeout=10s).
    { name: 'nginx', command: [options.nginx, '-c', paths.nginxConfig, '-e', 'stderr'], priority: 40, autostart: false, stopsignal: 'QUIT', stopwaitsecs: 10 },
    {
      name: 'loadgen',
      command: [options.node, join(options.examplesDir, 'loadgen.mjs')],
      priority: 50,
      autostart: false,
      environment: {
        ESTATE_HTTP_URL: state.urls.http,
        ESTATE_LOAD_FILE: paths.loadFile,
        ESTATE_EXPORTER_PORT: String(ports.exporter),
        ESTATE_DATABASE_URL_FILE: paths.databaseUrlFile,
        ESTATE_SERVICES: ESTATE_SERVICES.map((s) => `${s.name}:${s.path}`).join(','),
      },
    },
  );
  return sections;
}

/**
 * `supervisord.conf`: supervisord in the background with its pid file and log in the estate
 * directory, XML-RPC on `[inet_http_server]` 127.0.0.1 with basic auth (`/RPC2`), and one program
 * per process of the estate, each logging to `<dir>/logs/<program>.log`.
 * @see http://supervisord.org/configuration.html
 */
export function renderSupervisordConfig(state: EstateState, options: SupervisordRenderOptions): string {
  const { paths } = state;
  const lines = [
    '; The reference estate of Interlock (docs/estate.md). Generated by `interlock estate up`; rewritten by each `up`.',
    '[supervisord]',
    'nodaemon=false',
    `logfile=${paths.supervisordLog}`,
    'logfile_maxbytes=10MB',
    'logfile_backups=1',
    `pidfile=${paths.supervisordPidFile}`,
    `childlogdir=${paths.logsDir}`,
    `directory=${paths.dir}`,
    'loglevel=info',
    'identifier=interlock-estate',
    '',
    '[inet_http_server]',
    `port=127.0.0.1:${state.ports.supervisor}`,
    `username=${state.supervisorUsername}`,
    `password=${options.password}`,
    '',
    '[rpcinterface:supervisor]',
    'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
    '',
    '[supervisorctl]',
    `serverurl=http://127.0.0.1:${state.ports.supervisor}`,
    `username=${state.supervisorUsername}`,
    `password=${options.password}`,
    '',
  ];
  for (const program of programSections(state, options)) {
    lines.push(
      `[program:${program.name}]`,
      `command=${program.command.map(commandWord).join(' ')}`,
      `priority=${program.priority}`,
      `autostart=${String(program.autostart)}`,
      'autorestart=unexpected',
      'exitcodes=0',
      'startsecs=1',
      'startretries=3',
      `stopsignal=${program.stopsignal ?? 'TERM'}`,
      `stopwaitsecs=${program.stopwaitsecs ?? 5}`,
      ...(program.user === undefined ? [] : [`user=${program.user}`]),
      `stdout_logfile=${logFile(paths, program.name)}`,
      'stdout_logfile_maxbytes=50MB',
      'stdout_logfile_backups=1',
      'redirect_stderr=true',
      ...(program.environment === undefined ? [] : [`environment=${environmentLine(program.environment)}`]),
      '',
    );
  }
  return lines.join('\n');
}

/** nginx's `*_temp_path` directives, all under `<dir>/nginx/temp`. */
function tempPaths(state: EstateState): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `${name}_temp_path ${join(state.paths.nginxDir, 'temp', name)};`).join(' ');
}

/**
 * `nginx.conf`: one server on 127.0.0.1:<http port> in the foreground, a location per service
 * (`/checkout/`, `/payments/`, `/catalog/`) proxying to the upstream of the same name, whose
 * `server` lines are in the include files `<dir>/nginx/interlock/upstream-<name>.conf` that the
 * nginx connector owns.
 */
export function renderNginxConfig(state: EstateState): string {
  const { paths } = state;
  return [
    '# The reference estate of Interlock (docs/estate.md). Generated by `interlock estate up`.',
    'daemon off;',
    'worker_processes 1;',
    `pid ${paths.nginxPidFile};`,
    'error_log stderr warn;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    `  ${tempPaths(state)}`,
    `  include ${paths.nginxConfDir}/*.conf;`,
    '  server {',
    `    listen 127.0.0.1:${state.ports.http};`,
    '    proxy_connect_timeout 2s;',
    '    proxy_read_timeout 30s;',
    ...ESTATE_SERVICES.map((service) => `    location /${service.name}/ { proxy_pass http://${service.name}; }`),
    '    location = /healthz { return 200 "ok\\n"; }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The servers of each upstream and their weights, by upstream name. */
export type UpstreamWeights = Readonly<Record<string, readonly ServerWeight[]>>;

/** `127.0.0.1:<port>` of a service program. */
export function programAddress(state: EstateState, program: string): string {
  return `127.0.0.1:${state.ports.programs[program]}`;
}

/**
 * The healthy weights: each service's first program at 100, the others (the checkout canary, the
 * spare catalog) `down`.
 */
export function seededWeights(state: EstateState): UpstreamWeights {
  return Object.fromEntries(ESTATE_SERVICES.map((service) => [
    service.name,
    ESTATE_SERVICE_PROGRAMS.filter((p) => p.service === service.name).map((p, index) => ({ address: programAddress(state, p.name), weight: index === 0 ? 100 : 0 })),
  ]));
}

/** The healthy load: each service's `loadRps`. */
export function seededLoad(): Record<string, number> {
  return Object.fromEntries(ESTATE_SERVICES.map((s) => [s.name, s.loadRps]));
}

/** `load.json`: requests per second per service. */
export function renderLoad(load: Readonly<Record<string, number>>): string {
  return `${JSON.stringify(load)}\n`;
}

/** `pools/<service>.json`: `{"max": N}`. */
export function renderPool(max: number): string {
  return `${JSON.stringify({ max })}\n`;
}

/** `release.json` of a release directory. */
export function renderReleaseJson(release: { readonly service: string; readonly version: string; readonly errorRate: number; readonly extraLatencyMs: number }): string {
  return `${JSON.stringify({ service: release.service, version: release.version, errorRate: release.errorRate, extraLatencyMs: release.extraLatencyMs }, null, 2)}\n`;
}

/** The `program` and `tier` target labels of a service program (its metrics carry `service` and `version`). */
function serviceTargetLabels(program: EstateServiceProgram): Record<string, string> {
  return { program: program.name, tier: estateService(program.service).tier };
}

/**
 * `prometheus.yml`: scrape and evaluate every second; every service program (job `estate`, labels
 * `program` and `tier`), the exporter (job `estate-exporter`) and Prometheus itself; the alert rules
 * in `rules.yml`; alerts to the estate's Alertmanager.
 * @see https://prometheus.io/docs/prometheus/2.42/configuration/configuration/
 */
export function renderPrometheusConfig(state: EstateState): string {
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '1s' },
    rule_files: [state.paths.prometheusRules],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${state.ports.alertmanager}`] }] }] },
    scrape_configs: [
      {
        job_name: 'estate',
        static_configs: ESTATE_SERVICE_PROGRAMS.map((program) => ({ targets: [programAddress(state, program.name)], labels: serviceTargetLabels(program) })),
      },
      { job_name: 'estate-exporter', static_configs: [{ targets: [`127.0.0.1:${state.ports.exporter}`], labels: { program: 'loadgen' } }] },
      { job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${state.ports.prometheus}`], labels: { program: 'prometheus' } }] },
    ],
  };
  return `# The reference estate of Interlock (docs/estate.md). Generated by \`interlock estate up\`.\n${stringify(config)}`;
}

/**
 * `alertmanager.yml`: one route grouping by alert name and service, sent at once (`group_wait: 0s`,
 * `group_interval: 1s`), resolved alerts too, to Interlock's signal intake with the bearer token
 * read from `tokenFile` when there is one.
 * @see https://prometheus.io/docs/alerting/0.25/configuration/
 */
export function renderAlertmanagerConfig(state: EstateState): string {
  const { tokenFile, webhookUrl } = state.alertmanager;
  const webhook = {
    url: webhookUrl,
    send_resolved: true,
    ...(tokenFile === null ? {} : { http_config: { authorization: { type: 'Bearer', credentials_file: tokenFile } } }),
  };
  const config = {
    route: { receiver: 'interlock', group_by: ['alertname', 'service'], group_wait: '0s', group_interval: '1s', repeat_interval: '1h' },
    receivers: [{ name: 'interlock', webhook_configs: [webhook] }],
  };
  return `# The reference estate of Interlock (docs/estate.md). Generated by \`interlock estate up\`.\n${stringify(config)}`;
}
