import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';

/** The longest timer Node accepts, ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** An environment variable name (POSIX portable: letters, digits, `_`, not starting with a digit). */
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

/** A PostgreSQL connection URL, as `database.url` takes it. */
const PostgresUrl = z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'a postgres:// or postgresql:// connection URL');

/**
 * A PostgreSQL `application_name` as sessions set it: printable ASCII, at most 63 characters
 * (NAMEDATALEN - 1; the server cuts longer names and replaces other characters with `?`).
 */
const ApplicationName = z.string().regex(/^[\x20-\x7e]{1,63}$/, 'printable ASCII, 1 to 63 characters (PostgreSQL keeps no more)');

/** The pool settings file of one service, its metrics and the limits Interlock keeps its size in. */
const PoolSchema = z
  .object({
    file: z.string().min(1).describe('The pool settings file `{"max": N}` the service re-reads and applies; Interlock changes `max` in it (temporary file + rename).'),
    metricsUrl: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
      .describe('The service\'s Prometheus text-format endpoint; verification reads `db_pool_max{service="<name>"}` there.'),
    baseline: z.int().min(1).max(10_000).describe('The pool size the service normally runs with: what postgres.revert_pool_size puts back.'),
    min: z.int().min(1).max(10_000).describe('Smallest pool size the tools may set.'),
    max: z.int().min(1).max(10_000).describe('Hard limit: the largest pool size the tools may set, whatever a caller asks.'),
  })
  .strict()
  .superRefine((pool, ctx) => {
    if (pool.min > pool.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], input: pool.min, params: { expected: `<= ${pool.max} (max)` }, message: 'is above max' });
    } else if (pool.baseline < pool.min || pool.baseline > pool.max) {
      ctx.addIssue({ code: 'custom', path: ['baseline'], input: pool.baseline, params: { expected: `${pool.min}..${pool.max} (min..max)` }, message: 'is outside min..max' });
    }
  });

/** One service whose sessions and pool the tools may touch, with the labels policy reads as `target`. */
const PostgresServiceSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, "_", "." or "-", at most 63 characters')
      .describe('The service, as tools name it and as its metrics label it (`service`).'),
    applicationName: ApplicationName.optional().describe('The `application_name` its sessions set; only such sessions may be terminated. Default: `name`.'),
    tier: z.string().min(1).max(200).optional().describe('Tier label of the target (e.g. critical), for policy and autonomy rules.'),
    risk: z.enum(['write-low', 'write-prod']).default('write-low').describe('Risk class of postgres.terminate, postgres.set_pool_size and postgres.revert_pool_size on this service.'),
    pool: PoolSchema.optional().describe('Its connection pool; without it the pool tools refuse the service.'),
  })
  .strict();

/**
 * Configuration of the postgres connector: the managed database (its URL, or the environment
 * variable holding it with its password), the statement timeout of the connector's queries, and the
 * services whose sessions and pools the tools may touch (docs/connectors/postgres.md).
 */
export const PostgresConfigSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Put postgres.activity, postgres.terminate, postgres.set_pool_size and postgres.revert_pool_size in the catalog.'),
    url: PostgresUrl.optional().describe('Connection URL of the managed database, without a password (e.g. with trust, peer or certificate authentication); or use urlEnv.'),
    urlEnv: EnvName.optional().describe('Environment variable holding the connection URL with its password; read at start-up, never logged.'),
    statementTimeoutMs: z.int().min(100).max(MAX_TIMER_MS).default(5000)
      .describe('Longest one query of the connector may run (its session\'s statement_timeout), ms; also bounds connecting.'),
    maxTerminatePerCall: z.int().min(1).max(1000).default(10).describe('Most sessions one postgres.terminate call terminates; the longest-running go first.'),
    verifyWindowMs: z.int().min(0).max(3_600_000).default(2000)
      .describe('How long a service\'s metrics must keep reporting the new pool size for the verification of a pool change to pass, ms.'),
    services: z.array(PostgresServiceSchema).max(1000).default([]).describe('The services the tools may touch; sessions of any other application are never terminated.'),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.url !== undefined) checkUrl(config.url, ctx);
    if (config.url !== undefined && config.urlEnv !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['urlEnv'], input: 'url and urlEnv', params: { expected: 'either url or urlEnv, not both' }, message: 'conflicts with url' });
    }
    if (config.enabled && config.url === undefined && config.urlEnv === undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], input: 'neither url nor urlEnv', params: { expected: 'url, or urlEnv naming the variable with the URL' }, message: 'is missing: the connector needs the database to connect to' });
    }
    if (config.enabled && config.services.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['services'], input: [], params: { expected: 'at least one service when enabled' }, message: 'is empty, so no tool could touch anything' });
    }
    const names = new Set<string>();
    const applications = new Set<string>();
    config.services.forEach((service, index) => {
      if (names.has(service.name)) ctx.addIssue({ code: 'custom', path: ['services', index, 'name'], input: service.name, params: { expected: 'a name no other service has' }, message: 'is the name of another service' });
      names.add(service.name);
      const application = service.applicationName ?? service.name;
      if (applications.has(application)) {
        ctx.addIssue({ code: 'custom', path: ['services', index, 'applicationName'], input: application, params: { expected: 'an application_name no other service has' }, message: 'is the application_name of another service' });
      }
      applications.add(application);
    });
  });

/** Refuses a URL with a password in it (as user info or a `password` parameter). */
function checkUrl(url: string, ctx: z.RefinementCtx): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return; // the format check reports it
  }
  if (parsed.password !== '' || /(^|&)password=/i.test(parsed.search.slice(1))) {
    ctx.addIssue({ code: 'custom', path: ['url'], input: `${parsed.protocol}//***@${parsed.host}`, params: { expected: 'a URL without a password (put the URL with its password in the variable urlEnv names)' }, message: 'holds a password' });
  }
}

/** A value and everything inside it read-only, as `loadConfig` returns the configuration. */
type Frozen<T> = T extends readonly (infer E)[] ? ReadonlyArray<Frozen<E>> : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

/** The connection URL `loadConfig` read from the variable `urlEnv` names; never in a file, masked when printed. */
export interface PostgresSecrets {
  /** The value of the variable `urlEnv` names. */
  readonly secretUrl?: string;
}

/**
 * Resolved configuration of the postgres connector, read-only as `loadConfig` returns it (pool files
 * absolute), with the URL `loadConfig` read from the environment.
 */
export type PostgresConfig = Frozen<z.output<typeof PostgresConfigSchema>> & PostgresSecrets;

/** One configured service. */
export type PostgresServiceConfig = PostgresConfig['services'][number];

/** The environment as `loadConfig` passes it. */
type Env = Readonly<Record<string, string | undefined>>;

/**
 * `config` with `secretUrl` read from the variable `urlEnv` names. An unset or empty variable leaves
 * it unset: the connector refuses to start then (see {@link requirePostgresUrl}), so commands that
 * call no tool do not need it.
 */
export function withPostgresSecrets<T extends { readonly urlEnv?: string | undefined }>(config: T, env: Env): T & PostgresSecrets {
  const value = config.urlEnv === undefined ? undefined : env[config.urlEnv];
  return value === undefined || value === '' ? config : { ...config, secretUrl: value };
}

/**
 * The connection URL the connector uses: `url`, or the value of the variable `urlEnv` names.
 * @throws ConfigError `CONFIG_INVALID` naming `connectors.postgres.urlEnv` when that variable is unset
 *   or empty, or `connectors.postgres.url` when neither is set.
 */
export function requirePostgresUrl(config: Pick<PostgresConfig, 'url' | 'urlEnv' | 'secretUrl'>): string {
  if (config.urlEnv !== undefined) {
    if (config.secretUrl === undefined || config.secretUrl === '') {
      throw new ConfigError('CONFIG_INVALID', `connectors.postgres.urlEnv names the environment variable ${config.urlEnv}, which is unset or empty; set it to the connection URL or remove the key`, [
        { path: 'connectors.postgres.urlEnv', message: 'names an unset or empty environment variable', expected: `${config.urlEnv} set to a postgres:// URL`, received: 'unset' },
      ]);
    }
    if (!/^postgres(ql)?:\/\/\S+$/.test(config.secretUrl)) {
      throw new ConfigError('CONFIG_INVALID', `The environment variable ${config.urlEnv} (connectors.postgres.urlEnv) does not hold a postgres:// or postgresql:// connection URL`, [
        { path: 'connectors.postgres.urlEnv', message: 'names a variable that holds no connection URL', expected: 'a postgres:// or postgresql:// URL', received: '***' },
      ]);
    }
    return config.secretUrl;
  }
  if (config.url === undefined) {
    throw new ConfigError('CONFIG_INVALID', 'connectors.postgres has neither url nor urlEnv; set one', [
      { path: 'connectors.postgres.url', message: 'is missing', expected: 'url, or urlEnv naming the variable with the URL' },
    ]);
  }
  return config.url;
}
