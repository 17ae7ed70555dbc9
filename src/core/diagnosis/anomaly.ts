/**
 * Anomaly detection on one metric series: the built-in, deterministic tier of Interlock's diagnosis.
 * It reads one univariate series point by point (a timestamp in ms and a value) and scores each
 * point in 0..1, where a high score means the recent behaviour of the series is unlikely given its
 * own history. No randomness, no I/O, no model to train: the same points always give the same scores.
 *
 * Use it streaming, one detector per series ({@link createAnomalyDetector}, `push(t, value)`), or in
 * batch over a whole series ({@link scoreSeries}); the batch scores are, by construction, those of
 * the stream.
 *
 * ## Algorithm
 * An ensemble of two simple, robust predictors, an anomaly-likelihood stage and a novelty rule:
 *
 * 1. **Surprise** (`surprise`, 0..1). Two exponentially weighted models predict the point before
 *    they learn it: a *level* model (mean and variance of the values, memory `levelMemory` points)
 *    and a *time-of-day* model (mean and variance per bin of the UTC day, `seasonalBins` bins,
 *    memory `seasonalMemory` updates per bin; used once a bin has seen 5 points). Each gives the
 *    distance of the value from its prediction in standard deviations (a z-score); the surprise is
 *    their mean divided by `surpriseCap` and clipped to 1. The level model catches spikes and level
 *    shifts; the time-of-day model catches values that are normal for the series but not for the
 *    hour (a daily peak that does not come, a flat afternoon).
 * 2. **Anomaly likelihood** (`likelihood`, 0..1). The mean surprise of the last `averagingWindow`
 *    points is compared with the long-run distribution of that mean (an exponentially weighted
 *    mean and variance, memory `likelihoodMemory` points, floored at 0.03 and 0.0003 as NuPIC does):
 *    the likelihood is one minus the two-sided Gaussian tail probability. So a series that is always
 *    noisy does not alarm for its usual noise, a quiet one alarms at a small change, and a series
 *    that suddenly stops moving (a stuck exporter) is unusual too. As in NuPIC, only the first point
 *    of a run with a tail probability at or below 1e-5 keeps it; the next ones in the run get 1e-3,
 *    so a long anomaly raises one sharp alarm rather than many.
 * 3. **Score** (`score`, 0..1). The likelihood on a log scale, `ln(tail + 1e-10) / ln(1e-10)`
 *    (NuPIC's `computeLogLikelihood`): 0.5 is a tail probability of 1e-5, 1 is 1e-10 or less.
 * 4. **Novelty** (`novel`). A value beyond the range seen so far by more than `noveltyTolerance` of
 *    that range is novel (NAB's Numenta detector's "spatial anomaly"); if its surprise is also at
 *    least 0.75 (4.5 standard deviations with the default cap), it scores 1 whatever the likelihood.
 *    The second condition keeps the slowly growing records of plain noise from alarming.
 *
 * During the first `warmUpPoints` points the models learn and the likelihood is not scored: the
 * score is 0, except that from half-way through the warm-up a novel value scores 1 (a range needs
 * fewer points than a distribution of surprise).
 *
 * Memory is bounded and independent of the series' length: `3 · seasonalBins + averagingWindow`
 * numbers plus 11 scalars ({@link AnomalyDetector.stateSize}), 165 numbers with the defaults;
 * each point costs O(`averagingWindow`) time.
 *
 * Scored with NAB's own method (`src/core/diagnosis/nab-score.ts`) on the NAB dev subset, this
 * detector and its baselines are compared in docs/benchmarks.md (`npm run bench -- nab`); the
 * default parameters were chosen on that same subset.
 *
 * @see Ahmad, Lavin, Purdy, Agha, "Unsupervised real-time anomaly detection for streaming data",
 *   Neurocomputing 262 (2017): the anomaly likelihood (section 4.2) and its use on NAB.
 * @see https://github.com/numenta/nupic `src/nupic/algorithms/anomaly_likelihood.py`: the averaging
 *   window, the lower bounds on mean and variance, the red-zone filter, the log likelihood.
 * @see https://github.com/numenta/NAB `nab/detectors/numenta/numenta_detector.py`: the spatial
 *   anomaly rule (tolerance 0.05 of the range).
 * @see West, "Updating mean and variance estimates: an improved method", CACM 22(9), 1979: the
 *   exponentially weighted mean and variance updates.
 */
import { InputError } from '../errors.js';

/** Options of {@link createAnomalyDetector}; every one has a default. Counts are points unless said otherwise. */
export interface AnomalyDetectorOptions {
  /** Points during which the models learn and the likelihood is not scored (novelty counts from half-way). @default 300 */
  readonly warmUpPoints?: number;
  /** Memory of the level model: its exponential weight is `1 / levelMemory`. @default 3000 */
  readonly levelMemory?: number;
  /** Bins of the UTC day in the time-of-day model (48: half-hours). @default 48 */
  readonly seasonalBins?: number;
  /** Memory of each time-of-day bin, in updates of that bin: its weight is `1 / seasonalMemory`. @default 20 */
  readonly seasonalMemory?: number;
  /** The z-score at which the surprise reaches 1. @default 6 */
  readonly surpriseCap?: number;
  /** Points whose surprise is averaged before the likelihood is taken. @default 10 */
  readonly averagingWindow?: number;
  /** Memory of the long-run distribution of the averaged surprise: its weight is `1 / likelihoodMemory`. @default 5000 */
  readonly likelihoodMemory?: number;
  /** How far beyond the range seen so far a value must be, as a share of that range, to be novel (0 turns the rule off). @default 0.05 */
  readonly noveltyTolerance?: number;
}

/** {@link AnomalyDetectorOptions} with every default applied. */
export type ResolvedAnomalyDetectorOptions = Required<AnomalyDetectorOptions>;

/** The defaults of {@link AnomalyDetectorOptions}. */
export const DEFAULT_ANOMALY_DETECTOR_OPTIONS: ResolvedAnomalyDetectorOptions = Object.freeze({
  warmUpPoints: 300,
  levelMemory: 3000,
  seasonalBins: 48,
  seasonalMemory: 20,
  surpriseCap: 6,
  averagingWindow: 10,
  likelihoodMemory: 5000,
  noveltyTolerance: 0.05,
});

/** What the detector says about one point. */
export interface AnomalyScore {
  /** 0..1: the anomaly likelihood on a log scale, or 1 for a novel value; while warming up, 0 (or 1 for a novel value in its second half). */
  readonly score: number;
  /** 0..1: how far the value is from what the level and time-of-day models predicted. */
  readonly surprise: number;
  /** 0..1: how unusual the recent surprise is for this series; 0.5 while warming up. */
  readonly likelihood: number;
  /** True when the value lies beyond the range seen so far by more than the novelty tolerance. */
  readonly novel: boolean;
  /** True during the first `warmUpPoints` points. */
  readonly warmingUp: boolean;
}

/** One point of a series: a timestamp (ms since the epoch) and a value. */
export interface SeriesPoint {
  readonly t: number;
  readonly value: number;
}

/** A streaming anomaly detector for one series. Not shared between series. */
export interface AnomalyDetector {
  /**
   * Scores the point, then learns it. Points should come in time order; the time only places the
   * point in its bin of the UTC day.
   *
   * @throws INPUT_INVALID when `t` or `value` is not a finite number.
   */
  push(t: number, value: number): AnomalyScore;
  /** Points pushed so far. */
  readonly count: number;
  /** Numbers the detector holds (its whole state): fixed by the options, whatever the series' length. */
  readonly stateSize: number;
  /** The options in force. */
  readonly options: ResolvedAnomalyDetectorOptions;
}

/** Scalars of the state besides the arrays (counted in {@link AnomalyDetector.stateSize}). */
const SCALAR_STATE = 11;

/** The surprise a novel value must also have to score 1: 4.5 standard deviations with the default cap. */
const NOVELTY_MIN_SURPRISE = 0.75;

/** Points a time-of-day bin must have seen before it predicts. */
const MIN_BIN_POINTS = 5;

/** NuPIC's floors on the distribution of the averaged surprise, and its red and yellow tail probabilities. */
const MIN_MEAN = 0.03;
const MIN_VARIANCE = 0.0003;
const RED_TAIL = 1e-5;
const YELLOW_TAIL = 1e-3;

/** The tail probability under which the log score saturates at 1 (NuPIC's `computeLogLikelihood`). */
const LOG_FLOOR = 1e-10;

/** Share of the global variance added to a bin's variance, so a perfectly regular bin still has a scale. */
const BIN_VARIANCE_FLOOR = 1e-4;

const MS_PER_DAY = 86_400_000;

function invalid(message: string, details: Record<string, unknown>): InputError {
  return new InputError('INPUT_INVALID', message, [], { details });
}

/**
 * `options` with every default applied.
 *
 * @throws INPUT_INVALID when a count is not a positive integer (`warmUpPoints` may be 0), a memory
 *   or cap is not a number >= 1 (`surpriseCap` > 0), or `noveltyTolerance` is negative.
 */
export function resolveAnomalyDetectorOptions(options: AnomalyDetectorOptions = {}): ResolvedAnomalyDetectorOptions {
  const resolved = { ...DEFAULT_ANOMALY_DETECTOR_OPTIONS, ...options };
  const problems: string[] = [];
  const integer = (name: keyof ResolvedAnomalyDetectorOptions, min: number): void => {
    if (!Number.isInteger(resolved[name]) || resolved[name] < min) problems.push(`${name} must be an integer >= ${min}`);
  };
  integer('warmUpPoints', 0);
  integer('seasonalBins', 1);
  integer('averagingWindow', 1);
  for (const name of ['levelMemory', 'seasonalMemory', 'likelihoodMemory'] as const) {
    if (!Number.isFinite(resolved[name]) || resolved[name] < 1) problems.push(`${name} must be a number >= 1`);
  }
  if (!Number.isFinite(resolved.surpriseCap) || resolved.surpriseCap <= 0) problems.push('surpriseCap must be a number > 0');
  if (!Number.isFinite(resolved.noveltyTolerance) || resolved.noveltyTolerance < 0) problems.push('noveltyTolerance must be a number >= 0');
  if (problems.length > 0) throw invalid(`Invalid anomaly detector options: ${problems.join('; ')}.`, { problems });
  return Object.freeze(resolved);
}

/** Complementary error function, |relative error| < 1.2e-7 (Numerical Recipes, 3rd ed., section 6.2, `erfccheb`'s Chebyshev fit). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Two-sided Gaussian tail probability of `x` (NuPIC's `tailProbability`: values below the mean are mirrored above it). */
function tailProbability(x: number, mean: number, stdev: number): number {
  const mirrored = x < mean ? 2 * mean - x : x;
  return 0.5 * erfc((mirrored - mean) / stdev / Math.SQRT2);
}

/** The weight of one exponentially weighted update (West 1979): `max(floor, 1 / count)`, so the first points are plainly averaged. */
function ewWeight(count: number, floorWeight: number): number {
  return Math.max(floorWeight, 1 / count);
}

function requireFinite(t: number, value: number): void {
  if (!Number.isFinite(t)) throw invalid(`The timestamp ${String(t)} is not a finite number of ms since the epoch.`, { t });
  if (!Number.isFinite(value)) throw invalid(`The value ${String(value)} at ${t} is not a finite number; drop or fill missing points before scoring.`, { t, value: String(value) });
}

/**
 * A streaming anomaly detector for one series; see the module's documentation for the algorithm.
 *
 * @throws INPUT_INVALID for invalid options (see {@link resolveAnomalyDetectorOptions}).
 */
export function createAnomalyDetector(options: AnomalyDetectorOptions = {}): AnomalyDetector {
  const resolved = resolveAnomalyDetectorOptions(options);
  const levelWeight = 1 / resolved.levelMemory;
  const binWeight = 1 / resolved.seasonalMemory;
  const historyWeight = 1 / resolved.likelihoodMemory;
  const bins = resolved.seasonalBins;
  const binMean = new Float64Array(bins);
  const binVariance = new Float64Array(bins);
  const binCount = new Float64Array(bins);
  const recent = new Float64Array(resolved.averagingWindow); // ring of the last surprises
  // The scalars (SCALAR_STATE of them, counted in stateSize).
  let count = 0;
  let levelMean = 0;
  let levelVariance = 0;
  let recentNext = 0;
  let recentFilled = 0;
  let historyCount = 0;
  let historyMean = 0;
  let historyVariance = 0;
  let previousTail = 1;
  let min = Infinity;
  let max = -Infinity;
  const stateSize = 3 * bins + recent.length + SCALAR_STATE;

  function binOf(t: number): number {
    const ms = ((t % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
    return Math.min(bins - 1, Math.floor((ms / MS_PER_DAY) * bins));
  }

  function surpriseOf(value: number, bin: number): number {
    if (count < 2) return 0;
    const levelZ = Math.abs(value - levelMean) / (Math.sqrt(levelVariance) || Number.MIN_VALUE);
    let z = levelZ;
    if ((binCount[bin] as number) >= MIN_BIN_POINTS) {
      const binStdev = Math.sqrt((binVariance[bin] as number) + BIN_VARIANCE_FLOOR * levelVariance) || Number.MIN_VALUE;
      z = (levelZ + Math.abs(value - (binMean[bin] as number)) / binStdev) / 2;
    }
    return Math.min(1, z / resolved.surpriseCap);
  }

  function learn(value: number, bin: number): void {
    count++;
    let weight = ewWeight(count, levelWeight);
    let delta = value - levelMean;
    levelMean += weight * delta;
    levelVariance = (1 - weight) * (levelVariance + weight * delta * delta);
    const seen = (binCount[bin] as number) + 1;
    binCount[bin] = seen;
    weight = ewWeight(seen, binWeight);
    delta = value - (binMean[bin] as number);
    binMean[bin] = (binMean[bin] as number) + weight * delta;
    binVariance[bin] = (1 - weight) * ((binVariance[bin] as number) + weight * delta * delta);
  }

  function push(t: number, value: number): AnomalyScore {
    requireFinite(t, value);
    const bin = binOf(t);
    const surprise = surpriseOf(value, bin);
    const novel = resolved.noveltyTolerance > 0 && max > min && (value > max + (max - min) * resolved.noveltyTolerance || value < min - (max - min) * resolved.noveltyTolerance);
    learn(value, bin);
    if (value > max) max = value;
    if (value < min) min = value;

    recent[recentNext] = surprise;
    recentNext = (recentNext + 1) % recent.length;
    if (recentFilled < recent.length) recentFilled++;
    let sum = 0;
    for (let index = 0; index < recentFilled; index++) sum += recent[index] as number;
    const average = sum / recentFilled;

    const warmingUp = count <= resolved.warmUpPoints;
    let likelihood = 0.5;
    let tail = 0.5;
    if (!warmingUp) {
      tail = tailProbability(average, Math.max(historyMean, MIN_MEAN), Math.sqrt(Math.max(historyVariance, MIN_VARIANCE)));
      const raw = tail;
      if (tail <= RED_TAIL && previousTail <= RED_TAIL) tail = YELLOW_TAIL;
      previousTail = raw;
      likelihood = 1 - tail;
    }
    // The distribution of the averaged surprise skips the first half of the warm-up, while the models start.
    if (count > resolved.warmUpPoints / 2) {
      historyCount++;
      const weight = ewWeight(historyCount, historyWeight);
      const delta = average - historyMean;
      historyMean += weight * delta;
      historyVariance = (1 - weight) * (historyVariance + weight * delta * delta);
    }
    // The range is worth comparing with sooner than the likelihood: novelty counts from half-way through
    // the warm-up, and only for a value that is also far from its prediction (a record of plain noise is not).
    const noveltyCounts = novel && surprise >= NOVELTY_MIN_SURPRISE && count > resolved.warmUpPoints / 2;
    const score = noveltyCounts ? 1 : warmingUp ? 0 : Math.min(1, Math.max(0, Math.log(tail + LOG_FLOOR) / Math.log(LOG_FLOOR)));
    return { score, surprise, likelihood, novel, warmingUp };
  }

  return {
    push,
    get count() {
      return count;
    },
    stateSize,
    options: resolved,
  };
}

/**
 * Scores a whole series in batch: the scores a fresh streaming detector gives, point by point.
 *
 * @throws INPUT_INVALID for invalid options or a point whose `t` or `value` is not finite.
 */
export function scoreSeries(points: readonly SeriesPoint[], options: AnomalyDetectorOptions = {}): number[] {
  const detector = createAnomalyDetector(options);
  return points.map((point) => detector.push(point.t, point.value).score);
}
