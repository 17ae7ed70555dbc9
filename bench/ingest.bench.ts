// Signal intake under an alert storm (issue #5): 100,000 distinct Alertmanager alerts in 10,000
// webhook notifications sent 128 at a time at a real `interlock serve` (intake.maxInFlight 64, so
// the excess is answered 429 and sent again after Retry-After), then checked in the database (every
// alert of a 2xx request stored exactly once, one `signal.received` audit entry per 2xx request);
// its RSS sampled through the storm. The baseline, in the same run with the same client and alerts:
// a bare Fastify endpoint in a process of its own storing each alert as a row of a plain table.
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createDatabase, migrateToLatest, PgIdentityStore } from '../src/store/index.js';
import { acceptedRequests, buildStorm, checkStored, runStorm, traceMemory, type MemoryTrace, type StoredCheck, type Storm, type StormRun } from '../test/support/alert-storm.js';
import { processMemory } from '../test/support/processes.js';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { startBareIntake } from './support/bare-intake.js';
import { startCpuMeter } from './support/cpu.js';
import { REPO_ROOT, formatNumber, markdownTable } from './support/report.js';
import { serveEnvironment, startServe } from './support/serve-process.js';
import { round, summarize, type Summary } from './support/stats.js';

/** What this benchmark runs; recorded in the results file. */
const PARAMETERS = {
  alerts: 100_000,
  /** Alerts per webhook notification (Alertmanager's `max_alerts`). */
  alertsPerRequest: 10,
  /** `service` label values; with the alert names, the groups (incidents) the alerts fall into. */
  services: 250,
  alertnames: ['TargetDown', 'HighErrorRate', 'HighLatency', 'PodCrashLooping'],
  /** Requests the client keeps in flight. */
  concurrency: 128,
  /** `intake.maxInFlight` of the server: its default, not set in the configuration file. */
  maxInFlight: 64,
  /** `intake.retryAfterSeconds`: its default. */
  retryAfterSeconds: 1,
  /** `database.poolSize` of `interlock serve` (its default) and the pool of the baseline. */
  poolSize: 10,
  /** `server.bodyLimitBytes` (its default), for the baseline too. */
  bodyLimitBytes: 1_048_576,
  /** Attempts per request before the client gives up (it never should). */
  maxAttempts: 1000,
  /** An attempt without an answer this long fails the benchmark, ms. */
  requestTimeoutMs: 120_000,
  /** Interval of the RSS samples during the storm, ms. */
  memorySampleMs: 100,
  /** Wait between ready and the idle RSS read, ms. */
  idleSettleMs: 3000,
  readyTimeoutMs: 120_000,
  stopTimeoutMs: 30_000,
} as const;

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux we run on). */
const CLOCK_TICKS = 100;

/** CPU time (user + system) of process `pid` from /proc/<pid>/stat, ms. */
async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** The audit log's append lock (`AUDIT_APPEND_LOCK` in src/store/audit-log.ts), as `pg_locks` shows it: classid 0, objid the key. */
const AUDIT_APPEND_LOCK = 0x494c4155;

/** What the server's database connections were doing, mean number of connections over the samples. */
interface ConnectionStates {
  readonly samples: number;
  /** Waiting for the audit log's append lock (one appender at a time across workers). */
  readonly auditLockWait: number;
  /** Waiting for another advisory lock: an incident group's. */
  readonly groupLockWait: number;
  /** In a transaction, waiting for the server process to send the next statement. */
  readonly idleInTransaction: number;
  /** Running a statement (or waiting for I/O, e.g. the WAL flush of a commit). */
  readonly active: number;
  readonly idle: number;
}

/** Samples `pg_stat_activity` of `database` every `intervalMs` on a connection of its own until `stop`. */
async function traceConnections(url: string, intervalMs: number): Promise<{ stop(): Promise<ConnectionStates> }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  const totals = { auditLockWait: 0, groupLockWait: 0, idleInTransaction: 0, active: 0, idle: 0 };
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ state: keyof typeof totals; n: number }>(`
        select case
          when a.wait_event_type = 'Lock' and a.wait_event = 'advisory' then
            case when exists (select 1 from pg_locks l where l.pid = a.pid and not l.granted and l.locktype = 'advisory' and l.classid = 0 and l.objid = $1::oid) then 'auditLockWait' else 'groupLockWait' end
          when a.state like 'idle in transaction%' then 'idleInTransaction'
          when a.state = 'active' then 'active'
          else 'idle' end as state, count(*)::int as n
        from pg_stat_activity a
        where a.datname = current_database() and a.pid <> pg_backend_pid() and a.backend_type = 'client backend'
        group by 1`, [AUDIT_APPEND_LOCK]);
      samples += 1;
      for (const row of rows) totals[row.state] += row.n;
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.finally(() => client.end());
      const mean = (n: number): number => round(n / Math.max(1, samples), 2);
      return { samples, auditLockWait: mean(totals.auditLockWait), groupLockWait: mean(totals.groupLockWait), idleInTransaction: mean(totals.idleInTransaction), active: mean(totals.active), idle: mean(totals.idle) };
    },
  };
}

/** Fails unless `dist/` has the signal intake; warns when a built file of `src/` (not a test) is newer than the build. */
async function requireBuild(progress: Progress): Promise<void> {
  const built = await stat(join(REPO_ROOT, 'dist', 'server', 'intake.js')).catch(() => undefined);
  if (built === undefined) throw new Error('dist/ has no signal intake (dist/server/intake.js): run `npm run build`; the benchmark runs the built `interlock serve`');
  const newest = async (dir: string): Promise<number> => {
    let latest = 0;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      latest = Math.max(latest, entry.isDirectory() ? await newest(path) : entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? (await stat(path)).mtimeMs : 0);
    }
    return latest;
  };
  if ((await newest(join(REPO_ROOT, 'src'))) > built.mtimeMs) progress('warning: src/ has changed since dist/ was built; run `npm run build` to measure the current code');
}

/** One storm against one server, as measured. Times in ms, memory in KiB. */
interface StormFigures {
  readonly requests: number;
  readonly acceptedRequests: number;
  readonly acceptedAlerts: number;
  /** First request sent to last answer. */
  readonly wallMs: number;
  /** Alerts in 2xx answers per second of wall time: accepted, and committed before the answer. */
  readonly alertsPerSecond: number;
  /** Duration of each request's final (accepted) attempt. */
  readonly latencyMs: Summary;
  /** First attempt to final answer, the waits for Retry-After included. */
  readonly elapsedMs: Summary;
  readonly busyAnswers: number;
  /** Requests answered 429 at least once. */
  readonly requestsDelayed: number;
  readonly maxAttempts: number;
  readonly serverErrors: number;
  readonly connectionErrors: number;
  readonly retryAfterValues: readonly string[];
  /** `seriesKiB`: every RSS sample; `peakByQuarterKiB`: the largest in each quarter of the storm (flat when memory is bounded). */
  readonly memory: { readonly idleRssKiB: number; readonly peakByQuarterKiB: readonly number[] } & MemoryTrace;
  readonly cpu: {
    /** The server process over the storm, percent of one core. */
    readonly serverPercentOfOneCore: number;
    /** This process (the load generator). */
    readonly clientPercentOfOneCore: number;
    readonly machinePercent: number | null;
  };
  /** The server's database connections over the storm, sampled every `memorySampleMs`. */
  readonly connections: ConnectionStates;
  readonly stored: StoredCheck;
}

/** Runs `storm` at `url` while tracing process `pid`; idle memory is read first. */
async function measure(storm: Storm, pid: number, url: string, token: string | undefined, databaseUrl: string): Promise<{ run: StormRun; figures: Omit<StormFigures, 'stored'> }> {
  await sleep(PARAMETERS.idleSettleMs);
  const idle = await processMemory(pid);
  const connections = await traceConnections(databaseUrl, PARAMETERS.memorySampleMs);
  const memory = traceMemory(pid, PARAMETERS.memorySampleMs);
  const serverCpuBefore = await processCpuMs(pid);
  const stopCpuMeter = startCpuMeter();
  const run = await runStorm(storm, { url, ...(token === undefined ? {} : { token }), concurrency: PARAMETERS.concurrency, maxAttempts: PARAMETERS.maxAttempts, timeoutMs: PARAMETERS.requestTimeoutMs });
  const cpu = stopCpuMeter();
  const serverCpuMs = (await processCpuMs(pid)) - serverCpuBefore;
  const trace = await memory.stop();
  const connectionStates = await connections.stop();
  const accepted = run.results.flatMap((result, i) => (result.status >= 200 && result.status < 300 ? [{ result, alerts: storm.requests[i]!.fingerprints.length }] : []));
  const acceptedAlerts = accepted.reduce((sum, { alerts }) => sum + alerts, 0);
  return {
    run,
    figures: {
      requests: run.results.length,
      acceptedRequests: accepted.length,
      acceptedAlerts,
      wallMs: Math.round(run.wallMs),
      alertsPerSecond: round(acceptedAlerts / (run.wallMs / 1000), 1),
      latencyMs: summarize(accepted.map(({ result }) => result.latencyMs), 1),
      elapsedMs: summarize(accepted.map(({ result }) => result.elapsedMs), 1),
      busyAnswers: run.busyAnswers,
      requestsDelayed: run.results.filter((result) => result.attempts > 1).length,
      maxAttempts: Math.max(...run.results.map((result) => result.attempts)),
      serverErrors: run.serverErrors,
      connectionErrors: run.connectionErrors,
      retryAfterValues: run.retryAfterValues,
      memory: { idleRssKiB: idle.rssKiB, peakByQuarterKiB: quarterPeaks(trace.seriesKiB), ...trace },
      cpu: { serverPercentOfOneCore: Math.round((100 * serverCpuMs) / run.wallMs), clientPercentOfOneCore: cpu.processPercentOfOneCore, machinePercent: cpu.machinePercent },
      connections: connectionStates,
    },
  };
}

/** The largest value in each quarter of `series` (by sample order, so by time). */
function quarterPeaks(series: readonly number[]): number[] {
  return [0, 1, 2, 3].map((q) => {
    const start = Math.floor((q * series.length) / 4);
    const end = Math.max(Math.floor(((q + 1) * series.length) / 4), start + 1);
    return Math.max(...series.slice(start, end));
  });
}

/** The problems of a storm's outcome: requests not accepted in the end, or alerts not stored exactly once. */
function problemsOf(who: string, storm: Storm, run: StormRun, stored: StoredCheck): string[] {
  const problems: string[] = [];
  const failed = run.results.filter((result) => result.status < 200 || result.status >= 300);
  if (failed.length > 0) problems.push(`${who}: ${failed.length} request(s) not accepted in the end, e.g. ${failed[0]!.status} after ${failed[0]!.attempts} attempt(s): ${failed[0]!.error ?? ''}`);
  const short = run.results.filter((result, i) => result.accepted !== null && result.accepted !== storm.requests[i]!.fingerprints.length).length;
  if (short > 0) problems.push(`${who}: ${short} 2xx answer(s) report an \`accepted\` other than the request's alert count`);
  if (stored.rows !== stored.expectedAlerts) problems.push(`${who}: ${stored.rows} rows stored for ${stored.expectedAlerts} alerts in 2xx requests`);
  if (stored.duplicated > 0) problems.push(`${who}: ${stored.duplicated} fingerprint(s) stored more than once`);
  if (stored.missing > 0) problems.push(`${who}: ${stored.missing} alert(s) of 2xx requests not stored`);
  if (stored.unexpected > 0) problems.push(`${who}: ${stored.unexpected} stored alert(s) that no 2xx request carried`);
  return problems;
}

/** Migrates `database`, then creates principal `alertmanager` (role `sender` in project `storm`) and its API token, as `interlock principals create` and `interlock tokens create` do. */
async function senderToken(database: TestDatabase): Promise<string> {
  const handle = createDatabase({ url: database.url, poolSize: 1 });
  try {
    await migrateToLatest(handle.db);
    const identity = new PgIdentityStore(handle.db);
    await identity.createPrincipal({ name: 'alertmanager', kind: 'service', groups: [], roles: { storm: ['sender'] } }, Date.now());
    return (await identity.createToken({ principal: 'alertmanager', label: 'ingest benchmark', expiresAt: null }, Date.now())).secret;
  } finally {
    await handle.close();
  }
}

const CONFIG = `# The ingest benchmark: one Alertmanager source, no diagnosis missions; intake.maxInFlight and
# intake.retryAfterSeconds left at their defaults.
intake:
  sources:
    - { name: alertmanager, type: alertmanager, project: storm, auth: { type: token } }
incidents:
  startMissions: false
`;

interface InterlockFigures extends StormFigures {
  readonly auditEntries: number;
  readonly intakes: number;
  readonly incidents: number;
}

async function interlockStorm(storm: Storm, progress: Progress): Promise<InterlockFigures> {
  const database = await createTestDatabase('bench_ingest');
  const directory = await mkdtemp(join(tmpdir(), 'interlock-bench-ingest-'));
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  try {
    await chmod(directory, 0o755);
    await writeFile(join(directory, 'interlock.yaml'), CONFIG);
    const token = await senderToken(database);
    const server = await startServe({
      env: serveEnvironment({ DATABASE_URL: database.url, INTERLOCK_DATA_DIR: directory, INTERLOCK_CONFIG: join(directory, 'interlock.yaml') }),
      cwd: directory, readyTimeoutMs: PARAMETERS.readyTimeoutMs, pollMs: 50,
    });
    let measured: Awaited<ReturnType<typeof measure>>;
    try {
      progress(`interlock serve (PID ${server.pid}) ready in ${Math.round(server.readyMs)} ms; storm of ${storm.requests.length} requests, ${PARAMETERS.concurrency} at a time`);
      measured = await measure(storm, server.pid, `${server.url}/v1/signals/alertmanager`, token, database.url);
    } finally {
      const exit = await server.stop(PARAMETERS.stopTimeoutMs);
      if (exit.code !== 0) progress(`warning: interlock serve exited with code ${exit.code ?? 'none'} (signal ${exit.signal ?? 'none'})`);
    }
    const { run, figures } = measured;
    progress(`interlock: ${figures.acceptedAlerts} alerts accepted in ${(figures.wallMs / 1000).toFixed(1)} s (${figures.alertsPerSecond}/s), ${figures.busyAnswers} answers 429; checking the database`);
    const stored = await checkStored(pool, 'interlock.signals', storm, run);
    const count = async (query: string): Promise<number> => (await pool.query<{ n: number }>(query)).rows[0]!.n;
    const auditEntries = await count("select count(*)::int as n from interlock.audit_entries where kind = 'signal.received'");
    const intakes = await count('select count(*)::int as n from interlock.signal_intakes');
    const incidents = await count('select count(*)::int as n from interlock.incidents');
    const problems = problemsOf('interlock serve', storm, run, stored);
    const accepted = acceptedRequests(run);
    if (auditEntries !== accepted) problems.push(`interlock serve: ${auditEntries} signal.received audit entries for ${accepted} requests answered 2xx`);
    if (intakes !== accepted) problems.push(`interlock serve: ${intakes} signal_intakes rows for ${accepted} requests answered 2xx`);
    if (figures.busyAnswers === 0) problems.push(`interlock serve: no request was answered 429 at ${PARAMETERS.concurrency} requests in flight with maxInFlight ${PARAMETERS.maxInFlight}; the storm did not exceed the bound`);
    if (problems.length > 0) throw new Error(`the storm's outcome is wrong:\n- ${problems.join('\n- ')}`);
    return { ...figures, stored, auditEntries, intakes, incidents };
  } finally {
    await pool.end();
    await database.drop();
    await rm(directory, { recursive: true, force: true });
  }
}

async function bareStorm(storm: Storm, progress: Progress): Promise<StormFigures> {
  const database = await createTestDatabase('bench_ingest_bare');
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  try {
    const server = await startBareIntake({ databaseUrl: database.url, poolSize: PARAMETERS.poolSize, bodyLimitBytes: PARAMETERS.bodyLimitBytes, readyTimeoutMs: PARAMETERS.readyTimeoutMs });
    let measured: Awaited<ReturnType<typeof measure>>;
    try {
      progress(`bare Fastify baseline (PID ${server.pid}) serving; same storm`);
      measured = await measure(storm, server.pid, `${server.url}/v1/signals/alertmanager`, undefined, database.url);
    } finally {
      await server.stop(PARAMETERS.stopTimeoutMs);
    }
    const { run, figures } = measured;
    progress(`baseline: ${figures.acceptedAlerts} alerts accepted in ${(figures.wallMs / 1000).toFixed(1)} s (${figures.alertsPerSecond}/s); checking the database`);
    const stored = await checkStored(pool, 'bare_signals', storm, run);
    const problems = problemsOf('baseline', storm, run, stored);
    if (problems.length > 0) throw new Error(`the baseline storm's outcome is wrong:\n- ${problems.join('\n- ')}`);
    return { ...figures, stored };
  } finally {
    await pool.end();
    await database.drop();
  }
}

interface IngestFigures {
  readonly storm: { readonly requests: number; readonly alerts: number; readonly groups: number; readonly meanBodyBytes: number };
  readonly interlock: InterlockFigures;
  readonly bare: StormFigures;
}

/** The largest RSS seen: `VmHWM`, or a sample above it (the kernel updates `VmHWM` lazily). */
function peakKiB(side: StormFigures): number {
  return Math.max(side.memory.highWaterMarkKiB, side.memory.peakSampledRssKiB);
}

function ratiosOf({ interlock, bare }: IngestFigures): Record<string, number> {
  return {
    alertsPerSecondBareOverInterlock: round(bare.alertsPerSecond / interlock.alertsPerSecond),
    latencyP50InterlockOverBare: round(interlock.latencyMs.p50 / bare.latencyMs.p50),
    latencyP99InterlockOverBare: round(interlock.latencyMs.p99 / bare.latencyMs.p99),
    peakRssInterlockOverBare: round(peakKiB(interlock) / peakKiB(bare)),
  };
}

const mib = (kib: number): string => formatNumber(kib / 1024, 1);
const ms = (value: number): string => formatNumber(value, value < 100 ? 1 : 0);
const int = (value: number): string => formatNumber(value, 0);
const times = (value: number | undefined): string => (value === undefined ? '' : `${formatNumber(value, 2)}×`);

function markdownOf(figures: IngestFigures, ratios: Record<string, number>): string {
  const { storm, interlock, bare } = figures;
  const both = (pick: (side: StormFigures) => string): [string, string] => [pick(interlock), pick(bare)];
  const table = markdownTable(['measure', '`interlock serve`', 'bare Fastify + pg', 'ratio'], [
    ['alerts accepted and durably stored per second', ...both((side) => int(side.alertsPerSecond)), times(ratios.alertsPerSecondBareOverInterlock)],
    ['storm duration, first request to last answer (s)', ...both((side) => formatNumber(side.wallMs / 1000, 1)), ''],
    ['request latency, accepted attempt, p50 / p99 (ms)', ...both((side) => `${ms(side.latencyMs.p50)} / ${ms(side.latencyMs.p99)}`), `${times(ratios.latencyP50InterlockOverBare)} / ${times(ratios.latencyP99InterlockOverBare)}`],
    ['request latency, first attempt to accepted, waits for Retry-After included, p50 / p99 (ms)', ...both((side) => `${ms(side.elapsedMs.p50)} / ${ms(side.elapsedMs.p99)}`), ''],
    ['429 answers (requests answered 429 at least once; most attempts of one request)', ...both((side) => `${int(side.busyAnswers)} (${int(side.requestsDelayed)}; ${side.maxAttempts})`), ''],
    ['RSS idle before the storm (MiB)', ...both((side) => mib(side.memory.idleRssKiB)), ''],
    [`peak RSS during the storm, sampled every ${PARAMETERS.memorySampleMs} ms / \`VmHWM\` at the end (MiB)`, ...both((side) => `${mib(side.memory.peakSampledRssKiB)} / ${mib(side.memory.highWaterMarkKiB)}`), times(ratios.peakRssInterlockOverBare)],
    ['peak RSS in each quarter of the storm (MiB)', ...both((side) => side.memory.peakByQuarterKiB.map(mib).join(' / ')), ''],
    ['CPU during the storm: server process (% of one core) / load generator / machine (% of 2 cores)', ...both((side) => `${side.cpu.serverPercentOfOneCore} / ${side.cpu.clientPercentOfOneCore} / ${side.cpu.machinePercent ?? '?'}`), ''],
    ['database connections during the storm, mean: waiting for the audit log\'s lock / for an incident group\'s lock / in a transaction waiting for the server / running a statement', ...both(({ connections: c }) => `${formatNumber(c.auditLockWait, 1)} / ${formatNumber(c.groupLockWait, 1)} / ${formatNumber(c.idleInTransaction, 1)} / ${formatNumber(c.active, 1)}`), ''],
  ]);
  return [
    `${int(storm.alerts)} distinct firing alerts (each its own label set, so its own Alertmanager fingerprint; ${storm.groups} (alertname, service) groups over ${PARAMETERS.services} \`service\` values) in ${int(storm.requests)} Alertmanager webhook v4 notifications of ${PARAMETERS.alertsPerRequest} alerts (${int(storm.meanBodyBytes)} bytes on average), sent over keep-alive HTTP/1.1 with ${PARAMETERS.concurrency} requests in flight. A 429 or 5xx is sent again after its \`Retry-After\` (by this client; Alertmanager does not retry a 429, see below); "alerts per second" counts the alerts of requests answered 2xx over the wall time of the storm, and a 2xx means committed (\`synchronous_commit\` on).`,
    '',
    `- **\`interlock serve\`**: the built CLI (\`node bin/interlock.js serve\`) on a fresh database of the machine's PostgreSQL, with an \`alertmanager\` source (token authentication, a principal with role \`sender\`), \`incidents.startMissions: false\` (intake only, no diagnosis missions), and the defaults: \`intake.maxInFlight\` ${PARAMETERS.maxInFlight}, \`Retry-After\` ${PARAMETERS.retryAfterSeconds} s, ${PARAMETERS.poolSize} database connections, log level info (a few JSON lines per request). Per request it authenticates the token (one query), validates the body, and in one transaction stores the body, groups the alerts into their incident under the group's advisory lock (read and rewrite the incident), inserts the signals and appends a \`signal.received\` audit entry under the audit log's lock.`,
    `- **Baseline**: a bare Fastify endpoint (\`bench/support/bare-intake-server.ts\`, a process of its own, plain node) that parses the same JSON and inserts each alert as a row of a plain table with the columns of \`interlock.signals\` (primary key only), one transaction per request, ${PARAMETERS.poolSize} connections, no authentication, validation, log, limit on requests in flight, grouping or audit.`,
    `- Checked after each storm, or the benchmark fails: every request was answered 2xx in the end; \`interlock.signals\` holds ${int(interlock.stored.rows)} rows, one per alert of the 2xx requests, with no fingerprint twice (the baseline table likewise); ${int(interlock.auditEntries)} \`signal.received\` audit entries and ${int(interlock.intakes)} stored bodies, one per 2xx request; ${int(interlock.incidents)} incidents.`,
    `- RSS is \`VmRSS\` / \`VmHWM\` of the server's Node process from \`/proc/<pid>/status\` (PostgreSQL not included); "idle" is ${PARAMETERS.idleSettleMs / 1000} s after it was ready, \`VmHWM\` the largest RSS since its start. The load generator (this benchmark's process, Node's \`http\` client) runs on the same 2 cores as the server and PostgreSQL.`,
    `- Connections: \`pg_stat_activity\` of the server's database every ${PARAMETERS.memorySampleMs} ms through the storm, on a connection of the benchmark's own; Interlock's count includes the engine's (DBOS) connections, mostly idle.`,
    '',
    table,
  ].join('\n');
}

/** `npm run bench -- ingest`. */
export const benchmark: Benchmark = {
  name: 'ingest',
  async run(progress): Promise<BenchmarkReport> {
    await requireBuild(progress);
    const storm = buildStorm({ alerts: PARAMETERS.alerts, perRequest: PARAMETERS.alertsPerRequest, services: PARAMETERS.services, alertnames: PARAMETERS.alertnames });
    const meanBodyBytes = Math.round(storm.requests.reduce((sum, request) => sum + request.body.length, 0) / storm.requests.length);
    progress(`storm built: ${storm.alerts} alerts in ${storm.requests.length} notifications, ${storm.groups} groups, ${meanBodyBytes} bytes per body on average`);
    const interlock = await interlockStorm(storm, progress);
    const bare = await bareStorm(storm, progress);
    const figures: IngestFigures = { storm: { requests: storm.requests.length, alerts: storm.alerts, groups: storm.groups, meanBodyBytes }, interlock, bare };
    const ratios = ratiosOf(figures);
    return { parameters: { ...PARAMETERS }, figures, ratios, markdown: markdownOf(figures, ratios) };
  },
};
