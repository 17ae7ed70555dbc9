/**
 * The diagnosis mission of an incident: which evidence to query (the `context` steps, run and audited
 * by the engine like any read tool: each is an `evidence.queried` entry) and the `diagnosis.run` step
 * that reads their results, builds the evidence bundle and runs the built-in engine. Pure: the
 * caller passes the incident, its signals, the settings and which tools the catalog has.
 */
import type { IncidentState } from '../../core/incidents/incident.js';
import type { SeriesRole } from '../../core/diagnosis/index.js';
import type { StepSpec } from '../../core/missions/mission.js';
import type { Signal } from '../../core/signals/signal.js';

/** One configured metric query; `$service` in `query` is replaced by each suspected service. */
export interface DiagnosisQuery {
  readonly role: SeriesRole;
  /** PromQL; `$service` stands for the service name (quoted by the template, e.g. `{service="$service"}`). */
  readonly query: string;
}

/** How an incident's evidence is gathered. Times in ms. */
export interface DiagnosisPlanSettings {
  /** The window starts this long before the onset. */
  readonly windowBeforeMs: number;
  /** Resolution of range queries, seconds. */
  readonly stepSeconds: number;
  /** Wait this long before querying the evidence (a `diagnosis.wait` step), ms; the window ends then. */
  readonly settleMs?: number | undefined;
  readonly queries: readonly DiagnosisQuery[];
  /** Canary vs baseline latency histograms (`$service` and `$range` replaced), when set. */
  readonly latency?: { readonly query: string; readonly groupLabel: string; readonly canaryMatch: string; readonly unitSeconds: boolean } | undefined;
  /** Query the change feed (`changes.list`) when the catalog has it. */
  readonly changes: boolean;
  /** Query the logs (`logs.query`) when the catalog has it. */
  readonly logs: boolean;
}

/** What a `context` step's result is, for `diagnosis.run`. */
export interface EvidenceStep {
  readonly stepId: string;
  readonly kind: 'series' | 'changes' | 'logs' | 'latency';
  readonly role?: SeriesRole | undefined;
  readonly service?: string | undefined;
  /** For `latency`: the label telling canary from baseline, the text marking the canary, and whether `le` is in seconds. */
  readonly groupLabel?: string | undefined;
  readonly canaryMatch?: string | undefined;
  readonly unitSeconds?: boolean | undefined;
}

/** The arguments of `diagnosis.run`. */
export interface DiagnosisRunArgs {
  readonly incidentId: string;
  /** The incident's onset, ms: the earliest `startsAt` of its signals. */
  readonly onsetMs: number;
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly evidence: readonly EvidenceStep[];
}

/** Most context steps a mission takes (the mission request's limit). */
export const MAX_EVIDENCE_STEPS = 20;

/** Quotes `service` for use inside a PromQL double-quoted label value. */
function promqlString(service: string): string {
  return service.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/**
 * The context steps and the `diagnosis.run` arguments for an incident, at `now` (ms). Services are
 * the `service` labels of its alerts (sorted); metric queries run per service, in the order
 * configured, up to {@link MAX_EVIDENCE_STEPS} steps in all (the change feed and the logs first).
 */
export function planIncidentDiagnosis(input: {
  readonly incidentId: string;
  readonly incident: IncidentState;
  readonly signals: readonly Pick<Signal, 'startsAt'>[];
  readonly settings: DiagnosisPlanSettings;
  readonly hasTool: (name: string) => boolean;
  readonly now: number;
}): { readonly context: StepSpec[]; readonly run: DiagnosisRunArgs } {
  const { incident, settings } = input;
  // With a settle time the evidence is queried, and its window ends, that much later.
  const settleMs = settings.settleMs ?? 0;
  const now = input.now + (settleMs > 0 && input.hasTool('diagnosis.wait') ? settleMs : 0);
  const starts = input.signals.map((signal) => signal.startsAt).filter((at) => Number.isFinite(at) && at <= input.now);
  const onsetMs = starts.length > 0 ? Math.min(...starts) : incident.openedAt;
  const windowStartMs = onsetMs - settings.windowBeforeMs;
  const windowEndMs = Math.max(now, onsetMs + 1);
  const services = [...new Set(incident.alerts.map((alert) => alert.labels.service).filter((service): service is string => service !== undefined && service !== ''))].sort();
  const context: StepSpec[] = [];
  const evidence: EvidenceStep[] = [];
  if (now > input.now) context.push({ id: 'settle', tool: 'diagnosis.wait', args: { until: now } });
  const since = new Date(windowStartMs).toISOString();
  const until = new Date(windowEndMs).toISOString();
  if (settings.changes && input.hasTool('changes.list')) {
    context.push({ id: 'changes', tool: 'changes.list', args: { since, until } });
    evidence.push({ stepId: 'changes', kind: 'changes' });
  }
  if (settings.logs && input.hasTool('logs.query')) {
    for (const service of services.length > 0 ? services : [undefined]) {
      if (context.length >= MAX_EVIDENCE_STEPS) break;
      const id = `logs-${context.length + 1}`;
      context.push({ id, tool: 'logs.query', args: { since, until, ...(service === undefined ? {} : { service }) } });
      evidence.push({ stepId: id, kind: 'logs', service });
    }
  }
  // Canary vs baseline latencies since the onset, one instant query per service (before the metric
  // queries, so the step limit never crowds them out).
  if (settings.latency !== undefined && input.hasTool('prometheus.query')) {
    const range = `${Math.max(30, Math.ceil((windowEndMs - onsetMs) / 1000))}s`;
    for (const service of services) {
      if (context.length >= MAX_EVIDENCE_STEPS) break;
      const id = `latency-${context.length + 1}`;
      context.push({ id, tool: 'prometheus.query', args: { query: settings.latency.query.replaceAll('$service', promqlString(service)).replaceAll('$range', range), time: windowEndMs } });
      evidence.push({ stepId: id, kind: 'latency', service, groupLabel: settings.latency.groupLabel, canaryMatch: settings.latency.canaryMatch, unitSeconds: settings.latency.unitSeconds });
    }
  }
  if (input.hasTool('prometheus.query_range')) {
    for (const service of services) {
      for (const query of settings.queries) {
        if (context.length >= MAX_EVIDENCE_STEPS) break;
        const id = `m${context.length + 1}-${query.role.replace(/_/g, '-')}`;
        context.push({ id, tool: 'prometheus.query_range', args: { query: query.query.replaceAll('$service', promqlString(service)), start: windowStartMs, end: windowEndMs, step: settings.stepSeconds } });
        evidence.push({ stepId: id, kind: 'series', role: query.role, service });
      }
    }
  }
  return { context, run: { incidentId: input.incidentId, onsetMs, windowStartMs, windowEndMs, evidence } };
}
