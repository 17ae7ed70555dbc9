import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StepStatus } from '../core/missions/mission.js';
import type { Outcome, Stage } from '../core/missions/stages.js';

/** Step and HTTP durations in seconds: 1 ms to 60 s. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The `outcome` label of `interlock_missions` for missions that are still running (no outcome yet). */
const NO_OUTCOME = 'none';

/**
 * Where the scrape-time gauges read their values. The engine passes these once it is up
 * (usually `MissionStore.countByStage` and a queue-depth query).
 */
export interface MetricsCollectors {
  /** Counts of missions by stage and outcome (`null` while running); read on every scrape. */
  countByStage(): Promise<ReadonlyArray<{ readonly stage: Stage; readonly outcome: Outcome | null; readonly count: number }>>;
  /** Missions enqueued but not yet started by any worker; read on every scrape. */
  queueDepth(): Promise<number>;
}

/**
 * Interlock's Prometheus metrics, on a registry of their own (never prom-client's global one).
 * The engine records steps, transitions and outcomes; the HTTP server records requests; the
 * `/metrics` route renders {@link InterlockMetrics.registry}.
 *
 * Metric names: `interlock_missions{stage,outcome}`, `interlock_missions_finished_total{outcome}`,
 * `interlock_stage_transitions_total{to}`, `interlock_step_duration_seconds{tool,status}`,
 * `interlock_queue_depth`, `interlock_http_request_duration_seconds{method,route,status_code}`,
 * `interlock_metrics_collector_errors_total{collector}`, `interlock_audit_export_lag_entries{sink}`,
 * `interlock_audit_export_failures_total{sink,reason}`, plus the default process metrics prefixed
 * `interlock_`.
 */
export interface InterlockMetrics {
  /** The registry holding every metric above; render it with `registry.metrics()`. */
  readonly registry: Registry;
  /** Records one finished attempt of a step: its tool, final status and duration in seconds. */
  observeStep(tool: string, status: StepStatus, seconds: number): void;
  /** Counts a mission entering stage `to`. */
  stageTransition(to: Stage): void;
  /** Counts a mission ending with `outcome`. */
  missionFinished(outcome: Outcome): void;
  /**
   * Records one HTTP request. `route` is the route pattern (`/v1/missions/:id`), never the raw URL,
   * so the label set stays bounded; `seconds` is the time to the response.
   */
  observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void;
  /**
   * Sets where `interlock_missions` and `interlock_queue_depth` read their values on each scrape.
   * Until called, `interlock_missions` has no series and `interlock_queue_depth` reads 0. A collector
   * that fails leaves its gauge empty for that scrape and increments
   * `interlock_metrics_collector_errors_total{collector}` (visible from the next scrape); the rest of
   * the scrape still succeeds.
   */
  setCollectors(collectors: MetricsCollectors): void;
  /** Sets how many audit entries sink `sink` is behind: the log size minus its export cursor. */
  auditExportLag(sink: string, entries: number): void;
  /**
   * Counts one failed delivery attempt to sink `sink`, by `reason`: `timeout`, `network`, `http`
   * (an answer other than 2xx), `file` or `database`.
   */
  auditExportFailed(sink: string, reason: string): void;
}

/**
 * Creates Interlock's metrics on a new prom-client {@link Registry}, with the default process
 * metrics (CPU, memory, event loop lag, GC) prefixed `interlock_`. Call it once per process
 * (`main.ts`) or once per test.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/ (text format served at `/metrics`)
 */
export function createMetrics(): InterlockMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'interlock_' });

  let collectors: MetricsCollectors | undefined;

  const collectorErrors = new Counter({
    name: 'interlock_metrics_collector_errors_total',
    help: 'Scrapes in which a metrics collector (countByStage, queueDepth) failed.',
    labelNames: ['collector'] as const,
    registers: [registry],
  });

  new Gauge({
    name: 'interlock_missions',
    help: 'Missions by current stage and outcome (outcome "none" while running).',
    labelNames: ['stage', 'outcome'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      if (collectors === undefined) return;
      try {
        for (const row of await collectors.countByStage()) {
          this.set({ stage: row.stage, outcome: row.outcome ?? NO_OUTCOME }, row.count);
        }
      } catch {
        this.reset();
        collectorErrors.inc({ collector: 'countByStage' });
      }
    },
  });

  new Gauge({
    name: 'interlock_queue_depth',
    help: 'Missions enqueued but not yet started by any worker.',
    registers: [registry],
    async collect() {
      if (collectors === undefined) return;
      try {
        this.set(await collectors.queueDepth());
      } catch {
        this.reset();
        collectorErrors.inc({ collector: 'queueDepth' });
      }
    },
  });

  const finished = new Counter({
    name: 'interlock_missions_finished_total',
    help: 'Missions finished, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  const transitions = new Counter({
    name: 'interlock_stage_transitions_total',
    help: 'Stage transitions, by the stage entered.',
    labelNames: ['to'] as const,
    registers: [registry],
  });

  const steps = new Histogram({
    name: 'interlock_step_duration_seconds',
    help: 'Duration of step attempts in seconds, by tool and resulting status.',
    labelNames: ['tool', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  const http = new Histogram({
    name: 'interlock_http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  const exportLag = new Gauge({
    name: 'interlock_audit_export_lag_entries',
    help: 'Audit entries not yet confirmed by an export sink (log size minus its cursor), by sink.',
    labelNames: ['sink'] as const,
    registers: [registry],
  });

  const exportFailures = new Counter({
    name: 'interlock_audit_export_failures_total',
    help: 'Failed delivery attempts of audit entries to an export sink, by sink and reason (timeout, network, http, file, database).',
    labelNames: ['sink', 'reason'] as const,
    registers: [registry],
  });

  return {
    registry,
    observeStep(tool, status, seconds) {
      steps.observe({ tool, status }, seconds);
    },
    stageTransition(to) {
      transitions.inc({ to });
    },
    missionFinished(outcome) {
      finished.inc({ outcome });
    },
    observeHttpRequest(method, route, statusCode, seconds) {
      http.observe({ method, route, status_code: String(statusCode) }, seconds);
    },
    setCollectors(next) {
      collectors = next;
    },
    auditExportLag(sink, entries) {
      exportLag.set({ sink }, entries);
    },
    auditExportFailed(sink, reason) {
      exportFailures.inc({ sink, reason });
    },
  };
}
