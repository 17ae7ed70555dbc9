// Footprint and start-up of `interlock serve` (issue #2): idle RSS against a bare Node process, and
// the time to /readyz with embedded PostgreSQL (first start with initdb, warm start) against the
// machine's PostgreSQL server.
import { spawn } from 'node:child_process';
import { access, chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { REPO_ROOT, formatNumber, markdownTable } from './support/report.js';
import { bareNodeMemory, serveEnvironment, startServe, stopLeftoverPostgres, type ProcessMemory, type ServeProcess } from './support/serve-process.js';
import { median, round } from './support/stats.js';

/** What this benchmark runs; recorded in the results file. */
const PARAMETERS = {
  /** Starts of each kind; the table shows the median. */
  repetitions: 3,
  /** Wait between `/readyz` 200 and reading the memory of the idle server (and of the bare node), ms. */
  idleSettleMs: 3000,
  /** Interval between `/readyz` probes, ms (the resolution of the start-up times). */
  readyPollMs: 10,
  /** A start that is not ready this long after the spawn fails the benchmark, ms. */
  readyTimeoutMs: 120_000,
  /** A server that has not exited this long after SIGTERM is killed and fails the benchmark, ms. */
  stopTimeoutMs: 30_000,
} as const;

/** Builds `dist/` with `npm run build` when it is missing: `bin/interlock.js` runs the compiled CLI. */
async function ensureBuilt(progress: Progress): Promise<void> {
  const built = await access(join(REPO_ROOT, 'dist', 'cli', 'main.js')).then(() => true, () => false);
  if (built) return;
  progress('dist/ is missing: npm run build');
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`npm run build failed (exit code ${code ?? 'none'}); fix the build, then rerun`);
}

/** A fresh working and data directory, mode 0755 so the `postgres` user can reach the embedded cluster when we run as root. */
async function freshDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'interlock-bench-serve-'));
  await chmod(directory, 0o755);
  return directory;
}

/** Where a set of starts runs: the environment of the child and what to clean up. */
interface Setup {
  readonly env: NodeJS.ProcessEnv;
  readonly directory: string;
  readonly database?: TestDatabase;
}

/** A fresh data directory, with a fresh database on the machine's PostgreSQL server or none (embedded). */
async function setUp(kind: 'server' | 'embedded'): Promise<Setup> {
  const directory = await freshDirectory();
  if (kind === 'embedded') return { env: serveEnvironment({ INTERLOCK_DATA_DIR: directory }), directory };
  const database = await createTestDatabase('bench_serve');
  return { env: serveEnvironment({ INTERLOCK_DATA_DIR: directory, DATABASE_URL: database.url }), directory, database };
}

async function tearDown(setup: Setup, progress: Progress): Promise<void> {
  const leftover = await stopLeftoverPostgres(join(setup.directory, 'postgres'));
  if (leftover !== null) progress(`warning: an embedded PostgreSQL (PID ${leftover}) was still running after the server exited; stopped it`);
  await setup.database?.drop();
  await rm(setup.directory, { recursive: true, force: true });
}

/** One start of `interlock serve` in `setup`: time to ready and time to stop. */
interface Start {
  readonly readyMs: number;
  /** What `interlock serve` logged as the embedded PostgreSQL's start (initdb included), ms; null with server PostgreSQL. */
  readonly postgresStartMs: number | null;
  readonly stopMs: number;
}

/** The `ms` of the "embedded PostgreSQL started" log entry, if there is one. */
function embeddedStartMs(server: ServeProcess): number | null {
  const entry = server.startupLog.find((logged) => logged.msg === 'embedded PostgreSQL started');
  return typeof entry?.ms === 'number' ? entry.ms : null;
}

async function stopChecked(server: ServeProcess): Promise<number> {
  const exit = await server.stop(PARAMETERS.stopTimeoutMs);
  if (exit.code !== 0) throw new Error(`interlock serve exited with code ${exit.code ?? 'none'} (signal ${exit.signal ?? 'none'}) after SIGTERM; expected a clean exit 0`);
  return exit.stopMs;
}

/** Starts `interlock serve` in `setup`, waits for /readyz 200, optionally lets it idle, and stops it. */
async function startOnce(setup: Setup, idle?: (server: ServeProcess) => Promise<void>): Promise<Start> {
  const server = await startServe({ env: setup.env, cwd: setup.directory, readyTimeoutMs: PARAMETERS.readyTimeoutMs, pollMs: PARAMETERS.readyPollMs });
  try {
    await idle?.(server);
  } catch (error) {
    await server.stop(PARAMETERS.stopTimeoutMs).catch(() => undefined);
    throw error;
  }
  return { readyMs: server.readyMs, postgresStartMs: embeddedStartMs(server), stopMs: await stopChecked(server) };
}

/** A first start (fresh database or, embedded, initdb) followed by a warm start on the same data. */
interface StartPair {
  readonly first: Start;
  readonly warm: Start;
}

async function startPair(kind: 'server' | 'embedded', progress: Progress): Promise<StartPair> {
  const setup = await setUp(kind);
  try {
    const first = await startOnce(setup);
    const warm = await startOnce(setup);
    const postgres = (start: Start): string => (start.postgresStartMs === null ? '' : ` (PostgreSQL ${start.postgresStartMs} ms)`);
    progress(`${kind} PostgreSQL: first start ready in ${Math.round(first.readyMs)} ms${postgres(first)}, warm start in ${Math.round(warm.readyMs)} ms${postgres(warm)}`);
    return { first, warm };
  } finally {
    await tearDown(setup, progress);
  }
}

/** Memory of the idle server (server PostgreSQL) and of a bare node process. */
interface MemoryFigures {
  readonly serve: ProcessMemory;
  readonly bareNode: ProcessMemory;
}

async function idleMemory(progress: Progress): Promise<MemoryFigures> {
  const setup = await setUp('server');
  let serve: ProcessMemory | undefined;
  try {
    await startOnce(setup, async (server) => {
      await sleep(PARAMETERS.idleSettleMs);
      serve = await server.memory();
    });
  } finally {
    await tearDown(setup, progress);
  }
  if (serve === undefined) throw new Error('the idle server memory was not read');
  const bareNode = await bareNodeMemory(PARAMETERS.idleSettleMs);
  progress(`idle RSS: interlock serve ${serve.rssKiB} KiB, bare node ${bareNode.rssKiB} KiB`);
  return { serve, bareNode };
}

/** Medians, ms, of the start-up times of each kind. */
interface StartFigures {
  readonly samples: { readonly server: StartPair[]; readonly embedded: StartPair[] };
  readonly medianReadyMs: { readonly serverFirst: number; readonly serverWarm: number; readonly embeddedFirst: number; readonly embeddedWarm: number };
  /** Medians of the embedded PostgreSQL's own start as `interlock serve` logged it, ms. */
  readonly medianEmbeddedPostgresMs: { readonly first: number; readonly warm: number };
  readonly medianStopMs: { readonly server: number; readonly embedded: number };
}

/** Interleaves the kinds, so load from other work on the machine falls on both alike. */
async function startTimes(progress: Progress): Promise<StartFigures> {
  const server: StartPair[] = [];
  const embedded: StartPair[] = [];
  for (let repetition = 1; repetition <= PARAMETERS.repetitions; repetition++) {
    progress(`start-up, repetition ${repetition} of ${PARAMETERS.repetitions}`);
    server.push(await startPair('server', progress));
    embedded.push(await startPair('embedded', progress));
  }
  const ready = (pairs: StartPair[], which: keyof StartPair): number => Math.round(median(pairs.map((pair) => pair[which].readyMs)));
  const postgres = (which: keyof StartPair): number => Math.round(median(embedded.map((pair) => pair[which].postgresStartMs ?? Number.NaN)));
  const stop = (pairs: StartPair[]): number => Math.round(median(pairs.flatMap((pair) => [pair.first.stopMs, pair.warm.stopMs])));
  return {
    samples: { server, embedded },
    medianReadyMs: { serverFirst: ready(server, 'first'), serverWarm: ready(server, 'warm'), embeddedFirst: ready(embedded, 'first'), embeddedWarm: ready(embedded, 'warm') },
    medianEmbeddedPostgresMs: { first: postgres('first'), warm: postgres('warm') },
    medianStopMs: { server: stop(server), embedded: stop(embedded) },
  };
}

interface ServeFigures {
  readonly memory: MemoryFigures;
  readonly starts: StartFigures;
}

function ratiosOf(figures: ServeFigures): Record<string, number> {
  const { memory, starts } = figures;
  return {
    idleRssServeOverBareNode: round(memory.serve.rssKiB / memory.bareNode.rssKiB),
    readyEmbeddedFirstOverServerFirst: round(starts.medianReadyMs.embeddedFirst / starts.medianReadyMs.serverFirst),
    readyEmbeddedWarmOverServerWarm: round(starts.medianReadyMs.embeddedWarm / starts.medianReadyMs.serverWarm),
  };
}

const mib = (kib: number): string => formatNumber(kib / 1024, 1);
const msText = (value: number): string => formatNumber(value, 0);
const times = (value: number | undefined): string => (value === undefined ? '' : `${formatNumber(value, 2)}×`);

function markdownOf(figures: ServeFigures, ratios: Record<string, number>): string {
  const { memory, starts } = figures;
  const ready = starts.medianReadyMs;
  const table = markdownTable(['measure', '`interlock serve`', 'baseline', 'ratio'], [
    [`idle RSS ${PARAMETERS.idleSettleMs / 1000} s after ready, server PostgreSQL (MiB)`, mib(memory.serve.rssKiB), `${mib(memory.bareNode.rssKiB)} (bare \`node -e "setInterval(()=>{},1000)"\`)`, times(ratios.idleRssServeOverBareNode)],
    ['time to `/readyz` 200, embedded PostgreSQL, first start with initdb (ms)', msText(ready.embeddedFirst), `${msText(ready.serverFirst)} (server PostgreSQL, fresh database)`, times(ratios.readyEmbeddedFirstOverServerFirst)],
    ['time to `/readyz` 200, embedded PostgreSQL, warm start (ms)', msText(ready.embeddedWarm), `${msText(ready.serverWarm)} (server PostgreSQL, same database again)`, times(ratios.readyEmbeddedWarmOverServerWarm)],
    ['of which the embedded PostgreSQL starts, first / warm (ms, as logged)', `${msText(starts.medianEmbeddedPostgresMs.first)} / ${msText(starts.medianEmbeddedPostgresMs.warm)}`, '', ''],
    ['SIGTERM to exit (ms)', `${msText(starts.medianStopMs.embedded)} (embedded)`, `${msText(starts.medianStopMs.server)} (server PostgreSQL)`, ''],
  ]);
  return [
    `\`node bin/interlock.js serve\` from the built \`dist/\`, spawned with \`INTERLOCK_PORT=0\` in a fresh data directory. Times run from the spawn to the first \`/readyz\` 200 (probed every ${PARAMETERS.readyPollMs} ms), median of ${PARAMETERS.repetitions} starts of each kind; "first start" is a fresh database (migrations) or, embedded, a fresh data directory (initdb and migrations), "warm start" a second start on the same data. RSS is \`VmRSS\` from \`/proc/<pid>/status\` of the Node process only (the embedded PostgreSQL runs in processes of its own); peak RSS of the idle server: ${mib(memory.serve.peakRssKiB)} MiB.`,
    '',
    table,
  ].join('\n');
}

/** `npm run bench -- serve`. */
export const benchmark: Benchmark = {
  name: 'serve',
  async run(progress): Promise<BenchmarkReport> {
    await ensureBuilt(progress);
    progress(`idle memory: serve with server PostgreSQL, then a bare node, ${PARAMETERS.idleSettleMs} ms after start each`);
    const memory = await idleMemory(progress);
    const starts = await startTimes(progress);
    const figures: ServeFigures = { memory, starts };
    const ratios = ratiosOf(figures);
    return { parameters: { ...PARAMETERS }, figures, ratios, markdown: markdownOf(figures, ratios) };
  },
};
