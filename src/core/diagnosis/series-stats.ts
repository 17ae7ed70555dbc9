/**
 * Small, deterministic statistics on one metric series for the diagnosis signatures: a least-squares
 * line with its R², the best single step (two-segment mean fit), and robust location and scale.
 * Pure; the inputs are ascending times (ms) and finite values of the same length.
 */
import { quantileOfSorted } from './quantile.js';

/** A least-squares line `value ≈ level + slope · (t − centreMs)`. */
export interface LinearFit {
  /** Change per ms, in the series' unit. */
  readonly slope: number;
  /** The fitted value at `centreMs` (the mean of the times): the mean of the values. */
  readonly level: number;
  readonly centreMs: number;
  /** Coefficient of determination 0..1; 0 when the values do not vary (no trend to explain). */
  readonly r2: number;
  readonly points: number;
  /** First and last time fitted. */
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * Ordinary least squares of `values[from..to)` on `times[from..to)` (times centred first, so epoch
 * milliseconds lose no precision). Null with fewer than 3 points or a single distinct time.
 *
 * @see Draper & Smith, Applied Regression Analysis, 3rd ed., ch. 1 (the fit and R²)
 */
export function linearFit(times: ArrayLike<number>, values: ArrayLike<number>, from = 0, to = times.length): LinearFit | null {
  const n = to - from;
  if (n < 3) return null;
  let sumT = 0;
  let sumV = 0;
  for (let index = from; index < to; index++) {
    sumT += times[index] as number;
    sumV += values[index] as number;
  }
  const centreMs = sumT / n;
  const level = sumV / n;
  let stt = 0;
  let stv = 0;
  let svv = 0;
  for (let index = from; index < to; index++) {
    const dt = (times[index] as number) - centreMs;
    const dv = (values[index] as number) - level;
    stt += dt * dt;
    stv += dt * dv;
    svv += dv * dv;
  }
  if (!(stt > 0)) return null;
  const slope = stv / stt;
  const r2 = svv > 0 ? Math.min(1, Math.max(0, (stv * stv) / (stt * svv))) : 0;
  return { slope, level, centreMs, r2, points: n, fromMs: times[from] as number, toMs: times[to - 1] as number };
}

/** Points the pairwise slopes of {@link robustLinearFit} are taken from, at most (evenly spaced). */
const THEIL_SEN_MAX_POINTS = 200;

/**
 * A least-squares line that one scrape glitch cannot spoil: a Theil–Sen line (the median of the
 * pairwise slopes, over at most 200 evenly spaced points) marks the outliers, points further from
 * it than 4 robust standard deviations (1.4826 × the median absolute residual) are dropped, and the
 * rest are fitted by {@link linearFit}. `points` counts the points kept. Null as for `linearFit`.
 *
 * @see Sen, "Estimates of the regression coefficient based on Kendall's tau", JASA 63 (1968)
 * @see Rousseeuw & Leroy, Robust Regression and Outlier Detection, Wiley 1987 (reweighted least squares after a robust fit)
 */
export function robustLinearFit(times: ArrayLike<number>, values: ArrayLike<number>, from = 0, to = times.length): LinearFit | null {
  const n = to - from;
  if (n < 3) return null;
  const stride = Math.max(1, Math.ceil(n / THEIL_SEN_MAX_POINTS));
  const picked: number[] = [];
  for (let index = from; index < to; index += stride) picked.push(index);
  const slopes: number[] = [];
  for (let i = 0; i < picked.length; i++) {
    for (let j = i + 1; j < picked.length; j++) {
      const a = picked[i] as number;
      const b = picked[j] as number;
      const dt = (times[b] as number) - (times[a] as number);
      if (dt > 0) slopes.push(((values[b] as number) - (values[a] as number)) / dt);
    }
  }
  if (slopes.length === 0) return null;
  const slope = quantileOf(slopes, 0.5);
  const origin = times[from] as number;
  const intercepts = new Float64Array(n);
  for (let index = from; index < to; index++) intercepts[index - from] = (values[index] as number) - slope * ((times[index] as number) - origin);
  const intercept = quantileOf(intercepts, 0.5);
  const residuals = intercepts.map((value) => Math.abs(value - intercept));
  const limit = 4 * 1.4826 * quantileOf(residuals, 0.5);
  const keptTimes: number[] = [];
  const keptValues: number[] = [];
  for (let index = from; index < to; index++) {
    if (!(limit > 0) || (residuals[index - from] as number) <= limit) {
      keptTimes.push(times[index] as number);
      keptValues.push(values[index] as number);
    }
  }
  return linearFit(keptTimes, keptValues);
}

/** The value of `fit` at time `t` (ms). */
export function fitAt(fit: LinearFit, t: number): number {
  return fit.level + fit.slope * (t - fit.centreMs);
}

/** The best single step in a series: where a two-segment mean model fits best. */
export interface StepChange {
  /** Time of the first point after the step. */
  readonly atMs: number;
  /** Index of that point. */
  readonly index: number;
  readonly meanBefore: number;
  readonly meanAfter: number;
  /** Robust scale of the points before the step (IQR / 1.349, or the standard deviation when the IQR is 0), floored at `1e-9` and at 1 % of |meanBefore|. */
  readonly scaleBefore: number;
  /** `(meanAfter − meanBefore) / scaleBefore`: how many robust standard deviations the level moved. */
  readonly z: number;
}

/**
 * The split of `values` into two segments, each of at least `minSegment` points, that minimises
 * the sum of squared deviations from the two segment means (a single change in mean, as in binary
 * segmentation; Killick & Eckley's `changepoint` `cpt.mean` with one change). O(n). Null when the
 * series is shorter than `2 · minSegment`.
 *
 * @see Killick & Eckley, "changepoint: An R Package for Changepoint Analysis", J. Stat. Software 58(3), 2014
 */
export function stepChange(times: ArrayLike<number>, values: ArrayLike<number>, minSegment = 3): StepChange | null {
  const n = values.length;
  if (n < 2 * minSegment) return null;
  const prefix = new Float64Array(n + 1);
  const prefixSquares = new Float64Array(n + 1);
  for (let index = 0; index < n; index++) {
    const value = values[index] as number;
    prefix[index + 1] = (prefix[index] as number) + value;
    prefixSquares[index + 1] = (prefixSquares[index] as number) + value * value;
  }
  const total = prefix[n] as number;
  const totalSquares = prefixSquares[n] as number;
  let best = -1;
  let bestCost = Infinity;
  for (let split = minSegment; split <= n - minSegment; split++) {
    const left = prefix[split] as number;
    const right = total - left;
    // Sum of squares about the segment means = Σx² − (Σx)²/n per segment.
    const cost = (prefixSquares[split] as number) - (left * left) / split + (totalSquares - (prefixSquares[split] as number)) - (right * right) / (n - split);
    if (best === -1 || cost < bestCost - 1e-12 * Math.abs(bestCost)) {
      bestCost = cost;
      best = split;
    }
  }
  if (best === -1) return null;
  const meanBefore = (prefix[best] as number) / best;
  const meanAfter = (total - (prefix[best] as number)) / (n - best);
  const scaleBefore = robustScale(values, 0, best, meanBefore);
  return { atMs: times[best] as number, index: best, meanBefore, meanAfter, scaleBefore, z: (meanAfter - meanBefore) / scaleBefore };
}

/** IQR / 1.349 of `values[from..to)` (a normal's standard deviation), or the standard deviation when the IQR is 0; at least 1e-9 and 1 % of |centre|. */
export function robustScale(values: ArrayLike<number>, from: number, to: number, centre: number): number {
  const sorted = sortedSlice(values, from, to);
  let scale = 0;
  if (sorted.length >= 2) {
    scale = (quantileOfSorted(sorted, 0.75) - quantileOfSorted(sorted, 0.25)) / 1.349;
    if (!(scale > 0)) {
      let sum = 0;
      for (const value of sorted) sum += (value - centre) ** 2;
      scale = Math.sqrt(sum / sorted.length);
    }
  }
  return Math.max(scale, 1e-9, 0.01 * Math.abs(centre));
}

/** The `q`-quantile (NumPy's default) of `values[from..to)`, or NaN when the range is empty. */
export function quantileOf(values: ArrayLike<number>, q: number, from = 0, to = values.length): number {
  return to > from ? quantileOfSorted(sortedSlice(values, from, to), q) : Number.NaN;
}

function sortedSlice(values: ArrayLike<number>, from: number, to: number): Float64Array {
  const slice = new Float64Array(Math.max(0, to - from));
  for (let index = from; index < to; index++) slice[index - from] = values[index] as number;
  return slice.sort();
}

/** The first index whose time is at or after `t` in ascending `times` (binary search); `times.length` when none is. */
export function lowerBound(times: ArrayLike<number>, t: number): number {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((times[middle] as number) < t) low = middle + 1;
    else high = middle;
  }
  return low;
}
