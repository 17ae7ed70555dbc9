/**
 * Root-cause service ranking from the metrics of many services around an incident: which service
 * most likely caused it, with a confidence per service and the metrics that drove each score (the
 * evidence). Use it in the context stage of a mission to turn "latency is up" into ranked
 * hypotheses; it is a pure function of the samples, deterministic, and does no I/O.
 *
 * The method is the root-cause step of BARO (Pham, Ha, Zhang, FSE 2024), among the best
 * metric-based methods in RCAEval's evaluation (Sock Shop, Online Boutique, Train Ticket):
 * - The samples are split at the incident onset (or into a given normal and anomalous period).
 * - For each metric, a robust z-score of the anomalous period against the normal one:
 *   `score = max over anomalous samples x of (x - median_normal) / IQR_normal` (IQR = 75th − 25th
 *   percentile, linear interpolation). The maximum is signed: a metric that only fell scores low.
 * - A service's score is its highest metric score; services rank by it, highest first.
 * With `method: 'nsigma'` the same steps use the mean and the (population) standard deviation
 * instead: RCAEval's NSigma baseline.
 *
 * What happens with awkward data (these are choices of this module, stated because BARO's code
 * leaves them to its preprocessing):
 * - Missing values (`null`, NaN, ±Infinity) are dropped, not filled: a gap is neither normal nor anomalous.
 * - A metric whose normal period is constant (every sample equal) has no scale: it is not scored
 *   and is listed in `skipped` with reason `constant` (BARO drops such columns too). So is a metric
 *   with fewer than `minNormalSamples` normal samples or no anomalous sample (`too_few_samples`).
 *   A metric constant over the anomalous period only (stuck at a new level) is scored like any
 *   other; BARO's code drops it.
 * - A metric whose normal IQR is 0 but which is not constant (more than half its samples equal)
 *   uses the normal period's standard deviation as its scale (`scaleKind: 'std'`).
 * - The scale is never less than `minRelativeScale` × |centre| (default 0.1 % of the normal median;
 *   `scaleKind: 'relative'`): a gauge that barely moves in the normal period (a process's memory in
 *   bytes, steady to a page) would otherwise score thousands for a change of a fraction of a percent
 *   and outrank the real cause. BARO's code gets a similar effect by accident of units: RCAEval
 *   converts memory to MB and scikit-learn's `RobustScaler` replaces an IQR of 0 by 1 (1 MB, 1 %
 *   CPU, 1 s of latency). This module stays unit-free instead. On the 20 Sock Shop dev cases any
 *   floor from 0.01 % to 10 % ranks every root cause first (docs/benchmarks.md, rca); 0 turns it off.
 * - A metric of no service (`service` null or empty: a node, the cluster) is scored and returned in
 *   `unattributed`, but it is not a candidate root cause.
 *
 * Confidence: `confidence_i = max(s_i, 1)^(1/T) / Σ_j max(s_j, 1)^(1/T)`, a softmax over the log
 * scores with temperature `T` (default 0.5, so the share of squared scores). Scores up to 1 (within
 * one IQR of the normal median) count as 1, unremarkable; with no anomaly every service gets about
 * 1/n. The confidences of the ranked services sum to 1: "which one of these is the root cause".
 *
 * @see Pham, Ha, Zhang, "BARO: Robust Root Cause Analysis for Microservices via Multivariate
 *   Bayesian Online Change Point Detection", FSE 2024, doi:10.1145/3660805
 * @see https://github.com/phamquiluan/RCAEval `RCAEval/e2e/baro.py` (the reference code) and
 *   https://github.com/phamquiluan/baro
 */
import { InputError, type Issue } from '../errors.js';
import { quantileOfSorted, sortedFinite } from './quantile.js';

/** One metric's samples: the service it belongs to, its name, and its values at times. */
export interface MetricSeries {
  /** The service the metric belongs to (`carts`, `carts-db`), or null (or empty) for a metric of no service. */
  readonly service: string | null;
  /** The metric's name within its service, e.g. `cpu`, `mem`, `lat_90`; unique per service. */
  readonly metric: string;
  /** Sample times, Unix epoch ms, in any order; as many as `values`. */
  readonly timestamps: readonly number[];
  /** The samples, in the metric's own unit; `null`, NaN and ±Infinity are missing values. */
  readonly values: ReadonlyArray<number | null>;
}

/** A half-open time range `[startMs, endMs)`, Unix epoch ms. */
export interface TimeRange {
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * Where the normal period ends and the anomalous one begins: an onset (samples before it are
 * normal, samples at or after it anomalous), or two explicit, non-overlapping periods (samples in
 * neither are ignored).
 */
export type RcaWindow = { readonly onsetMs: number } | { readonly normal: TimeRange; readonly anomalous: TimeRange };

/** How a metric is scored: BARO's median and IQR, or NSigma's mean and standard deviation. */
export type RcaMethod = 'baro' | 'nsigma';

/** Options of {@link rankRootCauses}. */
export interface RcaOptions {
  /** @default 'baro' */
  readonly method?: RcaMethod;
  /** Temperature of the confidence softmax over log scores; lower is more decisive. @default 0.5 */
  readonly temperature?: number;
  /** Normal samples a metric needs to be scored (its median and IQR mean little below that). @default 10 */
  readonly minNormalSamples?: number;
  /** Smallest scale as a fraction of |centre| (ratio; 0 turns the floor off). @default 0.001 */
  readonly minRelativeScale?: number;
  /** Metrics kept as evidence per service, highest score first. @default 3 */
  readonly evidencePerService?: number;
}

/** The defaulted form of {@link RcaOptions}. */
export interface ResolvedRcaOptions {
  readonly method: RcaMethod;
  readonly temperature: number;
  readonly minNormalSamples: number;
  readonly minRelativeScale: number;
  readonly evidencePerService: number;
}

/** The score of one metric and what it was computed from. */
export interface MetricScore {
  /** The metric's service, or null for a metric of no service. */
  readonly service: string | null;
  readonly metric: string;
  /** `(value - centre) / scale` at its maximum over the anomalous period; dimensionless. */
  readonly score: number;
  /** When that maximum was reached, Unix epoch ms (the earliest such sample). */
  readonly atMs: number;
  /** The sample there, in the metric's unit. */
  readonly value: number;
  /** Normal median (`baro`) or mean (`nsigma`), in the metric's unit. */
  readonly centre: number;
  /**
   * The divisor, in the metric's unit: the normal IQR (`iqr`); the normal standard deviation where
   * the IQR is 0 or the method is `nsigma` (`std`); or `minRelativeScale` × |centre| where that is
   * larger (`relative`).
   */
  readonly scale: number;
  readonly scaleKind: 'iqr' | 'std' | 'relative';
  readonly normalSamples: number;
  readonly anomalousSamples: number;
}

/** A root-cause candidate: a service, its rank and score, a confidence in 0..1 and its evidence. */
export interface RootCauseHypothesis {
  readonly service: string;
  /** 1 for the most likely root cause. */
  readonly rank: number;
  /** The highest score of the service's metrics. */
  readonly score: number;
  /** Share of belief that this service is the root cause, 0..1; the hypotheses' confidences sum to 1. */
  readonly confidence: number;
  /** The service's highest-scoring metrics, highest first (at most `evidencePerService`). */
  readonly evidence: readonly MetricScore[];
}

/** Why a metric was not scored. */
export type SkipReason = 'constant' | 'too_few_samples';

/** A metric that was not scored, and why. */
export interface SkippedMetric {
  readonly service: string | null;
  readonly metric: string;
  readonly reason: SkipReason;
  readonly normalSamples: number;
  readonly anomalousSamples: number;
}

/** The outcome of {@link rankRootCauses}. */
export interface RootCauseRanking {
  readonly method: RcaMethod;
  readonly temperature: number;
  /** The periods compared; with an onset, from the first sample to the onset and from the onset to just after the last sample. */
  readonly normal: TimeRange;
  readonly anomalous: TimeRange;
  /** Candidate services, most likely root cause first (ties: by name). */
  readonly hypotheses: readonly RootCauseHypothesis[];
  /** Scores of the metrics of no service, highest first: context, not candidates. */
  readonly unattributed: readonly MetricScore[];
  /** Metrics not scored, by service and name. */
  readonly skipped: readonly SkippedMetric[];
}

const DEFAULTS: ResolvedRcaOptions = { method: 'baro', temperature: 0.5, minNormalSamples: 10, minRelativeScale: 0.001, evidencePerService: 3 };

/** Fills in the defaults of {@link RcaOptions}; throws `INPUT_INVALID` naming each bad option. */
export function resolveRcaOptions(options: RcaOptions = {}): ResolvedRcaOptions {
  const resolved: ResolvedRcaOptions = {
    method: options.method ?? DEFAULTS.method,
    temperature: options.temperature ?? DEFAULTS.temperature,
    minNormalSamples: options.minNormalSamples ?? DEFAULTS.minNormalSamples,
    minRelativeScale: options.minRelativeScale ?? DEFAULTS.minRelativeScale,
    evidencePerService: options.evidencePerService ?? DEFAULTS.evidencePerService,
  };
  const issues: Issue[] = [];
  if (resolved.method !== 'baro' && resolved.method !== 'nsigma') issues.push({ path: 'method', message: 'unknown method', expected: "'baro' or 'nsigma'", received: String(resolved.method) });
  if (!(Number.isFinite(resolved.temperature) && resolved.temperature > 0)) issues.push({ path: 'temperature', message: 'must be a positive number', received: String(resolved.temperature) });
  if (!(Number.isInteger(resolved.minNormalSamples) && resolved.minNormalSamples >= 2)) issues.push({ path: 'minNormalSamples', message: 'must be an integer >= 2', received: String(resolved.minNormalSamples) });
  if (!(Number.isFinite(resolved.minRelativeScale) && resolved.minRelativeScale >= 0)) issues.push({ path: 'minRelativeScale', message: 'must be a number >= 0', received: String(resolved.minRelativeScale) });
  if (!(Number.isInteger(resolved.evidencePerService) && resolved.evidencePerService >= 1)) issues.push({ path: 'evidencePerService', message: 'must be an integer >= 1', received: String(resolved.evidencePerService) });
  if (issues.length > 0) throw new InputError('INPUT_INVALID', `Invalid root-cause ranking options: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}.`, issues);
  return resolved;
}

/** The service of a series, or null when it has none. */
function serviceOf(series: MetricSeries): string | null {
  return series.service === null || series.service === '' ? null : series.service;
}

/** Checks the shape of the input; throws `INPUT_INVALID` listing every problem. */
function validate(series: readonly MetricSeries[], window: RcaWindow): void {
  const issues: Issue[] = [];
  if (series.length === 0) issues.push({ path: 'series', message: 'no metric series to rank', expected: 'at least one series' });
  const seen = new Set<string>();
  series.forEach((one, index) => {
    if (typeof one.metric !== 'string' || one.metric === '') issues.push({ path: `series.${index}.metric`, message: 'must be a non-empty string' });
    const key = `${serviceOf(one) ?? ''}\u0000${one.metric}`;
    if (seen.has(key)) issues.push({ path: `series.${index}`, message: `duplicate metric ${one.metric} of ${serviceOf(one) ?? 'no service'}` });
    seen.add(key);
    if (one.timestamps.length !== one.values.length) {
      issues.push({ path: `series.${index}.values`, message: 'must have one value per timestamp', expected: String(one.timestamps.length), received: String(one.values.length) });
    }
    const badTime = one.timestamps.findIndex((time) => !Number.isFinite(time));
    if (badTime !== -1) issues.push({ path: `series.${index}.timestamps.${badTime}`, message: 'must be a finite number of ms' });
  });
  if ('onsetMs' in window) {
    if (!Number.isFinite(window.onsetMs)) issues.push({ path: 'window.onsetMs', message: 'must be a finite number of ms' });
  } else {
    for (const name of ['normal', 'anomalous'] as const) {
      const range = window[name];
      if (!(Number.isFinite(range.startMs) && Number.isFinite(range.endMs) && range.startMs < range.endMs)) {
        issues.push({ path: `window.${name}`, message: 'must be a range with finite startMs < endMs' });
      }
    }
    if (window.normal.startMs < window.anomalous.endMs && window.anomalous.startMs < window.normal.endMs) {
      issues.push({ path: 'window', message: 'the normal and anomalous periods overlap' });
    }
  }
  if (issues.length > 0) throw new InputError('INPUT_INVALID', `Invalid input for root-cause ranking: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}.`, issues);
}

/** The periods compared, resolved against the data's time extent. */
function resolvePeriods(series: readonly MetricSeries[], window: RcaWindow): { normal: TimeRange; anomalous: TimeRange } {
  if (!('onsetMs' in window)) return { normal: window.normal, anomalous: window.anomalous };
  let first = window.onsetMs;
  let last = window.onsetMs;
  for (const one of series) {
    for (const time of one.timestamps) {
      if (time < first) first = time;
      if (time > last) last = time;
    }
  }
  return { normal: { startMs: first, endMs: window.onsetMs }, anomalous: { startMs: window.onsetMs, endMs: last + 1 } };
}

const inRange = (range: TimeRange, time: number): boolean => time >= range.startMs && time < range.endMs;

/** Population mean and standard deviation of a non-empty sample. */
function meanAndStd(sample: Float64Array): { mean: number; std: number } {
  let sum = 0;
  for (const value of sample) sum += value;
  const mean = sum / sample.length;
  let squares = 0;
  for (const value of sample) squares += (value - mean) ** 2;
  return { mean, std: Math.sqrt(squares / sample.length) };
}

/** Scores one metric, or says why it cannot be scored. */
function scoreMetric(one: MetricSeries, periods: { normal: TimeRange; anomalous: TimeRange }, options: ResolvedRcaOptions): MetricScore | SkippedMetric {
  const normalValues: number[] = [];
  const anomalous: Array<{ time: number; value: number }> = [];
  for (let index = 0; index < one.timestamps.length; index++) {
    const value = one.values[index];
    const time = one.timestamps[index] as number;
    if (value === null || value === undefined || !Number.isFinite(value)) continue;
    if (inRange(periods.normal, time)) normalValues.push(value);
    else if (inRange(periods.anomalous, time)) anomalous.push({ time, value });
  }
  const service = serviceOf(one);
  const counts = { normalSamples: normalValues.length, anomalousSamples: anomalous.length };
  if (normalValues.length < options.minNormalSamples || anomalous.length === 0) return { service, metric: one.metric, reason: 'too_few_samples', ...counts };
  const normal = sortedFinite(normalValues);
  if (normal[0] === normal[normal.length - 1]) return { service, metric: one.metric, reason: 'constant', ...counts };

  let centre: number;
  let scale: number;
  let scaleKind: MetricScore['scaleKind'];
  const { mean, std } = meanAndStd(normal);
  if (options.method === 'nsigma') {
    centre = mean;
    scale = std;
    scaleKind = 'std';
  } else {
    centre = quantileOfSorted(normal, 0.5);
    const iqr = quantileOfSorted(normal, 0.75) - quantileOfSorted(normal, 0.25);
    scale = iqr > 0 ? iqr : std;
    scaleKind = iqr > 0 ? 'iqr' : 'std';
  }
  const floor = options.minRelativeScale * Math.abs(centre);
  if (floor > scale) {
    scale = floor;
    scaleKind = 'relative';
  }
  // Earliest sample at the maximum: sort by time so the tie-break does not depend on input order.
  anomalous.sort((a, b) => a.time - b.time);
  let best = anomalous[0] as { time: number; value: number };
  for (const sample of anomalous) if (sample.value > best.value) best = sample;
  return { service, metric: one.metric, score: (best.value - centre) / scale, atMs: best.time, value: best.value, centre, scale, scaleKind, ...counts };
}

/** Highest score first; ties by service, then metric name (code-unit order, locale-independent). */
function byScore(a: MetricScore, b: MetricScore): number {
  if (a.score !== b.score) return b.score - a.score;
  const serviceA = a.service ?? '';
  const serviceB = b.service ?? '';
  if (serviceA !== serviceB) return serviceA < serviceB ? -1 : 1;
  return a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0;
}

/**
 * Confidences for service scores: a softmax over `ln(max(score, 1)) / temperature`, so scores up
 * to 1 count as 1. Sums to 1 (an empty list gives an empty list). Computed in log space, so large
 * scores and small temperatures do not overflow.
 */
export function confidencesFromScores(scores: readonly number[], temperature: number): number[] {
  if (scores.length === 0) return [];
  const logits = scores.map((score) => Math.log(Math.max(score, 1)) / temperature);
  const top = Math.max(...logits);
  const weights = logits.map((logit) => Math.exp(logit - top));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  return weights.map((weight) => weight / total);
}

/**
 * Ranks the services of `series` by how likely each is the root cause of the change at `window`
 * (see the module documentation for the method). Deterministic: the same input in any order of
 * series or samples gives the same ranking. Throws `INPUT_INVALID` when there is no series, a
 * series' values and timestamps differ in number, a (service, metric) pair repeats, a time is not finite,
 * or the periods are empty or overlap; it never throws for odd values (those are skipped).
 */
export function rankRootCauses(series: readonly MetricSeries[], window: RcaWindow, options: RcaOptions = {}): RootCauseRanking {
  const resolved = resolveRcaOptions(options);
  validate(series, window);
  const periods = resolvePeriods(series, window);
  const scored: MetricScore[] = [];
  const skipped: SkippedMetric[] = [];
  for (const one of series) {
    const result = scoreMetric(one, periods, resolved);
    if ('reason' in result) skipped.push(result);
    else scored.push(result);
  }
  scored.sort(byScore);
  const byService = new Map<string, MetricScore[]>();
  const unattributed: MetricScore[] = [];
  for (const score of scored) {
    if (score.service === null) {
      unattributed.push(score);
      continue;
    }
    const list = byService.get(score.service);
    if (list === undefined) byService.set(score.service, [score]);
    else list.push(score);
  }
  // `scored` is sorted, so services appear in rank order and each list is highest first.
  const services = [...byService.entries()];
  const confidences = confidencesFromScores(services.map(([, scores]) => (scores[0] as MetricScore).score), resolved.temperature);
  const hypotheses = services.map(([service, scores], index): RootCauseHypothesis => ({
    service,
    rank: index + 1,
    score: (scores[0] as MetricScore).score,
    confidence: confidences[index] as number,
    evidence: scores.slice(0, resolved.evidencePerService),
  }));
  skipped.sort((a, b) => ((a.service ?? '') < (b.service ?? '') ? -1 : (a.service ?? '') > (b.service ?? '') ? 1 : a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
  return { method: resolved.method, temperature: resolved.temperature, normal: periods.normal, anomalous: periods.anomalous, hypotheses, unattributed, skipped };
}
