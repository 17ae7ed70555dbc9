// The Interlock configuration that manages a reference estate: its connectors pointed at the estate's
// Prometheus, Alertmanager, supervisord, nginx, deploy log, Git repository and log files, the intake
// source Alertmanager notifies, and the diagnosis queries over the estate's metrics. Pure: no I/O.
import {
  ESTATE_SERVICE_PROGRAMS,
  ESTATE_SERVICES,
  estateService,
  logFile,
  poolFile,
} from './estate-layout.js';
import { programAddress } from './estate-render.js';
import type { EstateState } from './estate-state.js';

/** The environment variable the generated configuration names for supervisord's password. */
export const SUPERVISOR_PASSWORD_ENV = 'ESTATE_SUPERVISOR_PASSWORD';
/** The environment variable holding the estate database's URL (with its password), for the postgres connector. */
export const DATABASE_URL_ENV = 'ESTATE_DATABASE_URL';

/** Where Interlock runs for the estate. */
export interface EstateInterlockOptions {
  /** Interlock's base URL, where Alertmanager sends notifications: its `server.host` and `server.port`. */
  readonly url: string;
  /**
   * Not written into the configuration (secrets never are): Interlock keeps its API tokens in its
   * database, and Alertmanager reads the token from the estate's token file. Accepted so callers can
   * pass what they hold.
   */
  readonly token?: string;
}

/** The metric queries of the diagnosis of an estate incident, by role; `$service` is substituted. */
export const ESTATE_DIAGNOSIS_QUERIES = [
  // `or vector(0)`: before the first 5xx there is no 5xx series, and the ratio would have no value.
  { role: 'error_rate', query: '(sum(rate(http_requests_total{service="$service",code=~"5.."}[1m])) or vector(0)) / sum(rate(http_requests_total{service="$service"}[1m]))' },
  { role: 'latency_p99', query: 'histogram_quantile(0.99, sum by (version, le) (rate(http_request_duration_seconds_bucket{service="$service"}[1m])))' },
  { role: 'heap_bytes', query: 'max by (program) (nodejs_heap_size_used_bytes{service="$service"})' },
  { role: 'gc_pause_seconds', query: 'sum by (program) (rate(nodejs_gc_duration_seconds_sum{service="$service"}[1m]))' },
  { role: 'pool_active', query: 'sum(db_pool_active{service="$service"})' },
  { role: 'pool_max', query: 'sum(db_pool_max{service="$service"})' },
  { role: 'pool_wait_seconds', query: 'sum(rate(db_pool_acquire_seconds_sum{service="$service"}[1m]))' },
  { role: 'long_queries', query: 'sum(pg_long_running_queries{service="$service"})' },
  { role: 'request_rate', query: 'sum(rate(http_requests_total{service="$service"}[1m]))' },
  { role: 'request_capacity', query: 'sum(service_capacity_rps{service="$service"})' },
] as const;

/** The risk class of writes on a service program: `write-prod` for the critical checkout, `write-low` for the rest. */
function programRisk(service: string): 'write-prod' | 'write-low' {
  return estateService(service).tier === 'critical' ? 'write-prod' : 'write-low';
}

/**
 * The Interlock configuration (the object form of `interlock.yaml`) for managing the estate in
 * `state`: `server` where `interlock.url` points; `intake.sources` with the Alertmanager source the
 * estate notifies (bearer API token); `diagnosis.queries` over the estate's metrics
 * ({@link ESTATE_DIAGNOSIS_QUERIES}); and the connectors prometheus, alertmanager, supervisor (the
 * service programs with their `service` and `tier`; `write-prod` for checkout's, `write-low` for the
 * others), nginx (the three upstreams), changes (the deploy log and the deployments repository) and
 * logs (each service program's JSON Lines log). supervisord's password is read from the variable
 * {@link SUPERVISOR_PASSWORD_ENV} (see `estateInterlockEnv`). Paths are absolute.
 */
export function estateInterlockConfig(state: EstateState, interlock: EstateInterlockOptions): Record<string, unknown> {
  const url = new URL(interlock.url);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const { paths } = state;
  return {
    server: { host: url.hostname.replace(/^\[|\]$/g, ''), port },
    intake: {
      sources: [{ name: state.alertmanager.sourceName, type: 'alertmanager', project: 'default', auth: { type: 'token' } }],
    },
    diagnosis: { queries: ESTATE_DIAGNOSIS_QUERIES.map((q) => ({ ...q })) },
    connectors: {
      prometheus: { enabled: true, url: state.urls.prometheus },
      alertmanager: { enabled: true, url: state.urls.alertmanager },
      supervisor: {
        enabled: true,
        url: state.urls.supervisor,
        basicAuth: { username: state.supervisorUsername, passwordEnv: SUPERVISOR_PASSWORD_ENV },
        processes: ESTATE_SERVICE_PROGRAMS.map((p) => ({ name: p.name, service: p.service, tier: estateService(p.service).tier, risk: programRisk(p.service) })),
      },
      nginx: {
        enabled: true,
        binary: state.nginxBinary,
        mainConfig: paths.nginxConfig,
        confDir: paths.nginxConfDir,
        pidFile: paths.nginxPidFile,
        upstreams: ESTATE_SERVICES.map((s) => ({
          name: s.name,
          servers: ESTATE_SERVICE_PROGRAMS.filter((p) => p.service === s.name).map((p) => ({ address: programAddress(state, p.name) })),
          service: s.name,
          tier: s.tier,
          risk: programRisk(s.name),
        })),
      },
      changes: {
        enabled: true,
        git: [{ name: 'deployments', path: paths.deploymentsRepo }],
        deployLog: paths.deployLog,
      },
      logs: {
        enabled: true,
        files: ESTATE_SERVICE_PROGRAMS.map((p) => ({ name: p.name, path: logFile(paths, p.name), format: { type: 'json' }, service: p.service })),
      },
      // ---- Connectors built in parallel: the lead adds `releases`, `postgres` and `scale` here. ----
      // Everything they need is in the state and estateTargets(state): the release root
      // (paths.releasesDir, one directory per track with a `current` link), the deploy log and Git
      // repository, supervisord (urls.supervisor, SUPERVISOR_PASSWORD_ENV), each service's processes,
      // health URL, pool file and metrics URL, the database URL (DATABASE_URL_ENV), and nginx.
    },
  };
}

/** What the releases, postgres and scale connectors need to know about one service of the estate. */
export interface EstateServiceTargets {
  readonly service: string;
  readonly tier: 'critical' | 'standard';
  /** The nginx upstream of the service (`<confDir>/upstream-<name>.conf`). */
  readonly upstream: string;
  /** The pool settings file `{"max": N}` the service's instances re-read. */
  readonly poolFile: string;
  /** The pool size of the healthy estate. */
  readonly poolBaseline: number;
  /** The `application_name` of the service's database sessions. */
  readonly applicationName: string;
  /** Its instances: supervisord program, release track, upstream address, metrics and health URLs. */
  readonly instances: ReadonlyArray<{
    readonly program: string;
    readonly track: string;
    readonly address: string;
    readonly metricsUrl: string;
    readonly healthUrl: string;
    /** Whether it runs in the healthy estate (the canary and the spare do not). */
    readonly autostart: boolean;
  }>;
}

/** Per service: the processes, files and URLs the releases, postgres and scale connectors are configured with. */
export function estateTargets(state: EstateState): EstateServiceTargets[] {
  return ESTATE_SERVICES.map((s) => ({
    service: s.name,
    tier: s.tier,
    upstream: s.name,
    poolFile: poolFile(state.paths, s.name),
    poolBaseline: s.poolMax,
    applicationName: s.name,
    instances: ESTATE_SERVICE_PROGRAMS.filter((p) => p.service === s.name).map((p) => ({
      program: p.name,
      track: p.track,
      address: programAddress(state, p.name),
      metricsUrl: `http://${programAddress(state, p.name)}/metrics`,
      healthUrl: `http://${programAddress(state, p.name)}/healthz`,
      autostart: p.autostart,
    })),
  }));
}
