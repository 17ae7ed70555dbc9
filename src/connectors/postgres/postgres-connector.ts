import { resolve } from 'node:path';
import { z } from 'zod';
import { ConnectorError, InputError } from '../../core/errors.js';
import { RISK_CLASSES, type AnyToolContract, type RiskClass, type ToolContract, type VerificationProbe } from '../../core/tools/tool.js';
import { ExpositionParseError, parseGauge } from './exposition.js';
import { readPoolRecord, readPoolSize, writePoolRecord, writePoolSize } from './pool-file.js';
import { createPostgresClient, type PostgresClient, type Query } from './postgres-client.js';
import { requirePostgresUrl, type PostgresConfig, type PostgresServiceConfig } from './postgres-config.js';

const SYSTEM = 'postgres';

/** Query text in results is cut to this many characters. */
const MAX_QUERY_CHARS = 500;
/** The gauge a service exports with its pool size (label `service`). */
const POOL_METRIC = 'db_pool_max';
/** Longest one read of a service's metrics may take, ms. */
const METRICS_TIMEOUT_MS = 5000;
/** Largest metrics page read, bytes. */
const MAX_METRICS_BYTES = 4 * 1024 * 1024;
/** Longest `minDurationMs` a call may give, ms (7 days). */
const MAX_DURATION_MS = 7 * 24 * 3_600_000;
/** Largest PostgreSQL pid (a 32-bit signed int). */
const MAX_PID = 2_147_483_647;

/**
 * The sessions the connector may ever terminate, on `pg_stat_activity a` joined with `pg_roles r`:
 * client backends of the connected database, not its own session, not a superuser's.
 */
const TERMINABLE = `a.datname = current_database() and a.backend_type = 'client backend' and a.pid <> pg_backend_pid() and r.rolsuper is false`;
/** A session's running time, ms: since its query started, for a session that is not idle. */
const DURATION_MS = `case when a.state is distinct from 'idle' and a.query_start is not null then floor(extract(epoch from clock_timestamp() - a.query_start) * 1000)::bigint end`;
/** `$n` ms before now. */
const MS_AGO = (n: number): string => `clock_timestamp() - ($${n}::bigint * interval '1 millisecond')`;

/** One session as the tools report it. */
const Session = z.object({
  pid: z.int(),
  applicationName: z.string(),
  service: z.string().nullable().describe('The configured service whose application_name the session has, else null.'),
  user: z.string().nullable(),
  state: z.string().nullable().describe('active, idle, idle in transaction, idle in transaction (aborted), fastpath function call, disabled; null when the connector\'s role may not see it (grant pg_read_all_stats).'),
  waitEventType: z.string().nullable(),
  waitEvent: z.string().nullable(),
  backendStart: z.string().describe('When the session connected, ISO 8601 (ms).'),
  queryStart: z.string().nullable().describe('When its current (or, when idle, last) query started, ISO 8601.'),
  durationMs: z.int().nullable().describe('How long its current query has been running, ms; null when idle.'),
  query: z.string().nullable().describe(`Its current or last query, cut to ${MAX_QUERY_CHARS} characters.`),
  queryTruncated: z.boolean(),
  terminable: z.boolean().describe('True when postgres.terminate may terminate it: a configured service\'s session, not a superuser\'s.'),
});
type Session = z.output<typeof Session>;

const ActivityOutput = z.object({
  service: z.string().nullable(),
  sessions: z.array(Session).describe('Matching sessions, longest-running first, at most `limit`.'),
  matching: z.int().describe('Sessions matching every filter, before `limit`.'),
  truncated: z.boolean().describe('True when `matching` > the sessions returned.'),
  byState: z.record(z.string(), z.int()).describe('Sessions of the service (or of the database) per state, whatever minDurationMs; `unknown` for sessions whose state the connector may not see.'),
  total: z.int().describe('Client sessions of the service (or of the database), the connector\'s own left out.'),
});

/** A session a terminate call signalled or found gone. */
const TerminatedSession = z.object({
  pid: z.int(),
  backendStart: z.string().describe('When the session connected, ISO 8601 (ms): with the pid, what identifies it.'),
  state: z.string().nullable(),
  durationMs: z.int().nullable(),
  query: z.string().nullable(),
  signalled: z.boolean().describe('True when pg_terminate_backend signalled it; false when it was gone by then.'),
});

const TerminateOutput = z.object({
  service: z.string(),
  terminated: z.array(z.int()).describe('Pids pg_terminate_backend signalled.'),
  alreadyGone: z.array(z.int()).describe('Pids that were gone before they could be signalled (success: the session is not running).'),
  sessions: z.array(TerminatedSession),
  skipped: z.int().describe('Sessions that qualified but were left running because of maxTerminatePerCall (the shortest-running ones).'),
});
type TerminateOutput = z.output<typeof TerminateOutput>;

const PoolOutput = z.object({
  service: z.string(),
  previous: z.int().describe('The pool size before the call (before its first attempt, across retries).'),
  size: z.int().describe('The pool size the settings file now holds.'),
});
type PoolOutput = z.output<typeof PoolOutput>;

interface ActivityRow extends Record<string, unknown> {
  pid: number;
  application_name: string | null;
  usename: string | null;
  state: string | null;
  wait_event_type: string | null;
  wait_event: string | null;
  backend_start: Date;
  query_start: Date | null;
  duration_ms: string | null;
  query: string | null;
  query_truncated: boolean | null;
  superuser: boolean | null;
  matching: string;
}

interface CandidateRow extends Record<string, unknown> {
  pid: number;
  backend_start: Date;
  state: string | null;
  duration_ms: string | null;
  query: string | null;
  matching: string;
  signalled: boolean;
}

interface PidRow extends Record<string, unknown> {
  pid: number;
  application_name: string | null;
  backend_type: string | null;
  same_database: boolean | null;
  own: boolean;
  superuser: boolean | null;
  backend_start: Date;
  state: string | null;
  duration_ms: string | null;
  query: string | null;
}

/** Options of {@link createPostgresConnector}. */
export interface PostgresConnectorOptions {
  /** The database client; by default one is built from the configuration's URL. */
  readonly client?: PostgresClient;
}

/**
 * The postgres connector: reads the sessions of the managed database (`pg_stat_activity`), terminates
 * long-running backends of configured services (`pg_terminate_backend`), and sets the connection pool
 * size of configured services through their pool settings files, within a hard limit.
 *
 * - `postgres.activity` (read): sessions with their state, wait event, running time and query (cut to
 *   500 characters), and counts per state; bounded by `limit`.
 * - `postgres.terminate` (the services' risk, `write-low` by default): one `pid` of the service, or
 *   every `active` query of the service running longer than `minDurationMs` (at most
 *   `maxTerminatePerCall`, longest first). Only client backends of the connected database whose
 *   `application_name` is the service's, never the connector's own session and never a superuser's.
 *   Idempotent by state (a session already gone is success); no compensation (a terminated query
 *   cannot be un-terminated). Verified by the sessions (pid and start time) being gone.
 * - `postgres.set_pool_size`: `max` in the service's pool file, refused outside `[min, max]`;
 *   compensated by `postgres.set_pool_size` back to `previous`; verified by the service's metrics
 *   reporting `db_pool_max{service} == size` for `verifyWindowMs`.
 * - `postgres.revert_pool_size`: the same, back to the configured `baseline`.
 *
 * The size before a pool change is kept per idempotency key beside the pool file
 * (`<dir>/.interlock/pool-<sha256>.json`), so a retry after a crash reports (and compensates to) the
 * size before the first attempt.
 *
 * @throws ConfigError `CONFIG_INVALID` when `urlEnv` names an unset variable (see {@link requirePostgresUrl}).
 * @see https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW
 * @see https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-SIGNAL
 */
export function createPostgresConnector(config: PostgresConfig, options: PostgresConnectorOptions = {}): AnyToolContract[] {
  const client = options.client ?? createPostgresClient({ url: requirePostgresUrl(config), statementTimeoutMs: config.statementTimeoutMs });
  const services = new Map(config.services.map((s) => [s.name, s]));
  const byApplication = new Map(config.services.map((s) => [applicationOf(s), s.name]));
  const pooled = config.services.filter((s) => s.pool !== undefined);
  const locks = new Map<string, Promise<unknown>>();

  const serviceEnum = (names: readonly string[], what: string) => {
    const error = `${what} (${names.join(', ') || 'none'})`;
    return (names.length === 0 ? z.string().refine(() => false, { error }) : z.enum(names as [string, ...string[]], { error })).describe(`The service: ${what}.`);
  };
  const ServiceName = serviceEnum([...services.keys()], 'a service listed in connectors.postgres.services');
  const PoolServiceName = serviceEnum(pooled.map((s) => s.name), 'a service of connectors.postgres.services with a pool');

  const ActivityInput = z.object({
    service: ServiceName.optional().describe('Only the sessions of this service; all client sessions of the database when left out.'),
    minDurationMs: z.int().min(0).max(MAX_DURATION_MS).optional().describe('Only sessions whose current query has been running at least this long, ms (idle sessions never match).'),
    limit: z.int().min(1).max(1000).default(100).describe('Most sessions returned, longest-running first.'),
  }).strict();

  const TerminateInput = z.object({
    service: ServiceName,
    pid: z.int().min(1).max(MAX_PID).optional().describe('One backend of the service to terminate; refused when it is not the service\'s.'),
    minDurationMs: z.int().min(1000).max(MAX_DURATION_MS).optional()
      .describe(`Without pid: terminate the service's active queries running at least this long, ms (>= 1000), at most ${config.maxTerminatePerCall} per call, longest first.`),
  }).strict().superRefine((args, ctx) => {
    if (args.pid === undefined && args.minDurationMs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['minDurationMs'], input: undefined, message: 'is required when pid is not given (terminate the active queries running at least this long, ms, >= 1000)' });
    }
    if (args.pid !== undefined && args.minDurationMs !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['pid'], input: args.pid, message: 'cannot be given with minDurationMs: give pid (one backend) or minDurationMs (long-running queries), not both' });
    }
  });

  const limitsOf = (name: string): { min: number; max: number } | undefined => services.get(name)?.pool;
  const SetPoolInput = z.object({
    service: PoolServiceName,
    size: z.int().min(1).max(10_000).describe('The new pool size (connections); refused outside the service\'s pool min..max.'),
  }).strict().superRefine((args, ctx) => {
    const limits = limitsOf(args.service);
    if (limits !== undefined && (args.size < limits.min || args.size > limits.max)) {
      ctx.addIssue({ code: 'custom', path: ['size'], input: args.size, message: outsideLimits(args.service, args.size, limits) });
    }
  });
  const RevertPoolInput = z.object({ service: PoolServiceName }).strict();

  type ActivityArgs = z.output<typeof ActivityInput>;
  type TerminateArgs = z.output<typeof TerminateInput>;
  type SetPoolArgs = z.output<typeof SetPoolInput>;
  type RevertPoolArgs = z.output<typeof RevertPoolInput>;

  const configured = (name: string): PostgresServiceConfig => {
    const service = services.get(name);
    if (service === undefined) throw invalidArgs('service', `${name} is not a service listed in connectors.postgres.services; only configured services are touched.`, 'a configured service', name);
    return service;
  };
  const poolOf = (name: string): NonNullable<PostgresServiceConfig['pool']> & { file: string } => {
    const pool = configured(name).pool;
    if (pool === undefined) throw invalidArgs('service', `Service ${name} has no pool in connectors.postgres.services; configure pool.file, metricsUrl, baseline, min and max to change its pool size.`, 'a service with a pool', name);
    return { ...pool, file: resolve(pool.file) };
  };
  const target = (args: { service?: string | undefined }): { service: string | null; tier: string | null; labels: Record<string, string> } => {
    const service = args.service === undefined ? undefined : services.get(args.service);
    if (service === undefined) return { service: null, tier: null, labels: { system: SYSTEM } };
    return { service: service.name, tier: service.tier ?? null, labels: { system: SYSTEM, application: applicationOf(service), risk: service.risk } };
  };
  const highest = (list: readonly PostgresServiceConfig[]): RiskClass => list.reduce<RiskClass>((risk, s) => (RISK_CLASSES.indexOf(s.risk) > RISK_CLASSES.indexOf(risk) ? s.risk : risk), 'write-low');

  const toSession = (row: ActivityRow): Session => {
    const service = row.application_name === null ? null : (byApplication.get(row.application_name) ?? null);
    return {
      pid: row.pid,
      applicationName: row.application_name ?? '',
      service,
      user: row.usename,
      state: row.state,
      waitEventType: row.wait_event_type,
      waitEvent: row.wait_event,
      backendStart: row.backend_start.toISOString(),
      queryStart: row.query_start?.toISOString() ?? null,
      durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
      query: row.query,
      queryTruncated: row.query_truncated === true,
      terminable: service !== null && row.superuser === false,
    };
  };

  const activity: ToolContract<ActivityArgs, z.output<typeof ActivityOutput>> = {
    name: 'postgres.activity',
    description: 'Reads the client sessions of the managed PostgreSQL database from pg_stat_activity (all, or one service\'s; optionally only queries running at least minDurationMs): state, wait event, running time and query, with counts per state.',
    input: ActivityInput,
    output: ActivityOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs: config.statementTimeoutMs * 3 + 1000,
    permission: 'postgres:read',
    retry: { maxAttempts: 3, intervalMs: 200, backoffRate: 2 },
    target,
    async execute(args, context) {
      const application = args.service === undefined ? null : applicationOf(configured(args.service));
      return client.session(context.signal, false, async (query) => {
        const counts = await query<{ state: string; count: number }>(
          `select coalesce(a.state, 'unknown') as state, count(*)::int as count
             from pg_stat_activity a
            where a.datname = current_database() and a.backend_type = 'client backend' and a.pid <> pg_backend_pid()
              and ($1::text is null or a.application_name = $1)
            group by 1 order by 1`,
          [application],
        );
        const rows = await query<ActivityRow>(
          `select a.pid, a.application_name, a.usename, a.state, a.wait_event_type, a.wait_event,
                  date_trunc('milliseconds', a.backend_start) as backend_start, a.query_start,
                  ${DURATION_MS} as duration_ms,
                  left(a.query, ${MAX_QUERY_CHARS}) as query, length(a.query) > ${MAX_QUERY_CHARS} as query_truncated,
                  r.rolsuper as superuser, count(*) over () as matching
             from pg_stat_activity a left join pg_roles r on r.oid = a.usesysid
            where a.datname = current_database() and a.backend_type = 'client backend' and a.pid <> pg_backend_pid()
              and ($1::text is null or a.application_name = $1)
              and ($2::bigint is null or (a.state is distinct from 'idle' and a.query_start <= ${MS_AGO(2)}))
            order by duration_ms desc nulls last, a.pid
            limit $3`,
          [application, args.minDurationMs ?? null, args.limit],
        );
        const matching = rows.length === 0 ? 0 : Number(rows[0]!.matching);
        return {
          service: args.service ?? null,
          sessions: rows.map(toSession),
          matching,
          truncated: matching > rows.length,
          byState: Object.fromEntries(counts.map((c) => [c.state, c.count])),
          total: counts.reduce((sum, c) => sum + c.count, 0),
        };
      });
    },
  };

  /** Terminates backend `pid` if it is a terminable session of `service`; refuses any other session. */
  const terminatePid = async (query: Query, service: PostgresServiceConfig, pid: number): Promise<TerminateOutput> => {
    const application = applicationOf(service);
    const [row] = await query<PidRow>(
      `select a.pid, a.application_name, a.backend_type, a.datname = current_database() as same_database, a.pid = pg_backend_pid() as own,
              r.rolsuper as superuser, date_trunc('milliseconds', a.backend_start) as backend_start, a.state,
              ${DURATION_MS} as duration_ms, left(a.query, ${MAX_QUERY_CHARS}) as query
         from pg_stat_activity a left join pg_roles r on r.oid = a.usesysid
        where a.pid = $1`,
      [pid],
    );
    if (row === undefined) return { service: service.name, terminated: [], alreadyGone: [pid], sessions: [], skipped: 0 };
    const refuse = (why: string): never => {
      throw invalidArgs('pid', `pid ${pid} ${why}; postgres.terminate only terminates client sessions of service ${service.name} (application_name ${JSON.stringify(application)}) in the connected database, never superusers' or its own.`,
        `a pid of a session of service ${service.name} (application_name ${JSON.stringify(application)})`, `pid ${pid}`);
    };
    if (row.own) refuse('is the connector\'s own session');
    if (row.backend_type !== 'client backend') refuse(`is a ${row.backend_type ?? 'server'} process, not a client session`);
    if (row.same_database !== true) refuse('is a session of another database');
    if (row.superuser !== false) refuse('is a superuser\'s session');
    if (row.application_name !== application) refuse(`is a session of application_name ${JSON.stringify(row.application_name ?? '')}, not of service ${service.name}`);
    // Checked again in the same statement as the signal: the pid may have gone, or been reused, since.
    const signalled = await query<{ signalled: boolean }>(
      `select pg_terminate_backend(a.pid) as signalled
         from pg_stat_activity a join pg_roles r on r.oid = a.usesysid
        where a.pid = $1 and date_trunc('milliseconds', a.backend_start) = $2::timestamptz and a.application_name = $3 and ${TERMINABLE}`,
      [pid, row.backend_start.toISOString(), application],
    );
    const done = signalled[0]?.signalled === true;
    return {
      service: service.name,
      terminated: done ? [pid] : [],
      alreadyGone: done ? [] : [pid],
      sessions: [{ pid, backendStart: row.backend_start.toISOString(), state: row.state, durationMs: row.duration_ms === null ? null : Number(row.duration_ms), query: row.query, signalled: done }],
      skipped: 0,
    };
  };

  /** Terminates the service's active queries running at least `minDurationMs`, longest first, at most the cap. */
  const terminateLongRunning = async (query: Query, service: PostgresServiceConfig, minDurationMs: number): Promise<TerminateOutput> => {
    const rows = await query<CandidateRow>(
      `with candidates as materialized (
         select a.pid, date_trunc('milliseconds', a.backend_start) as backend_start, a.state, a.query_start,
                ${DURATION_MS} as duration_ms, left(a.query, ${MAX_QUERY_CHARS}) as query, count(*) over () as matching
           from pg_stat_activity a join pg_roles r on r.oid = a.usesysid
          where ${TERMINABLE} and a.application_name = $1 and a.state = 'active' and a.query_start <= ${MS_AGO(2)}
          order by a.query_start, a.pid
          limit $3
       )
       select c.pid, c.backend_start, c.state, c.duration_ms, c.query, c.matching, pg_terminate_backend(c.pid) as signalled
         from candidates c
        order by c.query_start, c.pid`,
      [applicationOf(service), minDurationMs, config.maxTerminatePerCall],
    );
    const matching = rows.length === 0 ? 0 : Number(rows[0]!.matching);
    return {
      service: service.name,
      terminated: rows.filter((r) => r.signalled).map((r) => r.pid),
      alreadyGone: rows.filter((r) => !r.signalled).map((r) => r.pid),
      sessions: rows.map((r) => ({ pid: r.pid, backendStart: r.backend_start.toISOString(), state: r.state, durationMs: r.duration_ms === null ? null : Number(r.duration_ms), query: r.query, signalled: r.signalled })),
      skipped: Math.max(0, matching - rows.length),
    };
  };

  const terminate: ToolContract<TerminateArgs, TerminateOutput> = {
    name: 'postgres.terminate',
    description: `Terminates backends of a configured service with pg_terminate_backend: one pid of the service, or its active queries running at least minDurationMs (at most ${config.maxTerminatePerCall} per call, longest first). A terminated query cannot be un-terminated, so there is no compensation.`,
    input: TerminateInput,
    output: TerminateOutput,
    risk: highest(config.services),
    idempotent: true,
    timeoutMs: config.statementTimeoutMs * 3 + 1000,
    permission: 'postgres:terminate',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    async observe(args, signal) {
      const service = configured(args.service);
      const [row] = await client.session(signal, false, (query) => query<{ sessions: number; active: number; long_running: number; longest_ms: string | null }>(
        `select count(*)::int as sessions, count(*) filter (where a.state = 'active')::int as active,
                count(*) filter (where a.state = 'active' and a.query_start <= ${MS_AGO(2)})::int as long_running,
                max(${DURATION_MS}) filter (where a.state = 'active') as longest_ms
           from pg_stat_activity a join pg_roles r on r.oid = a.usesysid
          where ${TERMINABLE} and a.application_name = $1`,
        [applicationOf(service), args.minDurationMs ?? 1000],
      ));
      return { sessions: row?.sessions ?? 0, active: row?.active ?? 0, longRunning: row?.long_running ?? 0, longestMs: row?.longest_ms === null || row === undefined ? null : Number(row.longest_ms) };
    },
    verification: {
      windowMs: 0,
      intervalMs: 200,
      timeoutMs: config.statementTimeoutMs * 2 + 10_000,
      async check(call, result, signal) {
        const signalled = result.sessions.filter((s) => s.signalled);
        if (signalled.length === 0) return { ok: true, observed: `no session of ${result.service} was signalled, so none is left to end` };
        const rows = await client.session(signal, false, (query) => query<{ pid: number; backend_start: Date }>(
          `select a.pid, date_trunc('milliseconds', a.backend_start) as backend_start from pg_stat_activity a where a.pid = any($1::int[])`,
          [signalled.map((s) => s.pid)],
        ));
        const alive = signalled.filter((s) => rows.some((r) => r.pid === s.pid && r.backend_start.toISOString() === s.backendStart)).map((s) => s.pid);
        return alive.length === 0
          ? { ok: true, observed: `the ${signalled.length} terminated session(s) of ${call.args.service} (pid ${signalled.map((s) => s.pid).join(', ')}) are gone from pg_stat_activity` }
          : { ok: false, observed: `pid ${alive.join(', ')} of ${call.args.service} still in pg_stat_activity` };
      },
    },
    async execute(args, context) {
      const service = configured(args.service);
      if (args.pid === undefined && (args.minDurationMs === undefined || args.minDurationMs < 1000)) {
        throw invalidArgs('minDurationMs', 'minDurationMs is required (>= 1000) when pid is not given.', 'an integer >= 1000', String(args.minDurationMs));
      }
      return client.session(context.signal, true, (query) => (args.pid === undefined ? terminateLongRunning(query, service, args.minDurationMs!) : terminatePid(query, service, args.pid)));
    },
  };

  /** Runs `fn` after every earlier pool change of `file` has finished (an in-process mutex per file). */
  const serialised = async <T>(file: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(file) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(() => undefined, () => undefined);
    locks.set(file, settled);
    try {
      return await run;
    } finally {
      if (locks.get(file) === settled) locks.delete(file);
    }
  };

  /** Sets the pool size of `name` to `size` (checked against the limits), keeping the size before the first attempt of `key`. */
  const resize = async (name: string, size: number, key: string): Promise<PoolOutput> => {
    const pool = poolOf(name);
    if (size < pool.min || size > pool.max) throw invalidArgs('size', `${outsideLimits(name, size, pool)}.`, `${pool.min}..${pool.max}`, String(size));
    return serialised(pool.file, async () => {
      let record = await readPoolRecord(pool.file, key);
      if (record?.service !== name) {
        record = { service: name, previous: await readPoolSize(pool.file) };
        await writePoolRecord(pool.file, key, record);
      }
      await writePoolSize(pool.file, size);
      return { service: name, previous: record.previous, size };
    });
  };

  /** The values of `db_pool_max{service="<name>"}` on the service's metrics page. */
  const reportedPoolSizes = async (name: string, signal: AbortSignal): Promise<number[]> => {
    const pool = poolOf(name);
    const text = await fetchMetrics(pool.metricsUrl, signal);
    try {
      return parseGauge(text, POOL_METRIC).filter((s) => s.labels.service === name).map((s) => s.value);
    } catch (error) {
      if (!(error instanceof ExpositionParseError)) throw error;
      throw new ConnectorError('TOOL_FAILED', `The metrics of ${name} at ${redactUrl(pool.metricsUrl)} are not valid Prometheus text format (${error.message}).`, { system: SYSTEM, retryable: false, cause: error });
    }
  };

  const poolObserve = async (args: { service: string }, signal: AbortSignal): Promise<Record<string, unknown>> => {
    const pool = poolOf(args.service);
    const poolSize = await readPoolSize(pool.file).catch(() => null);
    const reported = await reportedPoolSizes(args.service, signal).catch(() => []);
    return { poolSize, reportedPoolSize: reported.length === 1 ? reported[0] : null, baseline: pool.baseline, max: pool.max };
  };

  const poolVerification: VerificationProbe<{ service: string }, PoolOutput> = {
    windowMs: config.verifyWindowMs,
    intervalMs: Math.min(1000, Math.max(200, Math.floor(config.verifyWindowMs / 5))),
    timeoutMs: config.verifyWindowMs + 15_000,
    async check(call, result, signal) {
      let values: number[];
      try {
        values = await reportedPoolSizes(call.args.service, signal);
      } catch (error) {
        return { ok: false, observed: `could not read the metrics of ${call.args.service}: ${error instanceof Error ? error.message : String(error)}` };
      }
      if (values.length === 0) return { ok: false, observed: `the metrics of ${call.args.service} have no ${POOL_METRIC}{service="${call.args.service}"}` };
      const ok = values.every((v) => v === result.size);
      return { ok, observed: `${call.args.service} reports ${POOL_METRIC} ${values.join(', ')}${ok ? '' : `; expected ${result.size}`}` };
    },
  };

  const setPoolSize: ToolContract<SetPoolArgs, PoolOutput> = {
    name: 'postgres.set_pool_size',
    description: 'Sets the connection pool size of a configured service (max in its pool settings file, which the service applies), refused outside the service\'s configured min..max; undone by setting the previous size back.',
    input: SetPoolInput,
    output: PoolOutput,
    risk: highest(pooled),
    idempotent: true,
    timeoutMs: 10_000,
    permission: 'postgres:pool',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    observe: poolObserve,
    compensation: { tool: 'postgres.set_pool_size', args: (args, result) => ({ service: args.service, size: result.previous }) },
    verification: poolVerification,
    execute: (args, context) => resize(args.service, args.size, context.idempotencyKey),
  };

  const revertPoolSize: ToolContract<RevertPoolArgs, PoolOutput> = {
    name: 'postgres.revert_pool_size',
    description: 'Puts the connection pool size of a configured service back to its configured baseline (after a quiet period); undone by setting the previous size back.',
    input: RevertPoolInput,
    output: PoolOutput,
    risk: highest(pooled),
    idempotent: true,
    timeoutMs: 10_000,
    permission: 'postgres:pool',
    retry: { maxAttempts: 3, intervalMs: 500, backoffRate: 2 },
    target,
    observe: poolObserve,
    compensation: { tool: 'postgres.set_pool_size', args: (args, result) => ({ service: args.service, size: result.previous }) },
    verification: poolVerification,
    execute: async (args, context) => resize(args.service, poolOf(args.service).baseline, context.idempotencyKey),
  };

  return [activity, terminate, setPoolSize, revertPoolSize];
}

/** The `application_name` of a service's sessions. */
function applicationOf(service: PostgresServiceConfig): string {
  return service.applicationName ?? service.name;
}

function outsideLimits(service: string, size: number, limits: { min: number; max: number }): string {
  return `size ${size} is outside the pool limits of service ${service}: ${limits.min}..${limits.max} (connectors.postgres.services[].pool min..max; max is the hard limit)`;
}

/** A refusal of the call's arguments, naming `field` (as the input schema would). */
function invalidArgs(field: string, message: string, expected: string, received: string): InputError {
  return new InputError('TOOL_ARGS_INVALID', message, [{ path: field, message, expected, received }]);
}

/**
 * The body of `url` as text (a service's Prometheus `/metrics`), within {@link METRICS_TIMEOUT_MS}
 * and {@link MAX_METRICS_BYTES}; redirects are not followed.
 * @throws ConnectorError `TOOL_FAILED` when it cannot be read or answers other than 200.
 */
async function fetchMetrics(url: string, signal: AbortSignal): Promise<string> {
  const timeout = AbortSignal.timeout(METRICS_TIMEOUT_MS);
  try {
    const response = await fetch(url, { headers: { accept: 'text/plain' }, signal: AbortSignal.any([signal, timeout]), redirect: 'error' });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new ConnectorError('TOOL_FAILED', `${redactUrl(url)} answered HTTP ${response.status}; is it the service's /metrics?`, { system: SYSTEM, status: response.status, retryable: response.status >= 500 });
    }
    if (response.body === null) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_METRICS_BYTES) {
        await response.body.cancel().catch(() => undefined);
        throw new ConnectorError('TOOL_FAILED', `${redactUrl(url)} answered with more than ${MAX_METRICS_BYTES} bytes; is it the service's /metrics?`, { system: SYSTEM, retryable: false });
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    if (error instanceof ConnectorError) throw error;
    const what = timeout.aborted && !signal.aborted ? `no answer within ${METRICS_TIMEOUT_MS} ms` : signal.aborted ? 'aborted' : (networkCode(error) ?? (error instanceof Error ? error.message : String(error)));
    throw new ConnectorError('TOOL_FAILED', `Could not read the metrics at ${redactUrl(url)}: ${what}.`, { system: SYSTEM, retryable: !signal.aborted, cause: error });
  }
}

function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The URL without user, password, query or fragment, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
