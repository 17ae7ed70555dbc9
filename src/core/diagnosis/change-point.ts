/**
 * Incident onset from many metrics at once: multivariate Bayesian online change point detection
 * (BOCPD), the anomaly-detection step of BARO. Use it when an incident has no reliable start time
 * (an alert fires minutes after the fault) to find where the normal period ends before ranking
 * root causes with {@link rankRootCauses}. Pure and deterministic; no I/O.
 *
 * The method, as in BARO's code (`baro/_bocpd.py`, `baro/anomaly_detection.py`, after hildensia's
 * `bayesian_changepoint_detection`):
 * - The series are put on one grid of rows: the union of their timestamps, each metric carried
 *   forward to rows where it has no sample (and back from its first sample to the rows before it).
 *   A metric with no finite sample is left out. Each metric is scaled to 0..1 by its minimum and
 *   maximum over the grid; a constant metric becomes 0.
 * - Adams & MacKay's run-length recursion with a constant hazard `1 / hazardLambda` and, per run,
 *   a multivariate Gaussian with unknown mean and precision under a Normal-Wishart prior (mean 0,
 *   κ 1, ν = dimensions + 1, scale = identity), whose posterior predictive is a multivariate
 *   Student t (Murphy 2007; Haines' cheat sheet). Computed in log space, with rank-one
 *   (Sherman-Morrison) updates of each run's scale matrix and its log-determinant.
 * - The change-point probability of row `i` is the probability, once row `i + lag` has been seen,
 *   that the current run is `lag` rows long, i.e. began at row `i` (BARO reads `R[10, 10:]`).
 *   The onset is the first row at or after `warmupRows` whose probability exceeds `threshold`;
 *   when none does, the row with the highest probability (BARO's fallback).
 *
 * Cost: O(rows² · metrics²) time and O(rows · metrics²) memory, about a second for 600 rows of 38
 * metrics; a larger input is refused (`INPUT_INVALID`): downsample it or choose fewer metrics.
 *
 * @see Adams & MacKay, "Bayesian Online Changepoint Detection", arXiv:0710.3742, 2007
 * @see Pham, Ha, Zhang, "BARO: Robust Root Cause Analysis for Microservices via Multivariate
 *   Bayesian Online Change Point Detection", FSE 2024, doi:10.1145/3660805
 * @see https://github.com/phamquiluan/baro `baro/_bocpd.py`, `baro/anomaly_detection.py`
 */
import { InputError, type Issue } from '../errors.js';
import type { MetricSeries } from './rca.js';

/** Options of {@link detectOnset}. */
export interface OnsetDetectionOptions {
  /** Expected rows between change points: the hazard is `1 / hazardLambda`. @default 50 (BARO) */
  readonly hazardLambda?: number;
  /** Rows after a candidate change point at which its probability is read. @default 10 (BARO) */
  readonly lag?: number;
  /** The first row whose change-point probability exceeds this is the onset. @default 0.01 (BARO) */
  readonly threshold?: number;
  /** Rows at the start that cannot be the onset (row 0 is the start of the first run). @default 1 (BARO) */
  readonly warmupRows?: number;
}

/** The defaulted form of {@link OnsetDetectionOptions}. */
export interface ResolvedOnsetDetectionOptions {
  readonly hazardLambda: number;
  readonly lag: number;
  readonly threshold: number;
  readonly warmupRows: number;
}

/** The outcome of {@link detectOnset}. */
export interface OnsetDetection {
  /** Time of the onset row, Unix epoch ms; null when there are too few rows (fewer than `warmupRows + lag + 1`). */
  readonly onsetMs: number | null;
  /** Index of the onset row in `timestamps`, or null. */
  readonly onsetRow: number | null;
  /** `threshold`: the first row over the threshold; `maximum`: none was, so the most probable row; null: no onset. */
  readonly rule: 'threshold' | 'maximum' | null;
  /** The rows: the union of the series' timestamps, ascending, ms. */
  readonly timestamps: readonly number[];
  /** Change-point probability per row, 0..1; NaN for the last `lag` rows, which are never read. */
  readonly changePointProbability: readonly number[];
  /** Metrics that took part (those with at least one finite sample). */
  readonly metrics: number;
}

const DEFAULTS: ResolvedOnsetDetectionOptions = { hazardLambda: 50, lag: 10, threshold: 0.01, warmupRows: 1 };

/** ln of the smallest positive double: a run less probable than this is 0 in the reference code. */
const LOG_UNDERFLOW = Math.log(Number.MIN_VALUE);

/** Upper bound on rows² / 2 · metrics², the work of one detection (about 20 s here). */
const MAX_WORK = 2e10;

function resolveOptions(options: OnsetDetectionOptions): ResolvedOnsetDetectionOptions {
  const resolved: ResolvedOnsetDetectionOptions = {
    hazardLambda: options.hazardLambda ?? DEFAULTS.hazardLambda,
    lag: options.lag ?? DEFAULTS.lag,
    threshold: options.threshold ?? DEFAULTS.threshold,
    warmupRows: options.warmupRows ?? DEFAULTS.warmupRows,
  };
  const issues: Issue[] = [];
  if (!(Number.isFinite(resolved.hazardLambda) && resolved.hazardLambda > 1)) issues.push({ path: 'hazardLambda', message: 'must be a number > 1', received: String(resolved.hazardLambda) });
  if (!(Number.isInteger(resolved.lag) && resolved.lag >= 1)) issues.push({ path: 'lag', message: 'must be an integer >= 1', received: String(resolved.lag) });
  if (!(Number.isFinite(resolved.threshold) && resolved.threshold > 0 && resolved.threshold < 1)) issues.push({ path: 'threshold', message: 'must be in (0, 1)', received: String(resolved.threshold) });
  if (!(Number.isInteger(resolved.warmupRows) && resolved.warmupRows >= 0)) issues.push({ path: 'warmupRows', message: 'must be an integer >= 0', received: String(resolved.warmupRows) });
  if (issues.length > 0) throw new InputError('INPUT_INVALID', `Invalid onset detection options: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}.`, issues);
  return resolved;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error about 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const z = x - 1;
  let sum = c[0] as number;
  for (let index = 1; index < 9; index++) sum += (c[index] as number) / (z + index);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The series on one grid of rows (union of timestamps), carried forward and back, each scaled to 0..1. */
function gridOf(series: readonly MetricSeries[]): { timestamps: number[]; columns: Float64Array[] } {
  const times = new Set<number>();
  for (const one of series) {
    one.timestamps.forEach((time, index) => {
      const value = one.values[index];
      if (Number.isFinite(time) && value !== null && value !== undefined && Number.isFinite(value)) times.add(time);
    });
  }
  const timestamps = [...times].sort((a, b) => a - b);
  const rowOf = new Map(timestamps.map((time, row) => [time, row]));
  const columns: Float64Array[] = [];
  for (const one of series) {
    const column = new Float64Array(timestamps.length).fill(Number.NaN);
    // Samples in time order; of two at the same time, the later one in the input wins.
    const order = one.timestamps.map((_, index) => index).sort((a, b) => (one.timestamps[a] as number) - (one.timestamps[b] as number) || a - b);
    let any = false;
    for (const index of order) {
      const value = one.values[index];
      const row = rowOf.get(one.timestamps[index] as number);
      if (row === undefined || value === null || value === undefined || !Number.isFinite(value)) continue;
      column[row] = value;
      any = true;
    }
    if (!any) continue;
    let previous = Number.NaN;
    for (let row = 0; row < column.length; row++) {
      if (Number.isNaN(column[row])) column[row] = previous;
      else previous = column[row] as number;
    }
    const first = column.find((value) => !Number.isNaN(value)) as number;
    for (let row = 0; row < column.length && Number.isNaN(column[row]); row++) column[row] = first;
    let min = Infinity;
    let max = -Infinity;
    for (const value of column) {
      if (value < min) min = value;
      if (value > max) max = value;
    }
    for (let row = 0; row < column.length; row++) column[row] = max > min ? ((column[row] as number) - min) / (max - min) : 0;
    columns.push(column);
  }
  return { timestamps, columns };
}

/**
 * Change-point probabilities of the rows of `data` (`rows` × `dims`, row-major, each value
 * scaled): entry `i` is P(run length = lag | rows 0..i+lag), NaN for the last `lag` rows. The
 * recursion and the model of {@link detectOnset}, exposed for tests against the reference code.
 */
export function changePointProbabilities(data: Float64Array, rows: number, dims: number, hazardLambda: number, lag: number): Float64Array {
  const result = new Float64Array(rows).fill(Number.NaN);
  const d = dims;
  const means = new Float64Array((rows + 1) * d);
  const scales = new Float64Array((rows + 1) * d * d);
  const logDets = new Float64Array(rows + 1);
  const setPrior = (start: number): void => {
    means.fill(0, start * d, (start + 1) * d);
    const base = start * d * d;
    scales.fill(0, base, base + d * d);
    for (let i = 0; i < d; i++) scales[base + i * d + i] = 1;
    logDets[start] = 0;
  };
  // logR[s]: log P(the current run began at row s | rows so far), for the active starts.
  const logR = new Float64Array(rows + 1);
  let active = new Int32Array(rows + 1);
  let spare = new Int32Array(rows + 1);
  let activeCount = 1;
  setPrior(0);
  logR[0] = 0;
  const logHazard = Math.log(1 / hazardLambda);
  const logStay = Math.log(1 - 1 / hazardLambda);
  const centred = new Float64Array(d);
  const product = new Float64Array(d);
  // Per run length r: degrees of freedom 2 + r; the constant part of the log density.
  const constants = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const df = 2 + r;
    constants[r] = logGamma((df + d) / 2) - logGamma(df / 2) - (d / 2) * Math.log(df * Math.PI);
  }
  for (let t = 0; t < rows; t++) {
    const x = t * d;
    let joinedMax = -Infinity;
    for (let k = 0; k < activeCount; k++) {
      const s = active[k] as number;
      const r = t - s;
      const kappa = 1 + r;
      const df = 2 + r;
      const a = (kappa * df) / (kappa + 1);
      const m = s * d;
      const base = s * d * d;
      for (let i = 0; i < d; i++) centred[i] = (data[x + i] as number) - (means[m + i] as number);
      let q = 0;
      for (let i = 0; i < d; i++) {
        let sum = 0;
        const row = base + i * d;
        for (let j = 0; j < d; j++) sum += (scales[row + j] as number) * (centred[j] as number);
        product[i] = sum;
        q += (centred[i] as number) * sum;
      }
      const logPredictive = (constants[r] as number) + 0.5 * (d * Math.log(a) + (logDets[s] as number)) - ((df + d) / 2) * Math.log1p((a * q) / df);
      const joined = (logR[s] as number) + logPredictive;
      logR[s] = joined;
      if (joined > joinedMax) joinedMax = joined;
      // Posterior update with row t: scale <- (scale^-1 + beta c c^T)^-1, beta = kappa/(kappa+1) (Sherman-Morrison).
      const beta = kappa / (kappa + 1);
      const factor = beta / (1 + beta * q);
      for (let i = 0; i < d; i++) {
        const row = base + i * d;
        const pi = (product[i] as number) * factor;
        for (let j = 0; j < d; j++) scales[row + j] = (scales[row + j] as number) - pi * (product[j] as number);
      }
      logDets[s] = (logDets[s] as number) - Math.log1p(beta * q);
      for (let i = 0; i < d; i++) means[m + i] = ((kappa * (means[m + i] as number)) + (data[x + i] as number)) / (kappa + 1);
    }
    let total = 0;
    for (let k = 0; k < activeCount; k++) total += Math.exp((logR[active[k] as number] as number) - joinedMax);
    const logEvidence = joinedMax + Math.log(total);
    // Growth keeps each run (1 - H); a change point starts a new run at row t + 1 (H). A run whose
    // probability underflows a double is dropped: in the reference code it is exactly 0 from then on.
    let kept = 0;
    for (let k = 0; k < activeCount; k++) {
      const s = active[k] as number;
      const value = (logR[s] as number) + logStay - logEvidence;
      logR[s] = value;
      if (value > LOG_UNDERFLOW) spare[kept++] = s;
    }
    logR[t + 1] = logHazard;
    setPrior(t + 1);
    spare[kept++] = t + 1;
    [active, spare] = [spare, active];
    activeCount = kept;
    const start = t + 1 - lag;
    if (start >= 0 && start < rows) result[start] = (logR[start] as number) > LOG_UNDERFLOW ? Math.exp(logR[start] as number) : 0;
  }
  return result;
}

/**
 * Finds the onset of an incident in `series` by multivariate BOCPD (see the module documentation).
 * Deterministic. Throws `INPUT_INVALID` for bad options, or when rows² / 2 · metrics² exceeds
 * 2·10¹⁰ (downsample the series or pass fewer metrics).
 */
export function detectOnset(series: readonly MetricSeries[], options: OnsetDetectionOptions = {}): OnsetDetection {
  const resolved = resolveOptions(options);
  const { timestamps, columns } = gridOf(series);
  const rows = timestamps.length;
  const dims = columns.length;
  if ((rows * rows * dims * dims) / 2 > MAX_WORK) {
    throw new InputError('INPUT_INVALID', `Onset detection over ${rows} rows of ${dims} metrics is too much work (rows² / 2 · metrics² > ${MAX_WORK}); downsample the series or pass fewer metrics.`, [
      { path: 'series', message: 'too many rows or metrics', received: `${rows} rows, ${dims} metrics` },
    ]);
  }
  const empty: OnsetDetection = { onsetMs: null, onsetRow: null, rule: null, timestamps, changePointProbability: new Array<number>(rows).fill(Number.NaN), metrics: dims };
  if (dims === 0 || rows < resolved.warmupRows + resolved.lag + 1) return empty;
  const data = new Float64Array(rows * dims);
  columns.forEach((column, j) => column.forEach((value, row) => (data[row * dims + j] = value)));
  const probabilities = changePointProbabilities(data, rows, dims, resolved.hazardLambda, resolved.lag);
  let onsetRow: number | null = null;
  let rule: OnsetDetection['rule'] = null;
  for (let row = resolved.warmupRows; row < rows; row++) {
    if ((probabilities[row] as number) > resolved.threshold) {
      onsetRow = row;
      rule = 'threshold';
      break;
    }
  }
  if (onsetRow === null) {
    let best = -1;
    for (let row = resolved.warmupRows; row < rows; row++) {
      const probability = probabilities[row] as number;
      if (!Number.isNaN(probability) && probability > best) {
        best = probability;
        onsetRow = row;
        rule = 'maximum';
      }
    }
  }
  return { onsetMs: onsetRow === null ? null : (timestamps[onsetRow] as number), onsetRow, rule, timestamps, changePointProbability: Array.from(probabilities), metrics: dims };
}
