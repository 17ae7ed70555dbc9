// The reference estate's shape: its services, the programs supervisord runs, the seeded releases,
// the faults and where every file lives in the estate directory. Pure data and path arithmetic, no
// I/O: the controller (estate.ts) and the renderers (estate-render.ts) read it. docs/estate.md.
import { join } from 'node:path';

/** The service tiers of the estate, as the `tier` label of targets, alerts and Interlock's configuration. */
export type EstateTier = 'critical' | 'standard';

/** One service of the estate (an nginx location, an upstream, a metrics `service` label). */
export interface EstateService {
  /** The `service` label, the nginx location `/<name>/` and the upstream name. */
  readonly name: string;
  readonly tier: EstateTier;
  /** Requests per second the load generator sends it in the healthy state. */
  readonly loadRps: number;
  /** Database connections in its pool (`pools/<name>.json`) in the healthy state. */
  readonly poolMax: number;
  /** Requests one instance handles at once; more wait in its queue. */
  readonly concurrency: number;
  /**
   * Requests per second one instance sustains (its `service_capacity_rps`); the mean work time of a
   * request is `concurrency / capacityRps` s.
   */
  readonly capacityRps: number;
  /** The path the load generator requests under `/<name>/`. */
  readonly path: string;
}

/** A service program supervisord runs: an instance of a service, running a release track. */
export interface EstateServiceProgram {
  /** The supervisord program name (also its log file name and Prometheus' `program` label). */
  readonly name: string;
  readonly service: string;
  /** The release track it runs: `releases/<track>/current/service.mjs`. */
  readonly track: string;
  /** Whether supervisord starts it with the estate (spares and the canary wait until a fault or a fix). */
  readonly autostart: boolean;
}

/** One seeded release: a directory `releases/<track>/<version>/` with `release.json`. */
export interface EstateRelease {
  readonly track: string;
  readonly service: string;
  readonly version: string;
  /** Ratio 0..1 of requests this build fails with a 500 (its bug). */
  readonly errorRate: number;
  /** ms this build adds to every request. */
  readonly extraLatencyMs: number;
  /** Whether `current` points at it in the healthy state. */
  readonly current: boolean;
  /** The deploy log's `environment` of this track's deploys, when not production. */
  readonly environment?: string;
}

/** The services, in the order of the nginx locations and status tables. */
export const ESTATE_SERVICES: readonly EstateService[] = [
  { name: 'checkout', tier: 'critical', loadRps: 15, poolMax: 8, concurrency: 8, capacityRps: 120, path: 'cart' },
  { name: 'payments', tier: 'standard', loadRps: 15, poolMax: 4, concurrency: 16, capacityRps: 240, path: 'charge' },
  { name: 'catalog', tier: 'standard', loadRps: 15, poolMax: 4, concurrency: 2, capacityRps: 30, path: 'items' },
];

/** The service programs: one per service, the checkout canary and a spare catalog instance. */
export const ESTATE_SERVICE_PROGRAMS: readonly EstateServiceProgram[] = [
  { name: 'checkout', service: 'checkout', track: 'checkout', autostart: true },
  { name: 'checkout-canary', service: 'checkout', track: 'checkout-canary', autostart: false },
  { name: 'payments', service: 'payments', track: 'payments', autostart: true },
  { name: 'catalog', service: 'catalog', track: 'catalog', autostart: true },
  { name: 'catalog-2', service: 'catalog', track: 'catalog', autostart: false },
];

/** The seeded releases; `current: true` marks the healthy state of each track. */
export const ESTATE_RELEASES: readonly EstateRelease[] = [
  { track: 'checkout', service: 'checkout', version: '1.4.0', errorRate: 0, extraLatencyMs: 0, current: true },
  { track: 'checkout', service: 'checkout', version: '1.5.0', errorRate: 0.3, extraLatencyMs: 0, current: false },
  { track: 'checkout-canary', service: 'checkout', version: '1.5.0-canary', errorRate: 0, extraLatencyMs: 400, current: true, environment: 'canary' },
  { track: 'payments', service: 'payments', version: '2.1.0', errorRate: 0, extraLatencyMs: 0, current: true },
  { track: 'catalog', service: 'catalog', version: '3.0.0', errorRate: 0, extraLatencyMs: 0, current: true },
];

/** The faults `interlock estate inject` knows. */
export const ESTATE_FAULTS = ['bad-release', 'memory-leak', 'pool-exhaustion', 'canary-regression', 'load-surge'] as const;
export type EstateFault = (typeof ESTATE_FAULTS)[number];

/** The parameters of each fault (docs/estate.md, "Faults"). */
export const FAULT_SETTINGS = {
  badRelease: { track: 'checkout', version: '1.5.0' },
  memoryLeak: { service: 'catalog', leakBytesPerSecond: 5_000_000 },
  poolExhaustion: { service: 'payments', slowQueryRatio: 0.2, slowQueryMs: 2000 },
  canaryRegression: { upstream: 'checkout', canary: 'checkout-canary', canaryWeight: 30 },
  loadSurge: { service: 'catalog', factor: 2.5, spare: 'catalog-2' },
} as const;

/** The infrastructure programs, in supervisord priority order (lower starts first, stops last). */
export const INFRA_PROGRAMS = ['postgres', 'prometheus', 'alertmanager', 'nginx', 'loadgen'] as const;
export type InfraProgram = (typeof INFRA_PROGRAMS)[number];

/** The program that ends the estate when a watched process dies (`--watch-pid`). */
export const WATCHDOG_PROGRAM = 'watchdog';

/** Name of the estate's database and of its one table. */
export const ESTATE_DATABASE = 'estate';

/** The Debian packages that provide the binaries the estate runs. */
export const ESTATE_PACKAGES = 'apt-get install prometheus prometheus-alertmanager nginx-light supervisor git';

/** The service named `name`. @throws Error when there is none (a bug in the caller). */
export function estateService(name: string): EstateService {
  const service = ESTATE_SERVICES.find((s) => s.name === name);
  if (service === undefined) throw new Error(`no estate service ${name}`);
  return service;
}

/** The seeded current release of `track`. @throws Error when there is none (a bug in the caller). */
export function seededRelease(track: string): EstateRelease {
  const release = ESTATE_RELEASES.find((r) => r.track === track && r.current);
  if (release === undefined) throw new Error(`no seeded release for track ${track}`);
  return release;
}

/** The release tracks, each once, in the order of {@link ESTATE_RELEASES}. */
export function releaseTracks(): string[] {
  return [...new Set(ESTATE_RELEASES.map((r) => r.track))];
}

/** The mean work time of one request of `service`, ms: `concurrency / capacityRps` s. */
export function workMs(service: EstateService): number {
  return (service.concurrency * 1000) / service.capacityRps;
}

/** Every path of an estate directory `dir` (absolute). */
export interface EstatePaths {
  readonly dir: string;
  /** The state file other commands and the demo read. */
  readonly stateFile: string;
  /** The Interlock configuration `up` writes for this estate. */
  readonly interlockConfig: string;
  readonly secretsDir: string;
  readonly databaseUrlFile: string;
  readonly supervisorPasswordFile: string;
  readonly supervisordConfig: string;
  readonly supervisordPidFile: string;
  readonly supervisordLog: string;
  readonly supervisordSocket: string;
  readonly postgresDir: string;
  readonly releasesDir: string;
  readonly deployLog: string;
  readonly deploymentsRepo: string;
  readonly poolsDir: string;
  readonly faultsDir: string;
  readonly loadFile: string;
  readonly logsDir: string;
  readonly nginxDir: string;
  readonly nginxConfig: string;
  readonly nginxConfDir: string;
  readonly nginxPidFile: string;
  readonly prometheusDir: string;
  readonly prometheusConfig: string;
  readonly prometheusRules: string;
  readonly alertmanagerDir: string;
  readonly alertmanagerConfig: string;
  /** A link to Interlock's node_modules, so the release copies resolve `pg` and `prom-client`. */
  readonly nodeModulesLink: string;
}

/** The paths of the estate in `dir` (an absolute directory). */
export function estatePaths(dir: string): EstatePaths {
  const secretsDir = join(dir, 'secrets');
  const nginxDir = join(dir, 'nginx');
  const prometheusDir = join(dir, 'prometheus');
  const alertmanagerDir = join(dir, 'alertmanager');
  return {
    dir,
    stateFile: join(dir, 'estate.json'),
    interlockConfig: join(dir, 'interlock.yaml'),
    secretsDir,
    databaseUrlFile: join(secretsDir, 'database.url'),
    supervisorPasswordFile: join(secretsDir, 'supervisor.password'),
    supervisordConfig: join(dir, 'supervisord.conf'),
    supervisordPidFile: join(dir, 'supervisord.pid'),
    supervisordLog: join(dir, 'logs', 'supervisord.log'),
    supervisordSocket: join(dir, 'supervisor.sock'),
    postgresDir: join(dir, 'postgres'),
    releasesDir: join(dir, 'releases'),
    deployLog: join(dir, 'deploy.log'),
    deploymentsRepo: join(dir, 'deployments'),
    poolsDir: join(dir, 'pools'),
    faultsDir: join(dir, 'faults'),
    loadFile: join(dir, 'load.json'),
    logsDir: join(dir, 'logs'),
    nginxDir,
    nginxConfig: join(nginxDir, 'nginx.conf'),
    nginxConfDir: join(nginxDir, 'interlock'),
    nginxPidFile: join(nginxDir, 'nginx.pid'),
    prometheusDir,
    prometheusConfig: join(prometheusDir, 'prometheus.yml'),
    prometheusRules: join(prometheusDir, 'rules.yml'),
    alertmanagerDir,
    alertmanagerConfig: join(alertmanagerDir, 'alertmanager.yml'),
    nodeModulesLink: join(dir, 'node_modules'),
  };
}

/** `<dir>/pools/<service>.json`: the pool settings file of a service. */
export function poolFile(paths: EstatePaths, service: string): string {
  return join(paths.poolsDir, `${service}.json`);
}

/** `<dir>/faults/<service>.json`: the fault file of a service. */
export function faultFile(paths: EstatePaths, service: string): string {
  return join(paths.faultsDir, `${service}.json`);
}

/** `<dir>/logs/<program>.log`: a program's output (JSON Lines for the services). */
export function logFile(paths: EstatePaths, program: string): string {
  return join(paths.logsDir, `${program}.log`);
}

/** `<dir>/releases/<track>`: a release track's directory, holding versions and the `current` link. */
export function trackDir(paths: EstatePaths, track: string): string {
  return join(paths.releasesDir, track);
}
