/**
 * The failure signatures of the built-in diagnosis engine: deterministic detectors that read a
 * prepared evidence bundle ({@link DiagnosisContext}) and give root-cause candidates with a raw
 * strength in 0..1, its components, and the evidence split into facts, assumptions and missing
 * evidence. `engine.ts` prepares the context, calibrates the strengths and ranks.
 *
 * Each strength is a fixed weighted sum of components in 0..1, so evidence that is missing adds
 * nothing and can only lower a hypothesis' confidence; the weights and thresholds are documented
 * on each signature and in docs/diagnosis.md ("Diagnosis engine"), with their sources.
 */
import { checkCanary, type CanaryOptions } from './canary.js';
import type { EvidenceChange, EvidenceSignal, SeriesRole } from './evidence.js';
import type { Check, Fact, Hypothesis, HypothesisKind } from './hypothesis.js';
import { findLogNovelties } from './log-novelty.js';
import { confidencesFromScores, type MetricScore, type RootCauseRanking } from './rca.js';
import { fitAt, lowerBound, quantileOf, robustLinearFit, stepChange, type LinearFit } from './series-stats.js';

// ---------------------------------------------------------------------------------------------
// The prepared context

/** One series, cleaned: finite values within the window, ascending unique times. */
export interface PreparedSeries {
  readonly id: string;
  readonly query: string;
  readonly service: string | null;
  readonly role: SeriesRole;
  readonly times: Float64Array;
  readonly values: Float64Array;
  /** Index of the first point at or after the split time (the onset). */
  readonly split: number;
  /** The highest anomaly score (`anomaly.ts`) from the split on, and when; null when the series was too short to score. */
  readonly anomaly: { readonly score: number; readonly atMs: number } | null;
}

/** One log line with its service and the evidence it came from. */
export interface PreparedLogLine {
  readonly at: number;
  readonly level?: string;
  readonly message: string;
  readonly service: string | null;
  readonly evidenceId: string;
}

/** A service's canary and baseline latencies. */
export interface LatencyGroups {
  readonly canary: readonly (number | null)[];
  readonly baseline: readonly (number | null)[];
  readonly canaryIds: readonly string[];
  readonly baselineIds: readonly string[];
}

/** The thresholds of the signatures a caller may change; every one has a default. */
export interface SignatureOptions {
  /** How long before the onset a change is considered (change correlation). @default 3_600_000 (60 min) */
  readonly changeWindowMs?: number;
  /** Time constant of the change proximity score `e^(−(onset − at) / τ)`. @default 900_000 (15 min) */
  readonly changeProximityMs?: number;
  /** How far ahead the load forecast looks for a capacity crossing. @default 3_600_000 (60 min) */
  readonly forecastHorizonMs?: number;
  /** The trailing part of the window the load trend is fitted on. @default 1_800_000 (30 min) */
  readonly forecastFitMs?: number;
  /** Thresholds of the canary check (`canary.ts`). @default { alpha: 0.01, maxP99Ratio: 1.2, minSamples: 100 } */
  readonly canary?: CanaryOptions;
}

/** {@link SignatureOptions} with the defaults applied. */
export interface ResolvedSignatureOptions {
  readonly changeWindowMs: number;
  readonly changeProximityMs: number;
  readonly forecastHorizonMs: number;
  readonly forecastFitMs: number;
  readonly canary: CanaryOptions;
}

/** Everything the signatures read. Built by `engine.ts`. */
export interface DiagnosisContext {
  readonly window: { readonly startMs: number; readonly endMs: number };
  /** The onset, or null when neither given nor found. */
  readonly onsetMs: number | null;
  /** Baseline `[startMs, splitMs)` and incident `[splitMs, endMs]`: the onset, or the window's midpoint when there is none. */
  readonly splitMs: number;
  /** Ascending by evidence ID. */
  readonly series: readonly PreparedSeries[];
  /** Ascending by time, then evidence ID. */
  readonly changes: readonly EvidenceChange[];
  /** Ascending by time (stable). */
  readonly logs: readonly PreparedLogLine[];
  readonly latency: ReadonlyMap<string, LatencyGroups>;
  readonly signals: readonly EvidenceSignal[];
  /** The root-cause ranking over every series with a service (metric = evidence ID), or null without an onset or series. */
  readonly rca: RootCauseRanking | null;
  /** Every scored metric of the ranking, by evidence ID. */
  readonly metricScores: ReadonlyMap<string, MetricScore>;
  readonly options: ResolvedSignatureOptions;
}

/** A hypothesis before calibration: everything but its ID and its calibrated confidence. */
export type Candidate = Omit<Hypothesis, 'id' | 'confidence'>;

/** What one signature did: its candidates, the services it examined, and what it could not check. */
export interface SignatureResult {
  readonly kind: Exclude<HypothesisKind, 'unknown'>;
  readonly candidates: readonly Candidate[];
  readonly examined: readonly string[];
  readonly gaps: readonly string[];
}

/** A pattern signature emits a candidate only at or above this strength. */
export const MIN_STRENGTH = 0.1;

// ---------------------------------------------------------------------------------------------
// Helpers

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** Clamps to 0..1; NaN becomes 0. */
export function unit(value: number): number {
  return value > 0 ? (value < 1 ? value : 1) : 0;
}

/** Rounds to 4 decimals (strengths and components), so tiny floating-point noise never reorders hypotheses. */
export function round4(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 10_000) / 10_000 : 0;
}

/** A number in 3 significant digits for sentences. */
export function num(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6 || magnitude < 1e-3) return value.toExponential(2);
  return String(Number(value.toPrecision(3)));
}

const pct = (ratio: number): string => `${num(ratio * 100)} %`;
const megabytes = (bytes: number): string => `${num(bytes / 1e6)} MB`;
const minutes = (ms: number): string => `${num(ms / MINUTE)} min`;

/** An ISO 8601 time for sentences (`2026-03-25T10:20:00Z`), or the number when out of Date's range. */
export function iso(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().replace('.000Z', 'Z') : `${ms} ms`;
}

/** Untrusted text quoted and cut to `max` characters. */
function quote(text: string, max = 160): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** `values` with non-finite entries dropped, the rest rounded: to 6 significant digits below 1e6, to an integer above (times in ms, bytes). */
export function figures(values: Record<string, number | null | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== null && value !== undefined && Number.isFinite(value)) out[key] = Math.abs(value) >= 1e6 ? Math.round(value) : Number(value.toPrecision(6));
  }
  return out;
}

function fact(statement: string, evidence: readonly string[], values: Record<string, number | null | undefined> = {}): Fact {
  return { statement, evidence: [...new Set(evidence)], values: figures(values) };
}

/** The series of `service` with `role` (and at least one point), ascending by evidence ID. */
function seriesOf(context: DiagnosisContext, service: string, roles: readonly SeriesRole[]): PreparedSeries[] {
  return context.series.filter((one) => one.service === service && roles.includes(one.role) && one.times.length > 0);
}

/** Services that have a series of one of `roles`, sorted. */
function servicesWith(context: DiagnosisContext, roles: readonly SeriesRole[]): string[] {
  return [...new Set(context.series.filter((one) => one.service !== null && roles.includes(one.role) && one.times.length > 0).map((one) => one.service as string))].sort();
}

/** The log lines of `service`. */
function linesOf(context: DiagnosisContext, service: string): PreparedLogLine[] {
  return context.logs.filter((line) => line.service === service);
}

/** Median of the baseline part `[0, split)` and of the incident part `[split, n)` of a series (NaN when a part is empty). */
function medians(one: PreparedSeries): { baseline: number; incident: number } {
  return { baseline: quantileOf(one.values, 0.5, 0, one.split), incident: quantileOf(one.values, 0.5, one.split, one.values.length) };
}

/** Relative change of the incident median over the baseline median; 0 when either is missing or the baseline is not positive. */
function relativeRise(one: PreparedSeries): number {
  const { baseline, incident } = medians(one);
  return baseline > 0 && Number.isFinite(incident) ? incident / baseline - 1 : 0;
}

/** Facts for the anomalous series of `service` (highest anomaly score from the onset at least 0.5), highest first, at most 3. */
function anomalyFacts(context: DiagnosisContext, service: string): Fact[] {
  return context.series
    .filter((one) => one.service === service && one.anomaly !== null && one.anomaly.score >= 0.5)
    .sort((a, b) => (b.anomaly?.score ?? 0) - (a.anomaly?.score ?? 0) || (a.id < b.id ? -1 : 1))
    .slice(0, 3)
    .map((one) => fact(`${one.role} series ${one.id} is anomalous since the onset: anomaly score ${num(one.anomaly?.score ?? 0)} at ${iso(one.anomaly?.atMs ?? 0)}`, [one.id], { anomalyScore: one.anomaly?.score, atMs: one.anomaly?.atMs }));
}

/** The service a signal is about: its `service` label, else `app`, else `job`. */
export function signalService(signal: EvidenceSignal): string | null {
  return signal.labels.service ?? signal.labels.app ?? signal.labels.job ?? null;
}

/** Facts for the firing signals that name `service`. */
function signalFacts(context: DiagnosisContext, service: string): Fact[] {
  return context.signals
    .filter((signal) => signal.status === 'firing' && signalService(signal) === service)
    .slice(0, 3)
    .map((signal) => fact(`alert ${quote(signal.name, 80)} is firing for ${service} since ${iso(signal.startsAt)}`, [signal.evidence.id], { startsAt: signal.startsAt }));
}

function candidate(input: Omit<Candidate, 'strength' | 'components' | 'facts'> & { readonly weights: Readonly<Record<string, number>>; readonly components: Readonly<Record<string, number>>; readonly facts: readonly Fact[] }, context: DiagnosisContext): Candidate {
  let strength = 0;
  const components: Record<string, number> = {};
  for (const [name, weight] of Object.entries(input.weights)) {
    const value = round4(unit(input.components[name] ?? 0));
    components[name] = value;
    strength += weight * value;
  }
  const context_ = input.service === null ? [] : [...anomalyFacts(context, input.service), ...signalFacts(context, input.service)];
  const known = new Set(input.facts.map((one) => one.statement));
  return {
    kind: input.kind,
    service: input.service,
    summary: input.summary,
    strength: round4(unit(strength)),
    components,
    facts: [...input.facts, ...context_.filter((one) => !known.has(one.statement))],
    assumptions: input.assumptions,
    missingEvidence: input.missingEvidence,
    checks: input.checks,
    remediation: input.remediation,
  };
}

// ---------------------------------------------------------------------------------------------
// Memory leak

/** Out-of-memory lines: JVM, Node.js, Python, Go and the Linux OOM killer. */
export const OOM_PATTERN = /OutOfMemoryError|out of memory|\bOOM(?:Killed)?\b|oom-kill|heap space|JavaScript heap|Cannot allocate memory|memory limit exceeded|MemoryError\b/i;

/** The least-squares trend of a memory series and how leak-like it is. */
export interface LeakTrend {
  readonly full: LinearFit;
  readonly baseline: LinearFit | null;
  readonly incident: LinearFit | null;
  /** Growth over the window relative to the mean level (slope × duration / mean). */
  readonly growth: number;
  /** 0..1: both the baseline and the incident part grow at least half as fast as the whole window. */
  readonly consistency: number;
  /** 0..1: R² × consistency × min(1, growth / 0.2). */
  readonly trend: number;
}

/**
 * How leak-like a memory series is: a least-squares line over the whole window (R², growth), and
 * separate lines over the baseline and incident parts, which must both grow (a step at the onset, a
 * memory hog, has a flat baseline; a cache warming up has a flat incident part). Null with fewer than
 * 10 points.
 */
export function leakTrend(one: PreparedSeries): LeakTrend | null {
  const n = one.times.length;
  if (n < 10) return null;
  const full = robustLinearFit(one.times, one.values);
  if (full === null) return null;
  const baseline = one.split >= 5 ? robustLinearFit(one.times, one.values, 0, one.split) : null;
  const incident = n - one.split >= 5 ? robustLinearFit(one.times, one.values, one.split, n) : null;
  const duration = (one.times[n - 1] as number) - (one.times[0] as number);
  const growth = (full.slope * duration) / Math.max(Math.abs(full.level), 1e-9);
  const parts = [baseline, incident].filter((part): part is LinearFit => part !== null);
  const slowest = parts.length === 0 ? 0 : Math.min(...parts.map((part) => part.slope));
  // Without a baseline (fewer than 5 points before the onset: a process that started at or after it,
  // such as a canary or a fresh release) the growth is not shown to hold across the onset, and a
  // young process's heap grows while it warms up: at most half the consistency.
  const consistency = (full.slope > 0 ? unit(slowest / (0.5 * full.slope)) : 0) * (baseline === null ? 0.5 : 1);
  return { full, baseline, incident, growth, consistency, trend: unit(full.r2 * consistency * unit(growth / 0.2)) };
}

/**
 * True when `one` covers at least the second half of the time before the onset: a series that starts
 * later belongs to a process started shortly before or after the onset (a canary, a fresh release),
 * whose heap and GC warm up; its growth says nothing about a leak.
 */
export function coversBaseline(one: PreparedSeries, context: DiagnosisContext): boolean {
  const first = one.times[0];
  return first !== undefined && first <= context.window.startMs + 0.5 * (context.splitMs - context.window.startMs);
}

/**
 * **Memory leak** of a service: its heap (or, without one, its process memory) grows steadily over
 * the whole window, before and after the onset; GC pauses lengthen; out-of-memory errors appear.
 *
 * Components: `trend` = R² × consistency × min(1, growth / 20 %) of the least-squares line (halved
 * when the service's request rate rose at least half as much: growth with load is not a leak); only
 * series covering the second half of the time before the onset count ({@link coversBaseline});
 * `gc` = min(1, incident/baseline median GC pause − 1); `oom` = 1 when an out-of-memory line was
 * logged. Strength = 0.55 trend + 0.25 gc + 0.20 oom. Fires at trend >= 0.2 or an OOM line.
 */
export function memoryLeakSignature(context: DiagnosisContext): SignatureResult & { readonly trending: ReadonlySet<string> } {
  const candidates: Candidate[] = [];
  const gaps: string[] = [];
  const trending = new Set<string>();
  const services = [...new Set([...servicesWith(context, ['heap_bytes', 'memory']), ...context.logs.filter((line) => line.service !== null && OOM_PATTERN.test(line.message)).map((line) => line.service as string)])].sort();
  for (const service of services) {
    const heap = seriesOf(context, service, ['heap_bytes']);
    const memory = heap.length > 0 ? heap : seriesOf(context, service, ['memory']);
    let best: { one: PreparedSeries; trend: LeakTrend } | null = null;
    for (const one of memory.filter((series) => coversBaseline(series, context))) {
      const trend = leakTrend(one);
      if (trend !== null && (best === null || trend.trend > best.trend.trend)) best = { one, trend };
      if (trend !== null && trend.trend >= 0.3) trending.add(one.id);
    }
    const facts: Fact[] = [];
    const assumptions: string[] = ['memory that grows steadily across the onset is not being reclaimed: the least-squares line assumes linear growth over the window'];
    const missing: string[] = [];
    let trendComponent = 0;
    if (best !== null) {
      const { one, trend } = best;
      const perHour = trend.full.slope * HOUR;
      const bytes = one.role === 'heap_bytes' || one.role === 'memory';
      facts.push(
        fact(
          `${one.role} of ${service} grew ${pct(trend.growth)} over the window: slope ${bytes ? `${megabytes(perHour)}/h` : `${num(perHour)}/h`}, R² ${num(trend.full.r2)} (least squares over ${trend.full.points} points)`,
          [one.id],
          { slopePerHour: perHour, r2: trend.full.r2, growth: trend.growth, points: trend.full.points },
        ),
      );
      facts.push(
        fact(
          `the growth ${trend.consistency >= 1 ? 'holds' : trend.consistency > 0 ? 'holds only partly' : 'does not hold'} on both sides of the onset: slope ${num((trend.baseline?.slope ?? Number.NaN) * HOUR)}/h before, ${num((trend.incident?.slope ?? Number.NaN) * HOUR)}/h after`,
          [one.id],
          { baselineSlopePerHour: (trend.baseline?.slope ?? Number.NaN) * HOUR, incidentSlopePerHour: (trend.incident?.slope ?? Number.NaN) * HOUR, consistency: trend.consistency },
        ),
      );
      trendComponent = trend.trend;
      const rate = seriesOf(context, service, ['request_rate'])[0];
      const memoryRise = relativeRise(one);
      if (rate !== undefined) {
        const rateRise = relativeRise(rate);
        if (rateRise > 0.1 && rateRise >= 0.5 * memoryRise) {
          trendComponent *= 0.5;
          facts.push(fact(`the request rate of ${service} rose ${pct(rateRise)} while its memory rose ${pct(memoryRise)} (incident over baseline median): the growth may follow load`, [rate.id, one.id], { requestRateRise: rateRise, memoryRise }));
        }
      } else missing.push(`no request_rate series for ${service}: growth that follows load cannot be told apart from a leak`);
      // Requests waiting for a database connection hold their memory: a saturated pool explains growth.
      const pool = poolUtilisationAfterOnset(context, service);
      if (pool !== null && pool.utilisation >= 0.95) {
        trendComponent *= 0.5;
        facts.push(fact(`connections in use by ${service}: p90 ${pct(pool.utilisation)} of its pool after the onset: requests queued for a connection may explain the growth`, pool.evidence, { poolUtilisationAfterP90: pool.utilisation }));
      }
      if (heap.length === 0) {
        assumptions.push(`${service} has no heap series, so its process memory stands in for the heap`);
        missing.push(`no heap_bytes series for ${service}`);
      }
    } else missing.push(`no heap_bytes or memory series for ${service} with 10 points or more`);

    let gcComponent = 0;
    const gcSeries = seriesOf(context, service, ['gc_pause_seconds']);
    for (const one of gcSeries.filter((series) => coversBaseline(series, context))) {
      const { baseline, incident } = medians(one);
      if (one.split < 3 || one.values.length - one.split < 3) continue;
      const ratio = incident / Math.max(baseline, 1e-6);
      gcComponent = Math.max(gcComponent, unit(ratio - 1));
      facts.push(fact(`GC pause of ${service}: median ${num(incident)} s after the onset against ${num(baseline)} s before (×${num(ratio)})`, [one.id], { baselineMedian: baseline, incidentMedian: incident, ratio }));
    }
    if (gcSeries.length === 0) missing.push(`no gc_pause_seconds series for ${service}`);

    const oomLines = linesOf(context, service).filter((line) => OOM_PATTERN.test(line.message));
    const serviceLines = linesOf(context, service);
    if (oomLines.length > 0) {
      const first = oomLines[0] as PreparedLogLine;
      facts.push(fact(`${oomLines.length} out-of-memory log line(s) from ${service}, the first at ${iso(first.at)}: ${quote(first.message)}`, oomLines.map((line) => line.evidenceId), { lines: oomLines.length, firstAtMs: first.at }));
    } else if (serviceLines.length === 0) missing.push(`no logs for ${service}: out-of-memory errors could not be looked for`);

    if (!(trendComponent >= 0.2 || oomLines.length > 0)) continue;
    const heapSeries = best?.one;
    const checks: Check[] = [
      ...(heapSeries === undefined
        ? []
        : [{ description: `Where the memory of ${service} will be in 4 h at this rate (compare with its limit)`, query: `predict_linear((${heapSeries.query})[1h:], 4 * 3600)` }]),
      { description: `Whether the memory of ${service} drops after restarts and grows again (a leak restarts from the bottom), over the last days` },
      { description: `Which change introduced the growth: deploys of ${service} before the growth began` },
    ];
    const result = candidate(
      {
        kind: 'memory_leak',
        service,
        summary:
          best === null
            ? `${service} ran out of memory (out-of-memory errors logged); no memory series to show a leak`
            : `${service} is leaking memory: ${best.one.role} up ${pct(best.trend.growth)} over the window at ${best.one.role === 'heap_bytes' || best.one.role === 'memory' ? `${megabytes(best.trend.full.slope * HOUR)}/h` : `${num(best.trend.full.slope * HOUR)}/h`} (R² ${num(best.trend.full.r2)})`,
        weights: { trend: 0.55, gc: 0.25, oom: 0.2 },
        components: { trend: trendComponent, gc: gcComponent, oom: oomLines.length > 0 ? 1 : 0 },
        facts,
        assumptions,
        missingEvidence: missing,
        checks,
        remediation: {
          action: 'restart',
          target: service,
          note: 'A rolling restart frees the memory for a while; the leak itself needs a fix (or a rollback of the change that introduced it).',
          parameters: figures({ slopeBytesPerHour: best === null ? null : best.trend.full.slope * HOUR }),
        },
      },
      context,
    );
    if (result.strength >= MIN_STRENGTH) candidates.push(result);
  }
  if (services.length === 0) gaps.push('memory_leak: no heap_bytes or memory series, and no out-of-memory log lines');
  return { kind: 'memory_leak', candidates, examined: services, gaps, trending };
}

// ---------------------------------------------------------------------------------------------
// Bad deploy (change correlation + error step)

/** The proximity score of a change at `at` to the onset: `e^(−(onset − at) / τ)`, 1 for a change up to 2 min after the onset. */
export function changeProximity(at: number, onsetMs: number, proximityMs: number): number {
  return at >= onsetMs ? 1 : Math.exp(-(onsetMs - at) / proximityMs);
}

/** A change may follow the onset by this much (clocks, scrape intervals) and still count. */
const CHANGE_GRACE_MS = 2 * MINUTE;

/** The error rate's step after a change: its size and how well it lines up with the change. */
function errorStep(one: PreparedSeries, change: EvidenceChange, context: DiagnosisContext): { component: number; fact: Fact } | null {
  const from = lowerBound(one.times, change.at - context.options.changeWindowMs);
  const times = one.times.subarray(from);
  const values = one.values.subarray(from);
  const step = stepChange(times, values, 3);
  if (step === null) return null;
  const ratio = step.meanBefore > 0 ? step.meanAfter / step.meanBefore : step.meanAfter > 0 ? Infinity : 1;
  const magnitude = step.meanAfter > step.meanBefore ? unit((step.z - 3) / 7) * unit((ratio - 1.2) / 0.8) : 0;
  const lag = step.atMs - change.at;
  const alignment = lag < -CHANGE_GRACE_MS ? 0 : lag <= 15 * MINUTE ? 1 : Math.exp(-(lag - 15 * MINUTE) / (15 * MINUTE));
  const statement =
    step.meanAfter > step.meanBefore
      ? `error rate of ${change.service} stepped from ${num(step.meanBefore)} to ${num(step.meanAfter)} (×${num(ratio)}, ${num(step.z)} robust standard deviations) at ${iso(step.atMs)}, ${lag >= 0 ? `${minutes(lag)} after` : `${minutes(-lag)} before`} the change`
      : `error rate of ${change.service} shows no rise after the change (best step: ${num(step.meanBefore)} to ${num(step.meanAfter)} at ${iso(step.atMs)})`;
  return { component: magnitude * alignment, fact: fact(statement, [one.id], { meanBefore: step.meanBefore, meanAfter: step.meanAfter, ratio: Number.isFinite(ratio) ? ratio : null, z: step.z, stepAtMs: step.atMs, lagMs: lag, alignment }) };
}

/**
 * **Bad deploy** (error-rate spike after a deployment), with change correlation: a change of the
 * service within `changeWindowMs` before the onset (up to 2 min after), scored by proximity
 * `e^(−(onset − at) / τ)`; the best single step of its error rate (two-segment mean fit) rising
 * at least 3 robust standard deviations and 1.2× and starting no earlier than 2 min before the
 * change; error-looking log templates new since the change (`log-novelty.ts`).
 *
 * Components: `proximity`; `errorStep` = min(1, (z − 3) / 7) × min(1, (ratio − 1.2) / 0.8) ×
 * alignment (1 when the step starts within 15 min after the change, decaying after);
 * `newErrorLogs` = min(1, new error templates / 2). Strength = 0.25 proximity + 0.5 errorStep +
 * 0.25 newErrorLogs. Fires when the error evidence shows a rise, or when the service has no error
 * series and no logs (then only proximity counts, and the gap is listed); error evidence that shows
 * no rise refutes it.
 */
export function badDeploySignature(context: DiagnosisContext): SignatureResult {
  const candidates: Candidate[] = [];
  const gaps: string[] = [];
  const { onsetMs, options } = context;
  if (onsetMs === null) return { kind: 'bad_deploy', candidates, examined: [], gaps: ['bad_deploy: no onset, so changes cannot be correlated with it'] };
  const recent = context.changes.filter((change) => change.at >= onsetMs - options.changeWindowMs && change.at <= onsetMs + CHANGE_GRACE_MS);
  if (context.changes.length === 0) gaps.push('bad_deploy: no changes in the bundle (no change feed, or nothing changed)');
  const examined = [...new Set(recent.map((change) => change.service))].sort();
  for (const service of examined) {
    let best: Candidate | null = null;
    const errorSeries = seriesOf(context, service, ['error_rate']).filter((one) => one.times.length >= 6);
    const lines = linesOf(context, service);
    for (const change of recent.filter((one) => one.service === service)) {
      const proximity = changeProximity(change.at, onsetMs, options.changeProximityMs);
      const facts: Fact[] = [
        fact(
          `${change.kind} of ${service}${change.ref === undefined ? '' : ` (${quote(change.ref, 60)})`} at ${iso(change.at)}, ${change.at <= onsetMs ? `${minutes(onsetMs - change.at)} before` : `${minutes(change.at - onsetMs)} after`} the onset: ${quote(change.summary)}`,
          [change.evidence.id],
          { changeAtMs: change.at, minutesBeforeOnset: (onsetMs - change.at) / MINUTE, proximity },
        ),
      ];
      const missing: string[] = [];
      let stepComponent = 0;
      for (const one of errorSeries) {
        const step = errorStep(one, change, context);
        if (step === null) continue;
        facts.push(step.fact);
        stepComponent = Math.max(stepComponent, step.component);
      }
      if (errorSeries.length === 0) missing.push(`no error_rate series for ${service}`);
      let newErrors = 0;
      if (lines.length > 0 && context.window.startMs < change.at && change.at < context.window.endMs) {
        const report = findLogNovelties(
          lines.map((line) => ({ time: line.at, message: line.message, ...(line.level === undefined ? {} : { level: line.level }) })),
          { baselineStart: context.window.startMs, onset: change.at, end: context.window.endMs + 1 },
        );
        const novel = report.findings.filter((finding) => finding.change === 'new' && finding.looksLikeError);
        newErrors = novel.length;
        const ids = [...new Set(lines.map((line) => line.evidenceId))];
        if (novel.length > 0) {
          facts.push(
            fact(
              `${novel.length} error-looking log template(s) of ${service} new since the change, e.g. ${quote(novel[0]?.template ?? '')} (${novel[0]?.incidentCount ?? 0} lines from ${iso(novel[0]?.firstSeen ?? 0)})`,
              ids,
              { newErrorTemplates: novel.length, firstSeenMs: novel[0]?.firstSeen },
            ),
          );
        } else facts.push(fact(`no error-looking log template of ${service} is new since the change (${report.incidentLines} lines after it)`, ids, { linesAfter: report.incidentLines }));
      } else if (lines.length === 0) missing.push(`no logs for ${service}: new error templates since the change could not be looked for`);
      const noErrorEvidence = errorSeries.length === 0 && lines.length === 0;
      if (!(stepComponent > 0 || newErrors > 0 || noErrorEvidence)) continue;
      const assumptions = ['the change is the only cause near the onset; other changes and outside events in the same minutes were not ruled out'];
      if (noErrorEvidence) assumptions.push(`nothing about the errors of ${service} was available, so only the change's timing supports this`);
      const result = candidate(
        {
          kind: 'bad_deploy',
          service,
          summary: `${change.kind} of ${service}${change.ref === undefined ? '' : ` ${quote(change.ref, 60)}`} ${minutes(Math.abs(onsetMs - change.at))} ${change.at <= onsetMs ? 'before' : 'after'} the onset ${stepComponent > 0 ? 'was followed by a step up in its error rate' : newErrors > 0 ? 'was followed by new error log templates' : 'is the nearest change; its effect on errors is unknown'}`,
          weights: { proximity: 0.25, errorStep: 0.5, newErrorLogs: 0.25 },
          components: { proximity, errorStep: stepComponent, newErrorLogs: unit(newErrors / 2) },
          facts,
          assumptions,
          missingEvidence: missing,
          checks: [
            { description: `The diff of the change${change.ref === undefined ? '' : ` ${change.ref}`} (read-only)`, ...(change.ref === undefined ? {} : { query: `git show --stat ${change.ref}` }) },
            { description: `Error rate of ${service} by version: does only the new version fail?` },
          ],
          remediation: {
            action: 'rollback',
            target: service,
            note: change.kind === 'config' || change.kind === 'feature_flag' ? 'Revert the change to its previous value.' : 'Roll back to the version before the change.',
            parameters: { changeEvidenceId: change.evidence.id, ...(change.ref === undefined ? {} : { changeRef: change.ref }), changeAtMs: change.at },
          },
        },
        context,
      );
      if (result.strength >= MIN_STRENGTH && (best === null || result.strength > best.strength)) best = result;
    }
    if (best !== null) candidates.push(best);
  }
  return { kind: 'bad_deploy', candidates, examined, gaps };
}

// ---------------------------------------------------------------------------------------------
// Connection-pool exhaustion

/**
 * The p90 of a service's connections in use after the onset over its pool size (the median of its
 * `pool_max` series), with the series it read; null without both series or points after the onset.
 */
export function poolUtilisationAfterOnset(context: DiagnosisContext, service: string): { utilisation: number; evidence: string[] } | null {
  const max = seriesOf(context, service, ['pool_max']);
  const sizes = max.map((one) => quantileOf(one.values, 0.5)).filter((value) => value > 0);
  if (sizes.length === 0) return null;
  const poolMax = Math.max(...sizes);
  let best: { utilisation: number; evidence: string[] } | null = null;
  for (const one of seriesOf(context, service, ['pool_active'])) {
    if (one.values.length - one.split < 2) continue;
    const utilisation = quantileOf(one.values, 0.9, one.split, one.values.length) / poolMax;
    if (best === null || utilisation > best.utilisation) best = { utilisation, evidence: [one.id, ...max.map((m) => m.id)] };
  }
  return best;
}

/** Lines that say a connection pool is out of connections (HikariCP, pgx, SQLAlchemy, node-postgres, PostgreSQL itself). */
export const POOL_PATTERN =
  /pool (?:is )?(?:exhausted|full)|(?:timeout|timed out) (?:waiting for|acquiring|while acquiring) (?:a |an idle )?connection|could not (?:get|obtain|acquire) (?:a )?(?:JDBC |database )?connection|too many (?:clients|connections)|remaining connection slots|Connection is not available, request timed out|QueuePool limit/i;

/**
 * **Connection-pool exhaustion** of a service: connections in use near the pool's size, time
 * waiting for a connection rising, long-running queries holding connections, and "pool exhausted"
 * errors in the logs.
 *
 * Components: `saturation` = min(1, (p90 of active / max after the onset − 0.75) / 0.2) (1 at 95 %);
 * `rise` = min(1, (utilisation after − median before) / 0.3); `wait` = min(1, log10(median wait
 * after / before) / 1.5) when the wait after is at least 10 ms; `longQueries` = min(1, (median
 * after − before) / 5); `logs` = 1 when pool errors after the onset are at least twice as frequent
 * as before. Strength = 0.35 saturation + 0.15 rise + 0.25 wait + 0.10 longQueries + 0.15 logs.
 */
export function poolExhaustionSignature(context: DiagnosisContext): SignatureResult {
  const candidates: Candidate[] = [];
  const gaps: string[] = [];
  const poolLineServices = context.logs.filter((line) => line.service !== null && POOL_PATTERN.test(line.message)).map((line) => line.service as string);
  const services = [...new Set([...servicesWith(context, ['pool_active', 'pool_max', 'pool_wait_seconds', 'long_queries']), ...poolLineServices])].sort();
  if (services.length === 0) gaps.push('pool_exhaustion: no pool_active, pool_max, pool_wait_seconds or long_queries series and no pool errors in the logs');
  for (const service of services) {
    const facts: Fact[] = [];
    const missing: string[] = [];
    const active = seriesOf(context, service, ['pool_active']);
    const max = seriesOf(context, service, ['pool_max']);
    let saturation = 0;
    let rise = 0;
    let poolMax: number | null = null;
    if (max.length > 0) {
      const sizes = max.map((one) => quantileOf(one.values, 0.5)).filter((value) => value > 0);
      poolMax = sizes.length > 0 ? Math.max(...sizes) : null;
    }
    if (active.length > 0 && poolMax !== null) {
      for (const one of active) {
        if (one.values.length - one.split < 2) continue;
        const after = quantileOf(one.values, 0.9, one.split, one.values.length) / poolMax;
        const before = one.split > 0 ? quantileOf(one.values, 0.5, 0, one.split) / poolMax : after;
        const s = unit((after - 0.75) / 0.2);
        if (s >= saturation) {
          saturation = s;
          rise = unit((after - before) / 0.3);
        }
        facts.push(fact(`connections in use by ${service}: p90 ${pct(after)} of the pool (${num(poolMax)}) after the onset, median ${pct(before)} before`, [one.id, ...max.map((m) => m.id)], { utilisationAfterP90: after, utilisationBeforeMedian: before, poolMax }));
      }
    } else {
      if (active.length === 0) missing.push(`no pool_active series for ${service}`);
      if (poolMax === null) missing.push(`no pool_max series for ${service}: utilisation unknown`);
    }
    let wait = 0;
    const waits = seriesOf(context, service, ['pool_wait_seconds']);
    for (const one of waits) {
      const { baseline, incident } = medians(one);
      if (!Number.isFinite(baseline) || !Number.isFinite(incident)) continue;
      const ratio = incident / Math.max(baseline, 1e-4);
      wait = Math.max(wait, incident >= 0.01 ? unit(Math.log10(ratio) / 1.5) : 0);
      facts.push(fact(`time ${service} waits for a connection: median ${num(incident)} s after the onset, ${num(baseline)} s before (×${num(ratio)})`, [one.id], { baselineMedian: baseline, incidentMedian: incident, ratio }));
    }
    if (waits.length === 0) missing.push(`no pool_wait_seconds series for ${service}`);
    let longQueries = 0;
    const longs = seriesOf(context, service, ['long_queries']);
    for (const one of longs) {
      const { baseline, incident } = medians(one);
      if (!Number.isFinite(baseline) || !Number.isFinite(incident)) continue;
      longQueries = Math.max(longQueries, unit((incident - baseline) / 5));
      facts.push(fact(`long-running queries of ${service}: median ${num(incident)} after the onset, ${num(baseline)} before`, [one.id], { baselineMedian: baseline, incidentMedian: incident }));
    }
    if (longs.length === 0) missing.push(`no long_queries series for ${service}`);
    const lines = linesOf(context, service);
    const poolLines = lines.filter((line) => POOL_PATTERN.test(line.message));
    const split = context.splitMs;
    const before = poolLines.filter((line) => line.at < split).length;
    const after = poolLines.length - before;
    const baselineMinutes = Math.max(1e-9, (split - context.window.startMs) / MINUTE);
    const incidentMinutes = Math.max(1e-9, (context.window.endMs - split) / MINUTE);
    const logs = after > 0 && after / incidentMinutes >= (2 * before) / baselineMinutes ? 1 : 0;
    if (poolLines.length > 0) {
      const first = poolLines.find((line) => line.at >= split) ?? poolLines[0];
      facts.push(fact(`${after} pool error line(s) from ${service} after the onset (${before} before), e.g. ${quote(first?.message ?? '')}`, [...new Set(poolLines.map((line) => line.evidenceId))], { linesAfter: after, linesBefore: before }));
    } else if (lines.length === 0) missing.push(`no logs for ${service}: pool errors could not be looked for`);
    const result = candidate(
      {
        kind: 'pool_exhaustion',
        service,
        summary: `the database connection pool of ${service} is exhausted${poolMax === null ? '' : ` (size ${num(poolMax)})`}: ${[saturation > 0 ? 'connections near the pool size' : '', wait > 0 ? 'waits for a connection rising' : '', longQueries > 0 ? 'long-running queries' : '', logs > 0 ? 'pool errors logged' : ''].filter((part) => part !== '').join(', ') || 'weak signs'}`,
        weights: { saturation: 0.35, rise: 0.15, wait: 0.25, longQueries: 0.1, logs: 0.15 },
        components: { saturation, rise, wait, longQueries, logs },
        facts,
        assumptions: ['the pool, not the database, is the bottleneck: if long-running queries hold the connections, a larger pool moves the queue to the database'],
        missingEvidence: missing,
        checks: [
          { description: 'Long-running queries and what holds the connections (read-only)', query: "select pid, now() - query_start as running, state, wait_event_type, left(query, 120) from pg_stat_activity where state <> 'idle' order by running desc limit 20" },
          { description: 'Connections by application against the server limit (read-only)', query: 'select application_name, count(*) from pg_stat_activity group by 1 order by 2 desc; show max_connections' },
        ],
        remediation: {
          action: 'raise_pool_size',
          target: service,
          note: "Raise the pool size within the database's connection limit (max_connections less the other clients' pools); if long-running queries hold the connections, end those first.",
          parameters: figures({ currentPoolMax: poolMax, suggestedPoolMax: poolMax === null ? null : Math.ceil(poolMax * 1.5) }),
        },
      },
      context,
    );
    if (result.strength >= MIN_STRENGTH && (saturation > 0 || wait > 0 || logs > 0)) candidates.push(result);
  }
  return { kind: 'pool_exhaustion', candidates, examined: services, gaps };
}

// ---------------------------------------------------------------------------------------------
// Canary regression

/**
 * **Canary regression**: the canary's latencies against the baseline's, by `checkCanary`
 * (two-sample Kolmogorov–Smirnov test and p99 ratio). Fires on its `regression` verdict.
 *
 * Components: `ks` = min(1, D / 0.25) when p < alpha and the canary is the slower side;
 * `p99` = min(1, (p99 ratio − 1.05) / 0.45) (1 at 1.5×). Strength = 0.5 ks + 0.5 p99.
 */
export function canaryRegressionSignature(context: DiagnosisContext): SignatureResult {
  const candidates: Candidate[] = [];
  const gaps: string[] = [];
  const examined = [...context.latency.keys()].sort();
  if (examined.length === 0) gaps.push('canary_regression: no canary or baseline latency samples');
  for (const service of examined) {
    const groups = context.latency.get(service) as LatencyGroups;
    const ids = [...groups.baselineIds, ...groups.canaryIds];
    if (groups.canaryIds.length === 0 || groups.baselineIds.length === 0) {
      gaps.push(`canary_regression: ${service} has ${groups.canaryIds.length === 0 ? 'no canary' : 'no baseline'} latency samples`);
      continue;
    }
    const check = checkCanary(groups.baseline, groups.canary, context.options.canary);
    if (check.verdict === 'not_enough_data') {
      gaps.push(`canary_regression: ${service}: ${check.reasons.join('; ')}`);
      continue;
    }
    if (check.verdict !== 'regression') continue;
    const ks = check.ks;
    const ksComponent = ks !== null && ks.pValue < check.options.alpha && check.canarySlower === true ? unit(ks.statistic / 0.25) : 0;
    const p99Component = check.p99Ratio === null ? 0 : unit((check.p99Ratio - 1.05) / 0.45);
    const facts: Fact[] = [
      fact(
        `canary of ${service} against its baseline: KS D = ${num(ks?.statistic ?? 0)}, p = ${num(ks?.pValue ?? 1)} (${ks?.method ?? 'n/a'}, ${check.canarySamples} canary and ${check.baselineSamples} baseline samples), the canary ${check.canarySlower === true ? 'slower' : 'not slower'}`,
        ids,
        { ksStatistic: ks?.statistic, pValue: ks?.pValue, canarySamples: check.canarySamples, baselineSamples: check.baselineSamples },
      ),
      fact(`p99 latency: canary ${num(check.canaryP99 ?? Number.NaN)}, baseline ${num(check.baselineP99 ?? Number.NaN)} (ratio ${num(check.p99Ratio ?? Number.NaN)})`, ids, { canaryP99: check.canaryP99, baselineP99: check.baselineP99, p99Ratio: check.p99Ratio }),
    ];
    const result = candidate(
      {
        kind: 'canary_regression',
        service,
        summary: `the canary of ${service} is slower than its baseline (${check.reasons.join('; ')})`,
        weights: { ks: 0.5, p99: 0.5 },
        components: { ks: ksComponent, p99: p99Component },
        facts,
        assumptions: ['the canary and the baseline serve comparable traffic over the same period (same endpoints, same mix)', 'the samples are independent latencies (the KS test assumes it; bucketed histograms make it conservative)'],
        missingEvidence: [],
        checks: [
          { description: `Error rate of the canary of ${service} against its baseline` },
          { description: 'Latency by endpoint for both, to see whether one path regressed' },
        ],
        remediation: {
          action: 'shift_canary_traffic_back',
          target: service,
          note: 'Send the canary share of the traffic back to the baseline version; keep the canary for investigation.',
          parameters: figures({ p99Ratio: check.p99Ratio, ksStatistic: ks?.statistic, pValue: ks?.pValue }),
        },
      },
      context,
    );
    if (result.strength >= MIN_STRENGTH) candidates.push(result);
  }
  return { kind: 'canary_regression', candidates, examined, gaps };
}

// ---------------------------------------------------------------------------------------------
// Load surge forecast

/** A request-rate forecast: the least-squares trend of the trailing window extrapolated. */
export interface LoadForecast {
  readonly fit: LinearFit;
  /** The fitted rate at the last point (requests per second). */
  readonly current: number;
  /** Relative growth over the fitted window. */
  readonly growth: number;
  /** The fitted rate at the end of the horizon. */
  readonly atHorizon: number;
  /** When the fitted rate reaches the capacity (ms), the last point's time when it already has, or null. */
  readonly crossingAtMs: number | null;
}

/** Fits the trailing `fitMs` of a request-rate series and extrapolates `horizonMs` ahead. Null with fewer than 6 points in the trailing window. */
export function forecastLoad(one: PreparedSeries, capacity: number | null, fitMs: number, horizonMs: number): LoadForecast | null {
  const n = one.times.length;
  if (n === 0) return null;
  const last = one.times[n - 1] as number;
  const from = lowerBound(one.times, last - fitMs);
  if (n - from < 6) return null;
  const fit = robustLinearFit(one.times, one.values, from, n);
  if (fit === null) return null;
  const start = fitAt(fit, fit.fromMs);
  const current = fitAt(fit, last);
  const growth = (current - start) / Math.max(Math.abs(start), 1e-9);
  let crossingAtMs: number | null = null;
  if (capacity !== null) {
    if (current >= capacity) crossingAtMs = last;
    else if (fit.slope > 0) crossingAtMs = last + (capacity - current) / fit.slope;
  }
  return { fit, current, growth, atHorizon: current + fit.slope * horizonMs, crossingAtMs };
}

/**
 * **Load surge forecast**: the request rate of a service rises along a straight line (least squares
 * over the trailing `forecastFitMs`) that reaches its `request_capacity` within
 * `forecastHorizonMs`.
 *
 * Components, with `quality` = min(1, (R² − 0.2) / 0.6): `crossing` = quality × (1 − 0.5 · time to
 * crossing / horizon) when the forecast crosses within the horizon (1 when the rate is at or over
 * capacity already); `growth` = quality × min(1, growth over the fitted window / 40 %);
 * `headroom` = min(1, (rate / capacity − 0.6) / 0.35). Strength = 0.45 crossing + 0.35 growth +
 * 0.20 headroom. Fires when the trend rises and growth >= 0.25 or a crossing is forecast.
 */
export function loadSurgeSignature(context: DiagnosisContext): SignatureResult {
  const candidates: Candidate[] = [];
  const gaps: string[] = [];
  const { forecastFitMs, forecastHorizonMs } = context.options;
  const services = servicesWith(context, ['request_rate']);
  if (services.length === 0) gaps.push('load_surge: no request_rate series');
  for (const service of services) {
    const capacitySeries = seriesOf(context, service, ['request_capacity']);
    let capacity: number | null = null;
    for (const one of capacitySeries) {
      const recent = quantileOf(one.values, 0.5, Math.max(0, one.values.length - 5), one.values.length);
      if (recent > 0) capacity = capacity === null ? recent : Math.min(capacity, recent);
    }
    let best: Candidate | null = null;
    for (const one of seriesOf(context, service, ['request_rate'])) {
      const forecast = forecastLoad(one, capacity, forecastFitMs, forecastHorizonMs);
      if (forecast === null || !(forecast.fit.slope > 0)) continue;
      const last = one.times[one.times.length - 1] as number;
      const quality = unit((forecast.fit.r2 - 0.2) / 0.6);
      const untilCrossing = forecast.crossingAtMs === null ? Infinity : forecast.crossingAtMs - last;
      const crossing = capacity !== null && forecast.current >= capacity ? 1 : untilCrossing <= forecastHorizonMs ? quality * (1 - (0.5 * untilCrossing) / forecastHorizonMs) : 0;
      const growth = quality * unit(forecast.growth / 0.4);
      const headroom = capacity === null ? 0 : unit((forecast.current / capacity - 0.6) / 0.35);
      if (!(growth >= 0.25 || crossing > 0)) continue;
      const ids = [one.id, ...capacitySeries.map((c) => c.id)];
      const facts: Fact[] = [
        fact(
          `request rate of ${service} rises ${num(forecast.fit.slope * MINUTE)}/s per minute (R² ${num(forecast.fit.r2)}, least squares over the last ${minutes(forecast.fit.toMs - forecast.fit.fromMs)}): ${pct(forecast.growth)} over that span, now ${num(forecast.current)}/s`,
          [one.id],
          { slopePerMinute: forecast.fit.slope * MINUTE, r2: forecast.fit.r2, growth: forecast.growth, currentRate: forecast.current },
        ),
        fact(
          `forecast in ${minutes(forecastHorizonMs)}: ${num(forecast.atHorizon)}/s${capacity === null ? '' : ` against a capacity of ${num(capacity)}/s; ${forecast.crossingAtMs === null ? 'no crossing forecast' : forecast.crossingAtMs <= last ? 'already at or over capacity' : `crossing at ${iso(forecast.crossingAtMs)} (in ${minutes(forecast.crossingAtMs - last)})`}`}`,
          ids,
          { forecastAtHorizon: forecast.atHorizon, horizonMs: forecastHorizonMs, capacity, crossingAtMs: forecast.crossingAtMs, utilisation: capacity === null ? null : forecast.current / capacity },
        ),
      ];
      const result = candidate(
        {
          kind: 'load_surge',
          service,
          summary:
            forecast.crossingAtMs !== null && untilCrossing <= forecastHorizonMs
              ? `the request rate of ${service} is surging and ${untilCrossing <= 0 ? 'is at or over' : `will cross its capacity ${num(capacity ?? 0)}/s at ${iso(forecast.crossingAtMs)} (in ${minutes(untilCrossing)}), per`} the least-squares trend`
              : `the request rate of ${service} is rising ${pct(forecast.growth)} over ${minutes(forecast.fit.toMs - forecast.fit.fromMs)}${capacity === null ? ' (capacity unknown)' : ', with no capacity crossing within the horizon'}`,
          weights: { crossing: 0.45, growth: 0.35, headroom: 0.2 },
          components: { crossing, growth, headroom },
          facts,
          assumptions: ['the recent trend continues linearly over the horizon', ...(capacity === null ? [] : ['the capacity series is the rate the service sustains today (same replicas, same mix of requests)'])],
          missingEvidence: capacity === null ? [`no request_capacity series for ${service}: no crossing can be forecast`] : [],
          checks: [
            { description: `Where the traffic of ${service} comes from (top clients, user agents, routes): a legitimate surge, a retry storm or abuse?` },
            { description: `Rate forecast for the next hour`, query: `predict_linear((${one.query})[30m:], 3600)` },
          ],
          remediation: {
            action: 'scale_out',
            target: service,
            note: 'Add replicas ahead of the crossing, within the autoscaler and quota limits; if the surge is a retry storm or abuse, rate-limit instead.',
            parameters: figures({ forecastAtHorizon: forecast.atHorizon, capacity, crossingAtMs: forecast.crossingAtMs, suggestedScaleFactor: capacity === null ? null : Math.ceil((Math.max(forecast.atHorizon, forecast.current) / capacity) * 1.2 * 10) / 10 }),
          },
        },
        context,
      );
      if (result.strength >= MIN_STRENGTH && (best === null || result.strength > best.strength)) best = result;
    }
    if (capacitySeries.length === 0) gaps.push(`load_surge: no request_capacity series for ${service}`);
    if (best !== null) candidates.push(best);
  }
  return { kind: 'load_surge', candidates, examined: services, gaps };
}

// ---------------------------------------------------------------------------------------------
// Resource saturation (root-cause ranking)

/** At most this many resource-saturation candidates, the strongest. */
const MAX_SATURATION_CANDIDATES = 3;

/**
 * **Resource saturation** of a service, from the root-cause ranking (`rca.ts`, BARO's robust score):
 * the service whose CPU or memory moved furthest beyond its normal range at the onset, and stayed
 * there. BARO's score is a maximum, which one scrape glitch can set; this signature reads the
 * sustained shift, the median after the onset in the same robust units, `(median after − normal
 * median) / normal IQR`. A memory series the leak signature found growing steadily is left to it.
 *
 * Components: `share` = the service's share of the sustained CPU and memory shifts
 * (`confidencesFromScores`, temperature 0.5); `magnitude` = min(1, log10(shift) / 2) (1 at 100
 * IQRs); `anomaly` = the highest anomaly score of that series since the onset; `rank` = the
 * service's confidence in the root-cause ranking over all its metrics. The whole is halved when the
 * service's request rate rose at least half as much as the resource (load, not a fault). Strength =
 * 0.35 share + 0.30 magnitude + 0.20 anomaly + 0.15 rank. Fires at a sustained shift of 3 or more.
 */
export function resourceSaturationSignature(context: DiagnosisContext, leakTrending: ReadonlySet<string>): SignatureResult {
  const candidates: Candidate[] = [];
  const gaps: string[] = [];
  if (context.rca === null) return { kind: 'resource_saturation', candidates, examined: [], gaps: [context.onsetMs === null ? 'resource_saturation: no onset, so no root-cause ranking' : 'resource_saturation: no series of any service to rank'] };
  const byService = new Map<string, { score: MetricScore; one: PreparedSeries; shift: number; after: number }>();
  for (const one of context.series) {
    if (one.service === null || (one.role !== 'cpu' && one.role !== 'memory' && one.role !== 'heap_bytes') || leakTrending.has(one.id)) continue;
    const score = context.metricScores.get(one.id);
    if (score === undefined) continue;
    const after = quantileOf(one.values, 0.5, one.split, one.values.length);
    const shift = (after - score.centre) / score.scale;
    if (!Number.isFinite(shift)) continue;
    const current = byService.get(one.service);
    if (current === undefined || shift > current.shift) byService.set(one.service, { score, one, shift, after });
  }
  const services = [...byService.keys()].sort();
  if (services.length === 0) gaps.push('resource_saturation: no cpu, memory or heap_bytes series could be scored');
  const shares = confidencesFromScores(services.map((service) => (byService.get(service) as { shift: number }).shift), 0.5);
  const rankOf = new Map(context.rca.hypotheses.map((hypothesis) => [hypothesis.service, hypothesis]));
  services.forEach((service, index) => {
    const { score, one, shift, after } = byService.get(service) as { score: MetricScore; one: PreparedSeries; shift: number; after: number };
    if (shift < 3) return;
    const share = shares[index] as number;
    const ranked = rankOf.get(service);
    const magnitude = unit(Math.log10(shift) / 2);
    const anomaly = one.anomaly?.score ?? 0;
    const resource = one.role === 'cpu' ? 'CPU' : 'memory';
    const facts: Fact[] = [
      fact(
        `${resource} of ${service} (${one.id}) held a median of ${num(after)} after the onset against a normal median of ${num(score.centre)}: ${num(shift)} × its normal spread (${score.scaleKind} ${num(score.scale)}); its peak was ${num(score.value)} at ${iso(score.atMs)} (BARO score ${num(score.score)})`,
        [one.id],
        { sustainedShift: shift, medianAfter: after, centre: score.centre, scale: score.scale, peak: score.value, peakAtMs: score.atMs, baroScore: score.score },
      ),
      fact(`${service} takes ${pct(share)} of the sustained CPU and memory shift among ${services.length} service(s), and is ranked ${ranked?.rank ?? '?'} of ${context.rca?.hypotheses.length ?? 0} by the root-cause ranking (confidence ${num(ranked?.confidence ?? 0)})`, [one.id, ...(ranked?.evidence.slice(0, 3).map((item) => item.metric) ?? [])], { share, rank: ranked?.rank, rankConfidence: ranked?.confidence }),
    ];
    let factor = 1;
    const rate = seriesOf(context, service, ['request_rate'])[0];
    const resourceRise = score.centre > 0 ? after / score.centre - 1 : 0;
    if (rate !== undefined) {
      const rateRise = relativeRise(rate);
      if (rateRise > 0.2 && rateRise >= 0.5 * resourceRise) {
        factor = 0.5;
        facts.push(fact(`the request rate of ${service} rose ${pct(rateRise)} (incident over baseline median) while its ${resource} rose ${pct(resourceRise)}: the load may explain it`, [rate.id, one.id], { requestRateRise: rateRise, resourceRise }));
      }
    }
    const result = candidate(
      {
        kind: 'resource_saturation',
        service,
        summary: `${service} is saturated on ${resource}: held ${num(shift)} × its normal spread above normal since the onset, the largest CPU/memory shift (${pct(share)} share)`,
        weights: { share: 0.35 * factor, magnitude: 0.3 * factor, anomaly: 0.2 * factor, rank: 0.15 * factor },
        components: { share, magnitude, anomaly, rank: ranked?.confidence ?? 0 },
        facts,
        assumptions: ['the service whose own resource moved furthest is the cause, not a victim (the ranking reads no call graph)'],
        missingEvidence: rate === undefined ? [`no request_rate series for ${service}: a rise with load cannot be ruled out`] : [],
        checks: [
          { description: `Top processes or threads of ${service} by ${resource} (read-only), to see what consumes it` },
          { description: `Whether the ${resource} limit of ${service} throttles it (CPU throttling, memory limit)` },
        ],
        remediation: {
          action: 'scale_out',
          target: service,
          note: `Add capacity to ${service} (replicas or limits) while the consumer of ${resource} is found; a runaway process may instead need a restart.`,
          parameters: figures({ sustainedShift: shift }),
        },
      },
      context,
    );
    if (result.strength >= MIN_STRENGTH) candidates.push(result);
  });
  candidates.sort((a, b) => b.strength - a.strength || ((a.service ?? '') < (b.service ?? '') ? -1 : 1));
  return { kind: 'resource_saturation', candidates: candidates.slice(0, MAX_SATURATION_CANDIDATES), examined: services, gaps };
}

// ---------------------------------------------------------------------------------------------
// Unknown

/** The four golden signals (Google SRE book, ch. 6) and the roles that stand for each. */
export const GOLDEN_SIGNALS: Readonly<Record<'latency' | 'traffic' | 'errors' | 'saturation', readonly SeriesRole[]>> = {
  latency: ['latency_p50', 'latency_p90', 'latency_p99'],
  traffic: ['request_rate'],
  errors: ['error_rate'],
  saturation: ['cpu', 'memory', 'heap_bytes', 'pool_active'],
};

/** Share of the four golden signals with at least one series of 10 points or more, 0..1. */
export function goldenCoverage(context: DiagnosisContext): { coverage: number; missing: string[] } {
  const missing = Object.entries(GOLDEN_SIGNALS)
    .filter(([, roles]) => !context.series.some((one) => roles.includes(one.role) && one.times.length >= 10))
    .map(([name]) => name);
  return { coverage: (4 - missing.length) / 4, missing };
}

/** Lines that look like errors, by template new since the onset (all services), at most 3. */
function novelErrorFacts(context: DiagnosisContext): Fact[] {
  const { onsetMs, window } = context;
  if (onsetMs === null || context.logs.length === 0 || !(window.startMs < onsetMs && onsetMs < window.endMs)) return [];
  const report = findLogNovelties(
    context.logs.map((line) => ({ time: line.at, message: line.message, ...(line.level === undefined ? {} : { level: line.level }) })),
    { baselineStart: window.startMs, onset: onsetMs, end: window.endMs + 1 },
    { limit: 3 },
  );
  const ids = [...new Set(context.logs.map((line) => line.evidenceId))];
  return report.findings
    .filter((finding) => finding.looksLikeError)
    .map((finding) => fact(`log template ${finding.change === 'new' ? 'new' : `risen ×${num(finding.rateRatio ?? 0)}`} since the onset: ${quote(finding.template)} (${finding.incidentCount} lines from ${iso(finding.firstSeen)})`, ids, { incidentLines: finding.incidentCount, firstSeenMs: finding.firstSeen }));
}

/**
 * **Unknown**: no known pattern explains the evidence, or there is not enough evidence to tell.
 * Its strength is `(1 − strongest pattern) × coverage`, where coverage is the share of the four
 * golden signals (latency, traffic, errors, saturation) with a series; the coverage is also a second
 * input of its calibration (`calibration.ts`), so with no evidence its confidence is the prior the
 * fit learnt from the blind training cases, not a certainty. Its facts are what was anomalous without a
 * pattern: anomalous series, firing alerts, error templates new since the onset, the ranking's top
 * service, changes near the onset.
 */
export function unknownCandidate(context: DiagnosisContext, results: readonly SignatureResult[]): Candidate {
  const strongest = Math.max(0, ...results.flatMap((result) => result.candidates.map((one) => one.strength)));
  const { coverage, missing } = goldenCoverage(context);
  const facts: Fact[] = [];
  const anomalous = context.series.filter((one) => one.anomaly !== null && one.anomaly.score >= 0.5).sort((a, b) => (b.anomaly?.score ?? 0) - (a.anomaly?.score ?? 0) || (a.id < b.id ? -1 : 1));
  for (const one of anomalous.slice(0, 5)) facts.push(fact(`${one.role} series ${one.id}${one.service === null ? '' : ` of ${one.service}`} is anomalous since the onset: score ${num(one.anomaly?.score ?? 0)} at ${iso(one.anomaly?.atMs ?? 0)}`, [one.id], { anomalyScore: one.anomaly?.score, atMs: one.anomaly?.atMs }));
  if (anomalous.length > 5) facts.push(fact(`${anomalous.length - 5} more series are anomalous since the onset`, anomalous.slice(5).map((one) => one.id), { series: anomalous.length - 5 }));
  for (const signal of context.signals.filter((one) => one.status === 'firing').slice(0, 3)) {
    facts.push(fact(`alert ${quote(signal.name, 80)}${signalService(signal) === null ? '' : ` for ${signalService(signal)}`} firing since ${iso(signal.startsAt)}`, [signal.evidence.id], { startsAt: signal.startsAt }));
  }
  facts.push(...novelErrorFacts(context));
  const top = context.rca?.hypotheses[0];
  if (top !== undefined) facts.push(fact(`the root-cause ranking puts ${top.service} first (score ${num(top.score)}, confidence ${num(top.confidence)})`, top.evidence.map((item) => item.metric), { score: top.score, confidence: top.confidence }));
  const onsetMs = context.onsetMs;
  if (onsetMs !== null) {
    for (const change of context.changes.filter((one) => one.at <= onsetMs + CHANGE_GRACE_MS && one.at >= onsetMs - context.options.changeWindowMs).slice(-3)) {
      facts.push(fact(`${change.kind} of ${change.service} at ${iso(change.at)}, ${minutes(onsetMs - change.at)} before the onset: ${quote(change.summary)}`, [change.evidence.id], { changeAtMs: change.at, proximity: changeProximity(change.at, onsetMs, context.options.changeProximityMs) }));
    }
  }
  const missingEvidence = [
    ...missing.map((name) => `no ${name} series (golden signal: ${GOLDEN_SIGNALS[name as keyof typeof GOLDEN_SIGNALS].join(', ')})`),
    ...(context.onsetMs === null ? ['no onset: neither given, nor a firing signal, nor a change point in the series'] : []),
    ...results.flatMap((result) => result.gaps),
  ];
  const empty = coverage === 0 && context.logs.length === 0 && context.changes.length === 0 && context.latency.size === 0;
  return {
    kind: 'unknown',
    service: null,
    summary: empty
      ? 'Not enough evidence to diagnose: no metric series of the golden signals, no logs, no changes'
      : strongest >= 0.5
        ? 'The cause may lie outside the known patterns'
        : `No known failure pattern matches the evidence${coverage < 1 ? ` (${missing.join(', ')} not covered)` : ''}`,
    strength: round4(unit((1 - strongest) * coverage)),
    components: { coverage: round4(coverage), strongestPattern: round4(strongest) },
    facts,
    assumptions: ['the known patterns are memory leak, bad deploy, connection-pool exhaustion, canary regression, load surge and resource saturation; anything else lands here'],
    missingEvidence,
    checks: [{ description: 'Read the anomalous series and the new error templates listed here with the service owners; widen the evidence window or add the missing golden signals' }],
    remediation: { action: 'escalate', target: null, note: 'No pattern to remediate: escalate to a person with this evidence.', parameters: {} },
  };
}
