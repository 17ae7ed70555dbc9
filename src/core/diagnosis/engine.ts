/**
 * The built-in, deterministic diagnosis engine: turns an evidence bundle into ranked hypotheses,
 * each with a calibrated confidence and its evidence kept apart as facts (citing evidence IDs),
 * assumptions and missing evidence, read-only checks and a remediation hint. No I/O, no randomness,
 * no LLM: the same bundle gives the same output, byte for byte, whatever the order of its items.
 *
 * The steps:
 * 1. The bundle is validated (`EvidenceBundleSchema`); items are put in evidence-ID order.
 * 2. The onset: the bundle's, else the earliest `startsAt` of its signals within the window, else a
 *    change point found by BARO's multivariate BOCPD (`change-point.ts`) over at most 12 series of
 *    the golden signals, bucketed to at most 200 rows; else none. An onset from the bundle or the
 *    signals followed by fewer than 3 golden-signal samples (an alert diagnosed as soon as it fires,
 *    after its `for` duration) gives way to a change point found before it.
 * 3. Each series is cleaned (finite values within the window, ascending unique times) and scored
 *    by the streaming anomaly detector (`anomaly.ts`), warm-up 75 % of its baseline points (30..300);
 *    the highest score from the onset on is kept.
 * 4. The services are ranked by BARO's robust score (`rca.ts`) over every series with a service.
 * 5. The signatures (`signatures.ts`): memory leak, bad deploy (change correlation), connection-pool
 *    exhaustion, canary regression, load surge forecast, resource saturation, and `unknown`.
 * 6. Each raw strength becomes a confidence by Platt scaling with the committed constants
 *    (`calibration.ts`); hypotheses are sorted by confidence (ties: strength, kind, service).
 *
 * @see docs/diagnosis.md, "Diagnosis engine", for the thresholds, their sources and the measured calibration.
 */
import { scoreSeries } from './anomaly.js';
import { DIAGNOSIS_CALIBRATION, calibratedConfidence, type DiagnosisCalibration } from './calibration.js';
import { resolveCanaryOptions } from './canary.js';
import { detectOnset } from './change-point.js';
import { parseEvidenceBundle, type EvidenceBundle, type EvidenceChange, type EvidenceSignal, type SeriesRole } from './evidence.js';
import { HYPOTHESIS_KINDS, type Hypothesis, type HypothesisKind } from './hypothesis.js';
import { rankRootCauses, type MetricScore, type MetricSeries } from './rca.js';
import { lowerBound } from './series-stats.js';
import {
  GOLDEN_SIGNALS,
  badDeploySignature,
  canaryRegressionSignature,
  loadSurgeSignature,
  memoryLeakSignature,
  poolExhaustionSignature,
  resourceSaturationSignature,
  round4,
  unknownCandidate,
  type Candidate,
  type DiagnosisContext,
  type PreparedLogLine,
  type PreparedSeries,
  type ResolvedSignatureOptions,
  type SignatureOptions,
  type SignatureResult,
} from './signatures.js';
import { InputError, type Issue } from '../errors.js';

/** Options of {@link diagnose}: the signatures' thresholds, the calibration and how many hypotheses to return. */
export interface DiagnosisOptions extends SignatureOptions {
  /** Most hypotheses returned, `unknown` included (it is always returned). @default 10 */
  readonly maxHypotheses?: number;
  /** The Platt constants per kind. @default DIAGNOSIS_CALIBRATION (the committed fit) */
  readonly calibration?: DiagnosisCalibration;
}

/** {@link DiagnosisOptions} with the defaults applied. */
export interface ResolvedDiagnosisOptions extends ResolvedSignatureOptions {
  readonly maxHypotheses: number;
  readonly calibration: DiagnosisCalibration;
}

/** How the onset was found. */
export type OnsetSource = 'bundle' | 'signals' | 'change_point' | 'none';

/** A series anomalous since the onset (highest anomaly score at least 0.5). */
export interface SeriesAnomaly {
  readonly evidence: string;
  readonly service: string | null;
  readonly role: SeriesRole;
  readonly score: number;
  readonly atMs: number;
}

/** What one signature examined and could not check. */
export interface SignatureCoverage {
  readonly kind: Exclude<HypothesisKind, 'unknown'>;
  /** Services it looked at. */
  readonly examined: readonly string[];
  /** What it could not check, and why. */
  readonly gaps: readonly string[];
}

/** The engine's answer for one bundle. */
export interface Diagnosis {
  /** The engine and the calibration it used, e.g. `interlock-builtin/1 (platt/scenarios-v1/...)`. */
  readonly engine: string;
  readonly onset: { readonly ms: number | null; readonly source: OnsetSource; readonly evidence: readonly string[] };
  /** Highest confidence first; `unknown` is always among them. */
  readonly hypotheses: readonly Hypothesis[];
  /** The root-cause ranking of the services (`rca.ts`), top 5; empty without an onset. */
  readonly ranking: ReadonlyArray<{ readonly service: string; readonly rank: number; readonly score: number; readonly confidence: number }>;
  readonly anomalies: readonly SeriesAnomaly[];
  readonly coverage: readonly SignatureCoverage[];
}

/** The engine's name and version in {@link Diagnosis.engine}. */
export const DIAGNOSIS_ENGINE = 'interlock-builtin/1';

const DEFAULT_OPTIONS = { changeWindowMs: 3_600_000, changeProximityMs: 900_000, forecastHorizonMs: 3_600_000, forecastFitMs: 1_800_000, maxHypotheses: 10 } as const;

/**
 * {@link DiagnosisOptions} with the defaults applied.
 *
 * @throws INPUT_INVALID naming each option that is not a positive number (`maxHypotheses` a positive integer) or a bad canary option.
 */
export function resolveDiagnosisOptions(options: DiagnosisOptions = {}): ResolvedDiagnosisOptions {
  const resolved = {
    changeWindowMs: options.changeWindowMs ?? DEFAULT_OPTIONS.changeWindowMs,
    changeProximityMs: options.changeProximityMs ?? DEFAULT_OPTIONS.changeProximityMs,
    forecastHorizonMs: options.forecastHorizonMs ?? DEFAULT_OPTIONS.forecastHorizonMs,
    forecastFitMs: options.forecastFitMs ?? DEFAULT_OPTIONS.forecastFitMs,
    maxHypotheses: options.maxHypotheses ?? DEFAULT_OPTIONS.maxHypotheses,
    calibration: options.calibration ?? DIAGNOSIS_CALIBRATION,
    canary: resolveCanaryOptions(options.canary),
  };
  const issues: Issue[] = [];
  for (const name of ['changeWindowMs', 'changeProximityMs', 'forecastHorizonMs', 'forecastFitMs'] as const) {
    if (!(Number.isFinite(resolved[name]) && resolved[name] > 0)) issues.push({ path: name, message: 'must be a positive number of ms', received: String(resolved[name]) });
  }
  if (!(Number.isInteger(resolved.maxHypotheses) && resolved.maxHypotheses >= 1)) issues.push({ path: 'maxHypotheses', message: 'must be an integer >= 1', received: String(resolved.maxHypotheses) });
  for (const kind of HYPOTHESIS_KINDS) {
    const parameters = resolved.calibration.parameters[kind] as { a: number; b: number } | undefined;
    if (parameters === undefined || !Number.isFinite(parameters.a) || !Number.isFinite(parameters.b)) issues.push({ path: `calibration.parameters.${kind}`, message: 'must have finite a and b' });
  }
  if (issues.length > 0) throw new InputError('INPUT_INVALID', `Invalid diagnosis options: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}.`, issues);
  return resolved;
}

const byId = <T extends { readonly evidence: { readonly id: string } }>(a: T, b: T): number => (a.evidence.id < b.evidence.id ? -1 : a.evidence.id > b.evidence.id ? 1 : 0);

/** Points of one series: finite values within the window, ascending by time; of equal times the last one wins. */
function cleanPoints(points: ReadonlyArray<readonly [number, number | null]>, window: EvidenceBundle['window']): { times: Float64Array; values: Float64Array } {
  const kept: Array<{ t: number; v: number; i: number }> = [];
  points.forEach(([t, v], i) => {
    if (v !== null && Number.isFinite(v) && Number.isFinite(t) && t >= window.startMs && t <= window.endMs) kept.push({ t, v, i });
  });
  kept.sort((a, b) => a.t - b.t || a.i - b.i);
  const times: number[] = [];
  const values: number[] = [];
  for (const point of kept) {
    if (times.length > 0 && times[times.length - 1] === point.t) values[values.length - 1] = point.v;
    else {
      times.push(point.t);
      values.push(point.v);
    }
  }
  return { times: Float64Array.from(times), values: Float64Array.from(values) };
}

/** Points scored for anomalies on either side of the split, at most. */
const ANOMALY_SPAN = 2000;

/** The highest anomaly score from the split on; null when fewer than 40 baseline points. */
function anomalyOf(times: Float64Array, values: Float64Array, split: number): { score: number; atMs: number } | null {
  if (split < 40 || split >= times.length) return null;
  const from = Math.max(0, split - ANOMALY_SPAN);
  const to = Math.min(times.length, split + ANOMALY_SPAN);
  const warmUpPoints = Math.min(300, Math.max(30, Math.floor(0.75 * (split - from))));
  const points = [];
  for (let index = from; index < to; index++) points.push({ t: times[index] as number, value: values[index] as number });
  const scores = scoreSeries(points, { warmUpPoints });
  let best = { score: 0, atMs: times[split] as number };
  for (let index = split - from; index < scores.length; index++) {
    if ((scores[index] as number) > best.score) best = { score: scores[index] as number, atMs: points[index]?.t ?? best.atMs };
  }
  return { score: round4(best.score), atMs: best.atMs };
}

/**
 * Fewest samples of a golden-signal series after an onset from the bundle or the signals for the
 * engine to keep it; with fewer, the onset is looked for by change-point detection before it.
 */
const MIN_POINTS_AFTER_ONSET = 3;

/** Most series and rows handed to the change-point detection when the onset must be found. */
const ONSET_MAX_SERIES = 12;
const ONSET_MAX_ROWS = 200;

/** The onset by BOCPD over the golden-signal series, bucketed to at most 200 rows (the mean per bucket). */
function changePointOnset(series: ReadonlyArray<{ id: string; role: SeriesRole; times: Float64Array; values: Float64Array }>, window: EvidenceBundle['window']): { ms: number; evidence: string[] } | null {
  const golden = new Set<SeriesRole>(Object.values(GOLDEN_SIGNALS).flat());
  const chosen = series.filter((one) => golden.has(one.role) && one.times.length >= 20).slice(0, ONSET_MAX_SERIES);
  if (chosen.length === 0) return null;
  const width = (window.endMs - window.startMs) / ONSET_MAX_ROWS;
  const input: MetricSeries[] = chosen.map((one) => {
    const sums = new Float64Array(ONSET_MAX_ROWS);
    const counts = new Float64Array(ONSET_MAX_ROWS);
    one.times.forEach((t, index) => {
      const row = Math.min(ONSET_MAX_ROWS - 1, Math.max(0, Math.floor((t - window.startMs) / width)));
      sums[row] = (sums[row] as number) + (one.values[index] as number);
      counts[row] = (counts[row] as number) + 1;
    });
    const timestamps: number[] = [];
    const values: number[] = [];
    for (let row = 0; row < ONSET_MAX_ROWS; row++) {
      if ((counts[row] as number) === 0) continue;
      timestamps.push(window.startMs + row * width);
      values.push((sums[row] as number) / (counts[row] as number));
    }
    return { service: null, metric: one.id, timestamps, values };
  });
  const detection = detectOnset(input);
  return detection.onsetMs === null ? null : { ms: detection.onsetMs, evidence: chosen.map((one) => one.id) };
}

/**
 * Diagnoses one incident from its evidence bundle: ranked hypotheses with calibrated confidences
 * (see the module documentation). Deterministic; missing evidence lowers confidences and is listed,
 * never an error; an empty bundle gives one `unknown` hypothesis.
 *
 * @throws INPUT_INVALID when the bundle does not satisfy `EvidenceBundleSchema` or an option is invalid.
 */
export function diagnose(input: EvidenceBundle, options: DiagnosisOptions = {}): Diagnosis {
  const resolved = resolveDiagnosisOptions(options);
  const bundle = parseEvidenceBundle(input);
  const { window } = bundle;

  const cleaned = [...bundle.series].sort(byId).map((one) => ({ one, ...cleanPoints(one.points, window) }));
  const signals: EvidenceSignal[] = [...bundle.signals].sort(byId);

  // The onset.
  let onset: Diagnosis['onset'] = { ms: null, source: 'none', evidence: [] };
  if (bundle.onsetMs !== null) onset = { ms: bundle.onsetMs, source: 'bundle', evidence: [] };
  else {
    const starts = signals.filter((signal) => signal.startsAt >= window.startMs && signal.startsAt <= window.endMs);
    if (starts.length > 0) {
      const earliest = Math.min(...starts.map((signal) => signal.startsAt));
      onset = { ms: earliest, source: 'signals', evidence: starts.filter((signal) => signal.startsAt === earliest).map((signal) => signal.evidence.id) };
    } else {
      const found = changePointOnset(cleaned.map(({ one, times, values }) => ({ id: one.evidence.id, role: one.role, times, values })), window);
      if (found !== null) onset = { ms: found.ms, source: 'change_point', evidence: found.evidence };
    }
  }
  // An alert fires after its `for` duration and the evaluation lag, so an incident diagnosed as soon as
  // it opens has next to no evidence after the alert's start. When fewer than MIN_POINTS_AFTER_ONSET
  // samples of the golden signals follow it, the change the alert reacts to is looked for before it.
  if (onset.ms !== null && onset.source !== 'change_point') {
    const golden = new Set<SeriesRole>(Object.values(GOLDEN_SIGNALS).flat());
    const after = Math.max(0, ...cleaned.filter(({ one }) => golden.has(one.role)).map(({ times }) => times.length - lowerBound(times, onset.ms as number)));
    if (after < MIN_POINTS_AFTER_ONSET) {
      const found = changePointOnset(cleaned.map(({ one, times, values }) => ({ id: one.evidence.id, role: one.role, times, values })), window);
      if (found !== null && found.ms < onset.ms) onset = { ms: found.ms, source: 'change_point', evidence: [...onset.evidence, ...found.evidence] };
    }
  }
  const onsetMs = onset.ms;
  const splitMs = onsetMs ?? window.startMs + (window.endMs - window.startMs) / 2;

  const series: PreparedSeries[] = cleaned.map(({ one, times, values }) => {
    const split = lowerBound(times, splitMs);
    return {
      id: one.evidence.id,
      query: one.evidence.query,
      service: one.service ?? one.labels.service ?? null,
      role: one.role,
      times,
      values,
      split,
      anomaly: onsetMs === null ? null : anomalyOf(times, values, split),
    };
  });

  const logs: PreparedLogLine[] = [];
  for (const batch of [...bundle.logs].sort(byId)) {
    for (const line of batch.lines) logs.push({ at: line.at, message: line.message, service: line.service ?? batch.service ?? null, evidenceId: batch.evidence.id, ...(line.level === undefined ? {} : { level: line.level }) });
  }
  logs.sort((a, b) => a.at - b.at);

  const latency = new Map<string, { canary: (number | null)[]; baseline: (number | null)[]; canaryIds: string[]; baselineIds: string[] }>();
  for (const samples of [...bundle.latencySamples].sort(byId)) {
    let groups = latency.get(samples.service);
    if (groups === undefined) {
      groups = { canary: [], baseline: [], canaryIds: [], baselineIds: [] };
      latency.set(samples.service, groups);
    }
    for (const value of samples.values) groups[samples.group].push(value);
    (samples.group === 'canary' ? groups.canaryIds : groups.baselineIds).push(samples.evidence.id);
  }

  const changes: EvidenceChange[] = [...bundle.changes].sort((a, b) => a.at - b.at || byId(a, b));

  // The root-cause ranking over every series with a service.
  const metricScores = new Map<string, MetricScore>();
  let rca: DiagnosisContext['rca'] = null;
  const ranked: MetricSeries[] = series.filter((one) => one.service !== null && one.times.length > 0).map((one) => ({ service: one.service, metric: one.id, timestamps: Array.from(one.times), values: Array.from(one.values) }));
  if (onsetMs !== null && ranked.length > 0) {
    rca = rankRootCauses(ranked, { onsetMs }, { evidencePerService: EVIDENCE_PER_SERVICE });
    for (const hypothesis of rca.hypotheses) for (const score of hypothesis.evidence) metricScores.set(score.metric, score);
  }

  const context: DiagnosisContext = { window, onsetMs, splitMs, series, changes, logs, latency: latency, signals, rca, metricScores, options: resolved };
  const leak = memoryLeakSignature(context);
  const results: SignatureResult[] = [leak, badDeploySignature(context), poolExhaustionSignature(context), canaryRegressionSignature(context), loadSurgeSignature(context), resourceSaturationSignature(context, leak.trending)];
  const unknown = unknownCandidate(context, results);

  const hypotheses = rank([...results.flatMap((result) => result.candidates), unknown], resolved);
  return {
    engine: `${DIAGNOSIS_ENGINE} (${resolved.calibration.version})`,
    onset,
    hypotheses,
    ranking: (rca?.hypotheses ?? []).slice(0, 5).map((hypothesis) => ({ service: hypothesis.service, rank: hypothesis.rank, score: round6(hypothesis.score), confidence: round4(hypothesis.confidence) })),
    anomalies: series
      .filter((one) => one.anomaly !== null && one.anomaly.score >= 0.5)
      .map((one) => ({ evidence: one.id, service: one.service, role: one.role, score: (one.anomaly as { score: number }).score, atMs: (one.anomaly as { atMs: number }).atMs }))
      .sort((a, b) => b.score - a.score || (a.evidence < b.evidence ? -1 : 1)),
    coverage: results.map((result) => ({ kind: result.kind, examined: result.examined, gaps: result.gaps })),
  };
}

/** Every metric of a service is kept in the ranking's evidence, so each series can be looked up by ID. */
const EVIDENCE_PER_SERVICE = 100_000;

const round6 = (value: number): number => (Number.isFinite(value) ? Number(value.toPrecision(6)) : 0);

/** Calibrates, sorts (confidence, then strength, then kind, then service) and keeps `maxHypotheses`, `unknown` always among them. */
function rank(candidates: readonly Candidate[], options: ResolvedDiagnosisOptions): Hypothesis[] {
  const hypotheses = candidates.map(
    (one): Hypothesis => ({
      id: one.service === null ? one.kind : `${one.kind}:${one.service}`,
      kind: one.kind,
      service: one.service,
      summary: one.summary,
      confidence: round4(calibratedConfidence(one.kind, one.strength, one.components.coverage ?? 1, options.calibration)),
      strength: one.strength,
      components: one.components,
      facts: one.facts,
      assumptions: one.assumptions,
      missingEvidence: one.missingEvidence,
      checks: one.checks,
      remediation: one.remediation,
    }),
  );
  const order = (a: Hypothesis, b: Hypothesis): number =>
    b.confidence - a.confidence || b.strength - a.strength || HYPOTHESIS_KINDS.indexOf(a.kind) - HYPOTHESIS_KINDS.indexOf(b.kind) || ((a.service ?? '') < (b.service ?? '') ? -1 : (a.service ?? '') > (b.service ?? '') ? 1 : 0);
  hypotheses.sort(order);
  const patterns = hypotheses.filter((one) => one.kind !== 'unknown').slice(0, options.maxHypotheses - 1);
  return [...patterns, ...hypotheses.filter((one) => one.kind === 'unknown')].sort(order);
}
