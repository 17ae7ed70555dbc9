// Engine overhead (issue #2): a no-op mission of 5 × builtin.noop through the real engine on the
// machine's PostgreSQL, against the same 5 tool calls as plain function calls, in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../src/config/index.js';
import { noopTool } from '../src/connectors/builtin/builtin-connector.js';
import type { MissionDetail, MissionRequestInput } from '../src/core/missions/mission.js';
import type { Outcome } from '../src/core/missions/stages.js';
import type { EngineObserver } from '../src/engine/mission-workflow.js';
import { startInterlock, type RunningInterlock } from '../src/server/main.js';
import { createTestDatabase } from '../test/support/postgres.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { startCpuMeter, type CpuUse } from './support/cpu.js';
import { formatNumber, markdownTable } from './support/report.js';
import { round, summarize, type Summary } from './support/stats.js';

/** What this benchmark runs; recorded in the results file. */
const PARAMETERS = {
  tool: noopTool.name,
  stepsPerMission: 5,
  /** Missions run (concurrently) before measuring, so DBOS has picked up its queue and the JIT is warm. */
  warmupMissions: 20,
  /** Missions of the throughput run, submitted in batches of `submitBatchSize` concurrent `create` calls. */
  throughputMissions: 200,
  submitBatchSize: 20,
  /** Missions of the latency run, one after the other (each submitted when the previous one finished). */
  sequentialMissions: 30,
  /** 5-call sequences of the plain-function baseline (after as many again for warm-up). */
  plainMissions: 20_000,
  /** Round trips of each kind for the PostgreSQL baseline (`select 1`, and an autocommit insert). */
  postgresRoundTrips: 200,
  /** A mission that has not finished after this long fails the benchmark, ms. */
  missionTimeoutMs: 60_000,
} as const;

/** The mission every run submits: 5 no-op steps, no evidence queries. */
function missionRequest(label: string, index: number): MissionRequestInput {
  return {
    title: `bench ${label} ${index}`,
    requester: 'bench',
    steps: Array.from({ length: PARAMETERS.stepsPerMission }, () => ({ tool: noopTool.name, args: {} })),
  };
}

// ---------------------------------------------------------------------------------------------
// Waiting for missions to finish

/** Resolves when missions end, from the engine's `missionFinished` hook (no polling). */
interface FinishTracker {
  readonly observer: EngineObserver;
  /** Resolves with the outcomes once every mission in `ids` has finished; rejects after `timeoutMs`. */
  waitFor(ids: readonly string[], timeoutMs: number): Promise<Map<string, Outcome>>;
  /** Epoch ms at which the last of `ids` finished, by this process's clock. */
  lastFinishedAt(ids: readonly string[]): number;
}

function createFinishTracker(): FinishTracker {
  const finished = new Map<string, { outcome: Outcome; at: number }>();
  const waiters = new Set<() => void>();
  const allDone = (ids: readonly string[]): boolean => ids.every((id) => finished.has(id));
  return {
    observer: {
      missionFinished(id, outcome) {
        if (!finished.has(id)) finished.set(id, { outcome, at: Date.now() });
        for (const wake of waiters) wake();
      },
    },
    waitFor(ids, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!allDone(ids)) return;
          settle();
          resolve(new Map(ids.map((id) => [id, (finished.get(id) as { outcome: Outcome }).outcome])));
        };
        const timer = setTimeout(() => {
          settle();
          const pending = ids.filter((id) => !finished.has(id));
          reject(new Error(`${pending.length} of ${ids.length} mission(s) did not finish within ${timeoutMs} ms, e.g. ${pending[0] ?? ''}`));
        }, timeoutMs);
        const settle = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    lastFinishedAt(ids) {
      return Math.max(...ids.map((id) => finished.get(id)?.at ?? Number.NaN));
    },
  };
}

/** Throws unless every mission ended `resolved`: a benchmark of failing missions measures nothing. */
function requireResolved(outcomes: Map<string, Outcome>): void {
  const bad = [...outcomes].filter(([, outcome]) => outcome !== 'resolved');
  if (bad.length > 0) throw new Error(`${bad.length} mission(s) did not resolve, e.g. ${bad[0]?.[0] ?? ''} ended ${bad[0]?.[1] ?? ''}`);
}

// ---------------------------------------------------------------------------------------------
// Per-mission timings from the stage history and the DBOS checkpoints

/** What one mission's records say about where its time went, ms. */
interface MissionTiming {
  /** First stage transition (intake, when the request was stored) to the last (close). */
  readonly latencyMs: number;
  /** Intake to the `context` transition: the queue wait plus the start of the workflow. */
  readonly startMs: number;
  /** Enqueued to dequeued, from the DBOS workflow status: the wait for the queue poller. */
  readonly queueWaitMs: number;
  /** The `context` transition to the last one: the workflow's own run. */
  readonly runMs: number;
  /** Start of the first tool call's DBOS step to the completion of the last one's. */
  readonly callsSpanMs: number;
  /** Per tool call: the `call:<stepId>:1` DBOS step, started to completed. */
  readonly callMs: readonly number[];
  /** Per pair of consecutive tool calls: completion of one to completion of the next (the cost of a step in the loop). */
  readonly stepIntervalMs: readonly number[];
  /** Per pair of consecutive tool calls: completion of one to start of the next (the checkpoint write and the next attempt's set-up). */
  readonly betweenCallsMs: readonly number[];
  /** Per tool call, from the step rows: `startedAt` to `finishedAt`. */
  readonly stepRowMs: readonly number[];
  /** Checkpointed DBOS operations of the mission workflow. */
  readonly checkpoints: number;
}

/** A checkpointed operation of a workflow as `DBOS.listWorkflowSteps` returns it. */
type StepInfo = NonNullable<Awaited<ReturnType<typeof DBOS.listWorkflowSteps>>>[number];

/** The DBOS step of the first attempt of each plan step, in plan order, from the mission's DBOS steps. */
function callSteps(mission: MissionDetail, steps: readonly StepInfo[]): Array<{ startedAt: number; completedAt: number }> {
  return mission.steps.filter((step) => step.phase === 'plan').map((planned) => {
    const recorded = steps.find((step) => step.name === `call:${planned.stepId}:1`);
    if (recorded?.startedAtEpochMs === undefined || recorded.completedAtEpochMs === undefined) {
      throw new Error(`mission ${mission.id} has no timed DBOS step call:${planned.stepId}:1`);
    }
    return { startedAt: recorded.startedAtEpochMs, completedAt: recorded.completedAtEpochMs };
  });
}

/** Where one finished mission's time went, from its stage history, its step rows and its DBOS steps. */
async function missionTiming(running: RunningInterlock, id: string): Promise<MissionTiming> {
  const mission = await running.engine.get(id);
  const first = mission.history[0];
  const last = mission.history.at(-1);
  const context = mission.history.find((transition) => transition.to === 'context');
  if (first === undefined || last === undefined || context === undefined) throw new Error(`mission ${id} has an incomplete stage history`);
  const steps = (await DBOS.listWorkflowSteps(id)) ?? [];
  const calls = callSteps(mission, steps);
  const status = await DBOS.getWorkflowStatus(id);
  if (status?.dequeuedAt === undefined) throw new Error(`mission ${id} has no DBOS dequeue time`);
  const pairs = calls.slice(1).map((next, index) => ({ previous: calls[index] as (typeof calls)[number], next }));
  return {
    latencyMs: last.at - first.at,
    startMs: context.at - first.at,
    queueWaitMs: status.dequeuedAt - status.createdAt,
    runMs: last.at - context.at,
    callsSpanMs: (calls.at(-1)?.completedAt ?? Number.NaN) - (calls[0]?.startedAt ?? Number.NaN),
    callMs: calls.map((call) => call.completedAt - call.startedAt),
    stepIntervalMs: pairs.map(({ previous, next }) => next.completedAt - previous.completedAt),
    betweenCallsMs: pairs.map(({ previous, next }) => next.startedAt - previous.completedAt),
    stepRowMs: mission.steps.filter((step) => step.phase === 'plan').map((step) => (step.finishedAt ?? Number.NaN) - (step.startedAt ?? Number.NaN)),
    checkpoints: steps.length,
  };
}

/** Summaries over many missions' timings. */
interface TimingSummary {
  readonly missionLatencyMs: Summary;
  readonly intakeToContextMs: Summary;
  readonly queueWaitMs: Summary;
  readonly runMs: Summary;
  readonly callsSpanMs: Summary;
  /** The per-step overhead: completion of one tool call to completion of the next. */
  readonly perStepMs: Summary;
  readonly callStepMs: Summary;
  readonly betweenCallsMs: Summary;
  readonly stepRowMs: Summary;
  readonly checkpointsPerMission: Summary;
}

function summarizeTimings(timings: readonly MissionTiming[]): TimingSummary {
  return {
    missionLatencyMs: summarize(timings.map((t) => t.latencyMs)),
    intakeToContextMs: summarize(timings.map((t) => t.startMs)),
    queueWaitMs: summarize(timings.map((t) => t.queueWaitMs)),
    runMs: summarize(timings.map((t) => t.runMs)),
    callsSpanMs: summarize(timings.map((t) => t.callsSpanMs)),
    perStepMs: summarize(timings.flatMap((t) => t.stepIntervalMs)),
    callStepMs: summarize(timings.flatMap((t) => t.callMs)),
    betweenCallsMs: summarize(timings.flatMap((t) => t.betweenCallsMs)),
    stepRowMs: summarize(timings.flatMap((t) => t.stepRowMs)),
    checkpointsPerMission: summarize(timings.map((t) => t.checkpoints)),
  };
}

async function timingsOf(running: RunningInterlock, ids: readonly string[]): Promise<MissionTiming[]> {
  const timings: MissionTiming[] = [];
  for (const id of ids) timings.push(await missionTiming(running, id));
  return timings;
}

// ---------------------------------------------------------------------------------------------
// The runs

/** Submits `count` missions in batches of concurrent `create` calls; returns their IDs in order. */
async function submitInBatches(running: RunningInterlock, label: string, count: number, batchSize: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const batch = Array.from({ length: Math.min(batchSize, count - start) }, (_, offset) => running.engine.create(missionRequest(label, start + offset)));
    for (const { mission } of await Promise.all(batch)) ids.push(mission.id);
  }
  return ids;
}

interface ThroughputRun {
  readonly missions: number;
  readonly elapsedMs: number;
  readonly missionsPerSecond: number;
  /** CPU use from the first submission to the last finish. */
  readonly cpu: CpuUse;
  readonly timings: TimingSummary;
  readonly samples: { readonly latencyMs: number[]; readonly perStepMs: number[] };
}

/** Submits missions in concurrent batches and measures from the first submission to the last finish. */
async function throughputRun(running: RunningInterlock, tracker: FinishTracker, count: number): Promise<ThroughputRun> {
  const started = Date.now();
  const stopCpuMeter = startCpuMeter();
  const ids = await submitInBatches(running, 'throughput', count, PARAMETERS.submitBatchSize);
  requireResolved(await tracker.waitFor(ids, PARAMETERS.missionTimeoutMs));
  const cpu = stopCpuMeter();
  const elapsedMs = tracker.lastFinishedAt(ids) - started;
  const timings = await timingsOf(running, ids);
  return {
    missions: count,
    elapsedMs,
    missionsPerSecond: round(count / (elapsedMs / 1000)),
    cpu,
    timings: summarizeTimings(timings),
    samples: { latencyMs: timings.map((t) => t.latencyMs), perStepMs: timings.flatMap((t) => t.stepIntervalMs) },
  };
}

interface SequentialRun {
  readonly missions: number;
  /** `engine.create` (validate, store, enqueue, read back), ms. */
  readonly createMs: Summary;
  readonly timings: TimingSummary;
  readonly samples: { readonly latencyMs: number[]; readonly queueWaitMs: number[]; readonly runMs: number[]; readonly perStepMs: number[] };
}

/** Runs missions one at a time: each is submitted when the previous one has finished. */
async function sequentialRun(running: RunningInterlock, tracker: FinishTracker, count: number): Promise<SequentialRun> {
  const ids: string[] = [];
  const createMs: number[] = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const { mission } = await running.engine.create(missionRequest('sequential', index));
    createMs.push(performance.now() - started);
    requireResolved(await tracker.waitFor([mission.id], PARAMETERS.missionTimeoutMs));
    ids.push(mission.id);
  }
  const timings = await timingsOf(running, ids);
  return {
    missions: count,
    createMs: summarize(createMs),
    timings: summarizeTimings(timings),
    samples: { latencyMs: timings.map((t) => t.latencyMs), queueWaitMs: timings.map((t) => t.queueWaitMs), runMs: timings.map((t) => t.runMs), perStepMs: timings.flatMap((t) => t.stepIntervalMs) },
  };
}

interface PlainRun {
  readonly missions: number;
  readonly missionsPerSecond: number;
  /** One `noopTool.execute` call, ms (sub-microsecond values: see `perCallUs`). */
  readonly perCallMs: Summary;
  readonly perCallUs: Summary;
}

/** The same 5 tool calls as plain function calls: `noopTool.execute` awaited 5 times per "mission". */
async function plainMission(index: number, signal: AbortSignal): Promise<void> {
  for (let step = 1; step <= PARAMETERS.stepsPerMission; step++) {
    const stepId = `s${step}`;
    await noopTool.execute({}, { idempotencyKey: `plain-${index}:${stepId}`, missionId: `plain-${index}`, stepId, attempt: 1, signal });
  }
}

/** Measures plain calls: throughput over whole sequences, then the time of each call. */
async function plainRun(count: number): Promise<PlainRun> {
  const signal = new AbortController().signal;
  for (let index = 0; index < count; index++) await plainMission(index, signal);
  const started = performance.now();
  for (let index = 0; index < count; index++) await plainMission(index, signal);
  const elapsedMs = performance.now() - started;
  const perCall: number[] = [];
  for (let index = 0; index < count; index++) {
    for (let step = 1; step <= PARAMETERS.stepsPerMission; step++) {
      const stepId = `s${step}`;
      const context = { idempotencyKey: `plain-${index}:${stepId}`, missionId: `plain-${index}`, stepId, attempt: 1, signal };
      const callStarted = performance.now();
      await noopTool.execute({}, context);
      perCall.push(performance.now() - callStarted);
    }
  }
  return {
    missions: count,
    missionsPerSecond: round(count / (elapsedMs / 1000)),
    perCallMs: summarize(perCall, 6),
    perCallUs: summarize(perCall.map((ms) => ms * 1000), 3),
  };
}

/** The floor under every checkpoint: one round trip and one committed insert on this server, ms. */
interface PostgresBaseline {
  readonly selectOneMs: Summary;
  readonly insertCommitMs: Summary;
}

async function timeQueries(client: pg.Client, count: number, text: string): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await client.query(text);
    samples.push(performance.now() - started);
  }
  return samples;
}

/** Times `select 1` and an autocommit `insert` on the benchmark's database (in a scratch table it drops). */
async function postgresBaseline(url: string, count: number): Promise<PostgresBaseline> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('create table bench_commit (id bigserial primary key, at timestamptz not null default now())');
    await timeQueries(client, 20, 'insert into bench_commit default values');
    const selectOneMs = await timeQueries(client, count, 'select 1');
    const insertCommitMs = await timeQueries(client, count, 'insert into bench_commit default values');
    await client.query('drop table bench_commit');
    return { selectOneMs: summarize(selectOneMs), insertCommitMs: summarize(insertCommitMs) };
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Interlock in this process

/** Warnings Interlock and DBOS logged during the run (contention, retries), counted by message. */
interface WarningLog {
  readonly logger: Logger;
  counts(): Record<string, number>;
}

function createWarningLog(): WarningLog {
  const counts = new Map<string, number>();
  const logger = pino({ level: 'warn' }, {
    write(line: string) {
      let message = line.trim();
      try {
        const entry = JSON.parse(line) as { msg?: unknown };
        if (typeof entry.msg === 'string') message = entry.msg;
      } catch {
        // not JSON: keep the line
      }
      counts.set(message, (counts.get(message) ?? 0) + 1);
    },
  });
  return { logger, counts: () => Object.fromEntries(counts) };
}

/** Interlock on a fresh database of the machine's PostgreSQL, and how to tear it all down. */
interface BenchInterlock {
  readonly running: RunningInterlock;
  /** URL of the benchmark's database (for the PostgreSQL baseline). */
  readonly databaseUrl: string;
  readonly tracker: FinishTracker;
  readonly warnings: WarningLog;
  readonly concurrency: number;
  readonly poolSize: number;
  close(): Promise<void>;
}

async function startBenchInterlock(progress: Progress): Promise<BenchInterlock> {
  const database = await createTestDatabase('bench_engine');
  const cwd = await mkdtemp(join(tmpdir(), 'interlock-bench-engine-'));
  const cleanUp = async (): Promise<void> => {
    await database.drop();
    await rm(cwd, { recursive: true, force: true });
  };
  try {
    const config = loadConfig({
      env: { DATABASE_URL: database.url, INTERLOCK_PORT: '0', INTERLOCK_WORKER_ID: 'bench-engine-1', INTERLOCK_LOG_LEVEL: 'warn' },
      files: [],
      cwd,
    });
    const tracker = createFinishTracker();
    const warnings = createWarningLog();
    const running = await startInterlock({ config, logger: warnings.logger, observer: tracker.observer });
    progress(`Interlock started on database ${new URL(database.url).pathname.slice(1)} (engine.concurrency ${config.engine.concurrency}, database.poolSize ${config.database.poolSize})`);
    return {
      running, databaseUrl: database.url, tracker, warnings, concurrency: config.engine.concurrency, poolSize: config.database.poolSize,
      async close() {
        try {
          await running.stop();
        } finally {
          await cleanUp();
        }
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface EngineFigures {
  readonly engine: { readonly throughput: ThroughputRun; readonly sequential: SequentialRun };
  readonly plain: PlainRun;
  readonly postgres: PostgresBaseline;
  readonly warnings: Record<string, number>;
}

function ratiosOf(figures: EngineFigures): Record<string, number> {
  const { throughput, sequential } = figures.engine;
  const plainPerCallMs = figures.plain.perCallUs.p50 / 1000;
  return {
    throughputPlainOverEngine: round(figures.plain.missionsPerSecond / throughput.missionsPerSecond, 0),
    perStepEngineOverPlainSequential: round(sequential.timings.perStepMs.p50 / plainPerCallMs, 0),
    perStepEngineOverPlainConcurrent: round(throughput.timings.perStepMs.p50 / plainPerCallMs, 0),
    missionLatencyEngineOverPlainSequential: round(sequential.timings.missionLatencyMs.p50 / (1000 / figures.plain.missionsPerSecond), 0),
  };
}

/** Engine figures are whole milliseconds (DBOS and the store record epoch ms). */
const ms = (value: number): string => formatNumber(value, 0);
const pair = (summary: Summary): string => `${ms(summary.p50)} / ${ms(summary.p99)}`;
const times = (value: number | undefined): string => (value === undefined ? '' : `${formatNumber(value, 0)}×`);
const us = (value: number): string => `${formatNumber(value, 2)} µs`;

function comparisonTable(figures: EngineFigures, ratios: Record<string, number>, concurrency: number): string {
  const { throughput, sequential } = figures.engine;
  const plain = figures.plain;
  const plainCall = `${us(plain.perCallUs.p50)} / ${us(plain.perCallUs.p99)}`;
  return markdownTable(['measure', 'Interlock engine', 'plain function calls', 'ratio'], [
    [`throughput, ${throughput.missions} missions, engine.concurrency ${concurrency} (missions/s)`, formatNumber(throughput.missionsPerSecond, 1), formatNumber(plain.missionsPerSecond, 0), times(ratios.throughputPlainOverEngine)],
    ['per-step overhead, one mission at a time, p50 / p99 (ms)', pair(sequential.timings.perStepMs), plainCall, times(ratios.perStepEngineOverPlainSequential)],
    [`per-step overhead, ${concurrency} missions at a time, p50 / p99 (ms)`, pair(throughput.timings.perStepMs), plainCall, times(ratios.perStepEngineOverPlainConcurrent)],
    ['mission latency, created → finished, one at a time, p50 / p99 (ms)', pair(sequential.timings.missionLatencyMs), `${us(1_000_000 / plain.missionsPerSecond)} (5 calls)`, times(ratios.missionLatencyEngineOverPlainSequential)],
    [`mission latency, ${throughput.missions} submitted at once (includes the wait for one of ${concurrency} slots), p50 / p99 (ms)`, pair(throughput.timings.missionLatencyMs), '', ''],
  ]);
}

function breakdownTable(sequential: SequentialRun): string {
  const t = sequential.timings;
  return markdownTable(['where a mission run one at a time spends its time', 'p50 / p99 (ms)'], [
    ['created → finished', pair(t.missionLatencyMs)],
    ['enqueued → dequeued (DBOS workflow status: waiting for the queue poll)', pair(t.queueWaitMs)],
    ['intake → context transition (queue wait, workflow start, load)', pair(t.intakeToContextMs)],
    ['context → close transition (the workflow: 6 stage transitions, 4 cancel checks, 5 calls)', pair(t.runMs)],
    ['first call started → last call completed (5 calls)', pair(t.callsSpanMs)],
    ['one `call:<stepId>:1` DBOS step (read step, heartbeat, record running, call, record result)', pair(t.callStepMs)],
    ['between two calls (the checkpoint of the call, the set-up of the next)', pair(t.betweenCallsMs)],
    ['`engine.create` (validate, store, enqueue, read back)', pair(sequential.createMs)],
    ['checkpointed DBOS operations per mission (count)', ms(t.checkpointsPerMission.p50)],
  ]);
}

function markdownOf(figures: EngineFigures, ratios: Record<string, number>, concurrency: number): string {
  const { throughput, sequential } = figures.engine;
  const machineCpu = throughput.cpu.machinePercent === null ? '' : ` and the machine ${throughput.cpu.machinePercent} % of all its cores (Interlock and PostgreSQL)`;
  return [
    `A mission of ${PARAMETERS.stepsPerMission} × \`${PARAMETERS.tool}\` (no evidence queries) through the real engine on the machine's PostgreSQL, against the same ${PARAMETERS.stepsPerMission} calls of \`noopTool.execute\` as plain function calls in the same process. Per-step overhead is the time from the completion of one tool call's DBOS step to the completion of the next (DBOS step timings, \`DBOS.listWorkflowSteps\`); mission latency runs from the first to the last stage transition in the mission's history. ${PARAMETERS.warmupMissions} warm-up missions ran first; ${throughput.missions} missions were submitted in batches of ${PARAMETERS.submitBatchSize} concurrent \`engine.create\` calls, then ${sequential.missions} one after the other. Ratios are Interlock over the plain calls.`,
    '',
    comparisonTable(figures, ratios, concurrency),
    '',
    `During the throughput run the Interlock process used ${throughput.cpu.processPercentOfOneCore} % of one core${machineCpu}. For scale, on the same server one \`select 1\` round trip takes ${formatNumber(figures.postgres.selectOneMs.p50, 2)} ms and one committed single-row insert ${formatNumber(figures.postgres.insertCommitMs.p50, 2)} ms (p50 of ${figures.postgres.insertCommitMs.n}).`,
    '',
    breakdownTable(sequential),
  ].join('\n');
}

/** `npm run bench -- engine`. */
export const benchmark: Benchmark = {
  name: 'engine',
  async run(progress): Promise<BenchmarkReport> {
    progress(`plain baseline: ${PARAMETERS.plainMissions} × ${PARAMETERS.stepsPerMission} calls of noopTool.execute`);
    const plain = await plainRun(PARAMETERS.plainMissions);
    progress(`plain: ${plain.missionsPerSecond} sequences/s, ${plain.perCallUs.p50} µs per call (p50)`);
    const interlock = await startBenchInterlock(progress);
    try {
      const { running, tracker } = interlock;
      progress(`warm-up: ${PARAMETERS.warmupMissions} missions`);
      requireResolved(await tracker.waitFor(await submitInBatches(running, 'warm-up', PARAMETERS.warmupMissions, PARAMETERS.submitBatchSize), PARAMETERS.missionTimeoutMs));
      progress(`throughput: ${PARAMETERS.throughputMissions} missions in batches of ${PARAMETERS.submitBatchSize}`);
      const throughput = await throughputRun(running, tracker, PARAMETERS.throughputMissions);
      progress(`throughput: ${throughput.missionsPerSecond} missions/s; per step p50 ${throughput.timings.perStepMs.p50} ms; CPU ${throughput.cpu.processPercentOfOneCore} % of one core (machine ${throughput.cpu.machinePercent ?? '?'} %)`);
      progress(`latency: ${PARAMETERS.sequentialMissions} missions one after the other`);
      const sequential = await sequentialRun(running, tracker, PARAMETERS.sequentialMissions);
      progress(`latency: p50 ${sequential.timings.missionLatencyMs.p50} ms, p99 ${sequential.timings.missionLatencyMs.p99} ms; queue wait p50 ${sequential.timings.queueWaitMs.p50} ms; per step p50 ${sequential.timings.perStepMs.p50} ms`);
      progress(`PostgreSQL baseline: ${PARAMETERS.postgresRoundTrips} × select 1, ${PARAMETERS.postgresRoundTrips} × insert (autocommit)`);
      const postgres = await postgresBaseline(interlock.databaseUrl, PARAMETERS.postgresRoundTrips);
      progress(`PostgreSQL: select 1 p50 ${postgres.selectOneMs.p50} ms, insert commit p50 ${postgres.insertCommitMs.p50} ms`);
      const figures: EngineFigures = { engine: { throughput, sequential }, plain, postgres, warnings: interlock.warnings.counts() };
      const warningCount = Object.values(figures.warnings).reduce((sum, count) => sum + count, 0);
      if (warningCount > 0) progress(`${warningCount} warning(s) logged: ${JSON.stringify(figures.warnings)}`);
      const ratios = ratiosOf(figures);
      return {
        parameters: { ...PARAMETERS, engineConcurrency: interlock.concurrency, databasePoolSize: interlock.poolSize },
        figures,
        ratios,
        markdown: markdownOf(figures, ratios, interlock.concurrency),
      };
    } finally {
      await interlock.close();
      progress('Interlock stopped, database dropped');
    }
  },
};
