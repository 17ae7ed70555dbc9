import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../../core/approvals/binding-hash.js';
import { diagnose, SERIES_ROLES, type Diagnosis, type EvidenceBundle, type EvidenceChange, type EvidenceLatencySamples, type EvidenceLogs, type EvidenceReference, type EvidenceSeries, type EvidenceSignal } from '../../core/diagnosis/index.js';
import { ConnectorError } from '../../core/errors.js';
import type { MissionStep } from '../../core/missions/mission.js';
import type { Signal } from '../../core/signals/signal.js';
import type { ToolContract } from '../../core/tools/tool.js';
import type { DiagnosisRunArgs } from './diagnosis-plan.js';

/** Where `diagnosis.run` reads the incident and its evidence. */
export interface DiagnosisSources {
  /** The incident's signals, oldest first; undefined when there is no such incident. */
  signalsOf(incidentId: string): Promise<Array<Signal & { readonly id: string }> | undefined>;
  /** A step of a mission (the context steps of the diagnosis mission). */
  getStep(missionId: string, stepId: string): Promise<MissionStep | undefined>;
}

const Uuid = z.uuid();
const RunInput = z.object({
  incidentId: Uuid,
  onsetMs: z.int().describe('ms since the epoch'),
  windowStartMs: z.int(),
  windowEndMs: z.int(),
  evidence: z.array(z.object({
    stepId: z.string().min(1).max(63),
    kind: z.enum(['series', 'changes', 'logs', 'latency']),
    role: z.enum(SERIES_ROLES).optional(),
    service: z.string().min(1).max(200).optional(),
    groupLabel: z.string().min(1).max(200).optional(),
    canaryMatch: z.string().min(1).max(200).optional(),
    unitSeconds: z.boolean().optional(),
  }).strict()).max(20).describe('The context steps of this mission whose results are the evidence.'),
}).strict().refine((args) => args.windowStartMs < args.windowEndMs, { message: 'windowStartMs must be before windowEndMs', path: ['windowStartMs'] });

const RunOutput = z.object({
  incidentId: Uuid,
  engine: z.string(),
  onset: z.object({ ms: z.int().nullable(), source: z.string(), evidence: z.array(z.string()) }),
  hypotheses: z.array(z.looseObject({
    id: z.string(), kind: z.string(), service: z.string().nullable(), summary: z.string(), confidence: z.number().min(0).max(1),
  })).describe('Ranked, highest confidence first; each with facts, assumptions, missing evidence, checks and a remediation hint.'),
  ranking: z.array(z.object({ service: z.string(), rank: z.int(), score: z.number(), confidence: z.number() })),
  evidence: z.array(z.object({ id: z.string(), source: z.string(), query: z.string(), resultSha256: z.string().optional() })),
  unavailable: z.array(z.object({ stepId: z.string(), reason: z.string() })).describe('Evidence steps that gave nothing: failed, skipped or missing.'),
});

type RunOutput = z.output<typeof RunOutput>;

function sha256(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value ?? null), 'utf8').digest('hex');
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function timeOf(text: unknown): number | undefined {
  const ms = typeof text === 'string' ? Date.parse(text) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Most latency values one group (canary or baseline) of a service gets from a histogram. */
export const MAX_HISTOGRAM_SAMPLES = 5000;

/**
 * Latency samples from cumulative histogram bucket counts (Prometheus `_bucket` series by `le` and a
 * group label, e.g. `sum by (le, version) (increase(..._bucket[5m]))`): per group, each bucket's count
 * (the difference of consecutive cumulative counts) becomes that many values at the bucket's midpoint
 * (the `+Inf` bucket at 1.5 times its lower bound), in ms. When a group holds more than
 * {@link MAX_HISTOGRAM_SAMPLES} requests, counts are scaled down in proportion. A group value containing
 * `canaryMatch` is the canary; every other value is the baseline. The KS test on bucketed values is
 * conservative (ties), as docs/diagnosis.md says.
 */
export function histogramLatencySamples(
  series: ReadonlyArray<{ readonly labels: Readonly<Record<string, string>>; readonly value: number | null }>,
  options: { readonly groupLabel: string; readonly canaryMatch: string; readonly unitSeconds: boolean },
): { canary: number[]; baseline: number[] } {
  const groups = new Map<'canary' | 'baseline', Map<number, number>>();
  for (const item of series) {
    const le = item.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(item.labels.le);
    const group = item.labels[options.groupLabel];
    if (Number.isNaN(le) || group === undefined || item.value === null || !(item.value >= 0)) continue;
    const key = group.includes(options.canaryMatch) ? 'canary' : 'baseline';
    const buckets = groups.get(key) ?? new Map<number, number>();
    // Several baseline versions: their cumulative counts add up per bound.
    buckets.set(le, (buckets.get(le) ?? 0) + item.value);
    groups.set(key, buckets);
  }
  const unit = options.unitSeconds ? 1000 : 1;
  const samples = (buckets: Map<number, number> | undefined): number[] => {
    if (buckets === undefined) return [];
    const bounds = [...buckets.keys()].sort((a, b) => a - b);
    const counts: Array<{ value: number; count: number }> = [];
    let lower = 0;
    let previous = 0;
    for (const upper of bounds) {
      const cumulative = Math.max(previous, buckets.get(upper) ?? 0);
      const count = cumulative - previous;
      // Rounded to the microsecond: bucket bounds like 0.1 are not exact in binary.
      counts.push({ value: Math.round((Number.isFinite(upper) ? (lower + upper) / 2 : lower * 1.5) * unit * 1000) / 1000, count });
      previous = cumulative;
      if (Number.isFinite(upper)) lower = upper;
    }
    const scale = previous > MAX_HISTOGRAM_SAMPLES ? MAX_HISTOGRAM_SAMPLES / previous : 1;
    return counts.flatMap(({ value, count }) => Array.from({ length: Math.round(count * scale) }, () => value));
  };
  return { canary: samples(groups.get('canary')), baseline: samples(groups.get('baseline')) };
}

const CHANGE_KIND: Readonly<Record<string, EvidenceChange['kind']>> = { deploy: 'deploy', rollback: 'rollback', config: 'config', commit: 'config' };

/**
 * The evidence bundle of an incident from its signals and the results of the context steps named in
 * `args.evidence` (as the engine stored them). A step that did not succeed, or whose result has an
 * unexpected shape, is listed in `unavailable` and left out: the engine counts it as missing evidence.
 */
export function buildEvidenceBundle(args: DiagnosisRunArgs, signals: readonly (Signal & { readonly id: string })[], steps: ReadonlyMap<string, MissionStep | undefined>): { bundle: EvidenceBundle; unavailable: Array<{ stepId: string; reason: string }> } {
  const unavailable: Array<{ stepId: string; reason: string }> = [];
  const series: EvidenceSeries[] = [];
  const changes: EvidenceChange[] = [];
  const logs: EvidenceLogs[] = [];
  const latencySamples: EvidenceLatencySamples[] = [];
  for (const spec of args.evidence) {
    const step = steps.get(spec.stepId);
    if (step === undefined) {
      unavailable.push({ stepId: spec.stepId, reason: 'no such step in this mission' });
      continue;
    }
    if (step.status !== 'succeeded' || !isRecord(step.result)) {
      unavailable.push({ stepId: spec.stepId, reason: `the step ${step.status}${step.error === null ? '' : `: ${step.error.code} ${step.error.message}`}` });
      continue;
    }
    const promql = (step.args as { query?: unknown }).query;
    const query = spec.kind === 'series' && typeof promql === 'string' ? promql : canonicalJson(step.args);
    const reference = (suffix: string): EvidenceReference => ({ id: `${spec.stepId}${suffix}`.slice(0, 200), source: step.tool, query, resultSha256: sha256(step.result) });
    const result = step.result;
    if (spec.kind === 'series' && Array.isArray(result.series)) {
      const list: unknown[] = result.series;
      list.slice(0, 200).forEach((item, i) => {
        if (!isRecord(item) || !isRecord(item.labels) || !Array.isArray(item.values)) return;
        const labels = Object.fromEntries(Object.entries(item.labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
        const points = item.values.filter((pair): pair is [number, unknown] => Array.isArray(pair) && typeof pair[0] === 'number').map(([at, value]) => [at, finite(value)] as const);
        series.push({ evidence: reference(list.length === 1 ? '' : `#${i}`), labels, role: spec.role ?? 'unknown', ...(spec.service === undefined ? {} : { service: spec.service }), points });
      });
    } else if (spec.kind === 'changes' && Array.isArray(result.changes)) {
      result.changes.forEach((change: unknown, i) => {
        if (!isRecord(change)) return;
        const at = timeOf(change.at);
        if (at === undefined || typeof change.service !== 'string' || change.service === '') return;
        changes.push({ evidence: reference(`#${i}`), at, service: change.service, kind: CHANGE_KIND[String(change.kind)] ?? 'other', summary: (typeof change.summary === 'string' ? change.summary : '').slice(0, 500), ...(typeof change.ref === 'string' ? { ref: change.ref } : {}) });
      });
    } else if (spec.kind === 'logs' && Array.isArray(result.lines)) {
      const lines = result.lines.flatMap((line: unknown) => {
        if (!isRecord(line)) return [];
        const at = timeOf(line.time);
        if (at === undefined || typeof line.message !== 'string') return [];
        return [{ at, message: line.message, ...(typeof line.level === 'string' ? { level: line.level } : {}), ...(typeof line.service === 'string' ? { service: line.service } : {}) }];
      });
      logs.push({ evidence: reference(''), ...(spec.service === undefined ? {} : { service: spec.service }), lines });
    } else if (spec.kind === 'latency' && Array.isArray(result.series) && spec.service !== undefined) {
      const list = (result.series as unknown[]).flatMap((item) => {
        if (!isRecord(item) || !isRecord(item.labels) || !Array.isArray(item.values)) return [];
        const last = item.values.at(-1) as unknown;
        const labels = Object.fromEntries(Object.entries(item.labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
        return [{ labels, value: Array.isArray(last) ? finite(last[1]) : null }];
      });
      const { canary, baseline } = histogramLatencySamples(list, { groupLabel: spec.groupLabel ?? 'version', canaryMatch: spec.canaryMatch ?? 'canary', unitSeconds: spec.unitSeconds ?? true });
      if (canary.length > 0) latencySamples.push({ evidence: reference('#canary'), service: spec.service, group: 'canary', values: canary });
      if (baseline.length > 0) latencySamples.push({ evidence: reference('#baseline'), service: spec.service, group: 'baseline', values: baseline });
    } else {
      unavailable.push({ stepId: spec.stepId, reason: `its result is not a ${spec.kind} result` });
    }
  }
  const evidenceSignals: EvidenceSignal[] = signals.map((signal) => ({
    evidence: { id: `signal:${signal.id}`, source: `signals:${signal.source}`, query: signal.fingerprint },
    name: signal.name, labels: signal.labels, annotations: signal.annotations, status: signal.status, startsAt: signal.startsAt, endsAt: signal.endsAt,
  }));
  return {
    bundle: { window: { startMs: args.windowStartMs, endMs: args.windowEndMs }, onsetMs: args.onsetMs, signals: evidenceSignals, series, changes, logs, latencySamples },
    unavailable,
  };
}

/** Longest a `diagnosis.wait` may wait, ms (the most `diagnosis.settleMs` allows). */
const MAX_WAIT_MS = 300_000;

const WaitInput = z.object({ until: z.int().describe('Wait until this time, ms since the epoch (at most 5 minutes ahead).') }).strict();

/**
 * `diagnosis.wait` (risk `read`): the first context step of a diagnosis mission with
 * `diagnosis.settleMs`, so the evidence queried after it covers the fault after the alert. Waits until
 * `until` (an absolute time, so a retry after a crash waits only what is left), at most 5 minutes;
 * answers at once when the time has passed. Aborts with the step.
 */
export function createDiagnosisWaitTool(now: () => number = Date.now): ToolContract<z.output<typeof WaitInput>, { waitedMs: number }> {
  return {
    name: 'diagnosis.wait',
    description: 'Waits until a time (at most 5 minutes ahead) so that evidence queried next covers the incident after its alert.',
    input: WaitInput,
    output: z.object({ waitedMs: z.int().min(0) }),
    risk: 'read',
    idempotent: true,
    timeoutMs: MAX_WAIT_MS + 10_000,
    permission: 'diagnosis:run',
    async execute(args, context) {
      const ms = Math.min(MAX_WAIT_MS, Math.max(0, args.until - now()));
      if (ms > 0) await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        context.signal.addEventListener('abort', () => { clearTimeout(timer); reject(context.signal.reason as Error); }, { once: true });
      });
      return { waitedMs: ms };
    },
  };
}

/**
 * The diagnosis connector: `diagnosis.run` (risk `read`), the last step of an incident's diagnosis
 * mission. It reads the incident's signals and the results of the mission's context steps (the
 * evidence queries, already audited as `evidence.queried`), builds the evidence bundle and runs the
 * built-in deterministic engine (`src/core/diagnosis/engine.ts`); its result is the ranked
 * hypotheses with their facts, assumptions, missing evidence and checks. It changes nothing.
 */
export function createDiagnosisConnector(sources: DiagnosisSources): ToolContract<z.output<typeof RunInput>, RunOutput> {
  return {
    name: 'diagnosis.run',
    description: "Diagnoses an incident from its signals and the evidence this mission's context steps queried: ranked hypotheses with confidence, facts, assumptions, missing evidence and read-only checks.",
    input: RunInput,
    output: RunOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs: 60_000,
    permission: 'diagnosis:run',
    async execute(args, context) {
      const signals = await sources.signalsOf(args.incidentId);
      if (signals === undefined) throw new ConnectorError('TOOL_FAILED', `There is no incident ${args.incidentId}.`, { system: 'diagnosis', retryable: false });
      const steps = new Map<string, MissionStep | undefined>();
      for (const spec of args.evidence) steps.set(spec.stepId, await sources.getStep(context.missionId, spec.stepId));
      const { bundle, unavailable } = buildEvidenceBundle(args, signals, steps);
      const diagnosis: Diagnosis = diagnose(bundle);
      const references = [...bundle.series.map((s) => s.evidence), ...bundle.changes.map((c) => c.evidence), ...bundle.logs.map((l) => l.evidence), ...bundle.latencySamples.map((l) => l.evidence), ...bundle.signals.map((s) => s.evidence)];
      return {
        incidentId: args.incidentId,
        engine: diagnosis.engine,
        onset: { ms: diagnosis.onset.ms, source: diagnosis.onset.source, evidence: [...diagnosis.onset.evidence] },
        hypotheses: JSON.parse(JSON.stringify(diagnosis.hypotheses)) as RunOutput['hypotheses'],
        ranking: diagnosis.ranking.map((item) => ({ ...item })),
        evidence: references.map((ref) => ({ id: ref.id, source: ref.source, query: ref.query, ...(ref.resultSha256 === undefined ? {} : { resultSha256: ref.resultSha256 }) })),
        unavailable,
      };
    },
  };
}
