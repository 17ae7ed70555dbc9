/**
 * The scoring of the Numenta Anomaly Benchmark (NAB), reimplemented to give NAB's own numbers: how
 * good an anomaly detector's scores are on labelled series. Use it to evaluate a detector (the
 * `nab` benchmark scores {@link createAnomalyDetector} with it); it is a pure function of label
 * windows, timestamps and scores.
 *
 * What NAB does, and so what this module does:
 * - Each labelled anomaly has a window of rows around it ({@link nabWindows}, NAB's labeler). The
 *   first `min(floor(0.15 n), 750)` rows of a file of `n` rows are a probation period: not scored.
 * - A score at or above the threshold is a detection. Inside a window of width `w` (rows) whose right
 *   edge is row `R`, a detection at row `i` is worth `σ(-(R - i + 1) / w) · A_TP / σ(-1)` with the
 *   scaled sigmoid `σ(y) = 2 / (1 + e^(5y)) - 1`; only the best (the earliest) detection of a window
 *   counts, and a window without one costs `-A_FN`. A detection outside every window costs
 *   `σ(|R' - i| / (w' - 1)) · A_FP` relative to the previous window (right edge `R'`, width `w'`),
 *   or `-A_FP` before the first window.
 * - One threshold per detector and profile for the whole corpus: NAB's sweep tries every distinct
 *   score as a threshold and keeps the one with the highest total ({@link optimizeNabThreshold}).
 * - The total is normalised with the null detector (a constant 0.5, scored the same way) and the
 *   perfect one (every window detected at its left edge): `100 (S - S_null) / (S_perfect - S_null)`.
 *
 * Where NAB's code would raise an exception this module throws an `INPUT_INVALID` error instead (a
 * window edge that is not a timestamp of its file, a one-row window followed by more rows), and
 * where it would fail on a threshold below every score of a file it counts every row as a detection.
 *
 * @see https://github.com/numenta/NAB `nab/sweeper.py` (scoring and sweep), `nab/scorer.py`,
 *   `nab/optimizer.py`, `nab/runner.py` (normalisation), `nab/labeler.py` (windows)
 * @see Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms: the Numenta Anomaly
 *   Benchmark", IEEE ICMLA 2015, arXiv:1510.03336
 */
import { InputError } from '../errors.js';

/** Weights of true positives, false positives and false negatives (`config/profiles.json` of NAB). */
export interface NabCostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

/** The three scoring profiles of NAB, by the names NAB gives them. */
export const NAB_PROFILES = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 },
} as const satisfies Record<string, NabCostMatrix>;

/** A NAB profile name. */
export type NabProfileName = keyof typeof NAB_PROFILES;

/** Share of each file that is the probation period (NAB's `probationaryPercent`). @default 0.15 */
export const NAB_PROBATION_PERCENT = 0.15;

/** Window size as a share of the file, split over its anomalies (NAB's `windowSize`). @default 0.10 */
export const NAB_WINDOW_SIZE = 0.1;

/** The constant score of NAB's null detector, the lower end of the normalisation. */
export const NAB_NULL_SCORE = 0.5;

/** An anomaly window: the timestamps (ms) of its first and last rows, both inside it. */
export interface NabWindow {
  readonly start: number;
  readonly end: number;
}

/** One data file of a corpus: its rows' timestamps (ms, in file order), a detector's scores (0..1) and its label windows. */
export interface NabFile {
  /** Its path in the corpus, e.g. `realTweets/Twitter_volume_AAPL.csv`; names its windows. */
  readonly name: string;
  readonly timestamps: readonly number[];
  readonly scores: readonly number[];
  /** In time order, not overlapping (as {@link nabWindows} makes them). */
  readonly windows: readonly NabWindow[];
}

/** The outcome at one threshold: the score and the counts of rows after probation (NAB's `ThresholdScore`). */
export interface NabThresholdScore {
  /** A detection is a score `>=` this. 1.1 is NAB's "nothing detected" row. */
  readonly threshold: number;
  readonly score: number;
  /** Rows in a window at or above the threshold. */
  readonly tp: number;
  /** Rows outside windows below the threshold. */
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
  readonly total: number;
}

/** NAB's starting threshold, above every score: the row where nothing is detected. */
const NOTHING_DETECTED = 1.1;

/** Where a row is for the sweep: in probation, outside every window, or in window number `n >= 0`. */
const PROBATION = -2;
const OUTSIDE = -1;

/**
 * NAB's scaled sigmoid of a relative position `y`: `2 / (1 + e^(5y)) - 1`, and -1 beyond `y > 3`.
 * `y = -1` (a window's left edge) gives 0.9866, `y = 0` (its right edge) 0.
 */
export function scaledSigmoid(y: number): number {
  if (y > 3) return -1;
  return 2 * (1 / (1 + Math.exp(-(-5 * y)))) - 1;
}

/** Rows of probation at the start of a file of `rows` rows: `min(floor(p · rows), p · 5000)`. */
export function nabProbationLength(rows: number, probationPercent = NAB_PROBATION_PERCENT): number {
  return Math.min(Math.floor(probationPercent * rows), probationPercent * 5000);
}

function invalid(message: string, details: Record<string, unknown>): InputError {
  return new InputError('INPUT_INVALID', message, [], { details });
}

/**
 * The label windows of one file from its labelled anomalies, as NAB's labeler makes them
 * (`LabelCombiner.applyWindows` and `checkWindows`): `floor(windowSize · n / k)` rows centred on each
 * of the `k` anomalies, clipped to the file; a first window starting inside the probation period is
 * dropped; overlapping windows are merged in one pass, as NAB does.
 *
 * @param timestamps the file's rows, ms, in order.
 * @param anomalies timestamps (ms) of the labelled anomalies; each must be a row of the file.
 * @throws INPUT_INVALID when an anomaly is not a timestamp of the file.
 */
export function nabWindows(timestamps: readonly number[], anomalies: readonly number[], options: { readonly windowSize?: number; readonly probationPercent?: number } = {}): NabWindow[] {
  const windowSize = options.windowSize ?? NAB_WINDOW_SIZE;
  const probationPercent = options.probationPercent ?? NAB_PROBATION_PERCENT;
  const length = timestamps.length;
  const wanted = new Set(anomalies);
  for (const anomaly of wanted) {
    if (!timestamps.includes(anomaly)) throw invalid(`The labelled anomaly at ${new Date(anomaly).toISOString()} is not a timestamp of the file; labels must name rows exactly.`, { anomaly });
  }
  // NAB's `timestamps.isin(trueAnomalies)`: the rows labelled, in file order.
  const indices: number[] = [];
  timestamps.forEach((timestamp, index) => {
    if (wanted.has(timestamp)) indices.push(index);
  });
  if (indices.length === 0) return [];
  const windowLength = Math.trunc((windowSize * length) / indices.length);
  const half = Math.floor(windowLength / 2); // Python 2 integer division in NAB's labeler
  const windows: { start: number; end: number }[] = indices.map((index) => ({
    start: timestamps[Math.max(index - half, 0)] as number,
    end: timestamps[Math.min(index + half, length - 1)] as number,
  }));
  const probationTimestamp = timestamps[Math.floor(nabProbationLength(length, probationPercent))] as number;
  if ((windows[0] as NabWindow).start < probationTimestamp) windows.shift();
  let index = 0;
  while (windows.length - 1 > index) {
    const current = windows[index] as NabWindow;
    const next = windows[index + 1] as NabWindow;
    if (next.start - current.end <= 0) {
      windows[index] = { start: current.start, end: next.end };
      windows.splice(index + 1, 1);
    }
    index++;
  }
  return windows;
}

/** The rows of a file or corpus as the sweep sees them, in columns. */
interface SweepRows {
  readonly scores: Float64Array;
  /** What each row is worth if detected (NAB's `sweepScore`). */
  readonly values: Float64Array;
  /** {@link PROBATION}, {@link OUTSIDE} or the window number (unique over the corpus). */
  readonly windows: Int32Array;
}

function checkScores(file: NabFile): void {
  if (file.scores.length !== file.timestamps.length) {
    throw invalid(`${file.name}: ${file.scores.length} scores for ${file.timestamps.length} timestamps; give one score per row.`, { file: file.name, scores: file.scores.length, timestamps: file.timestamps.length });
  }
  file.scores.forEach((score, row) => {
    if (!Number.isFinite(score)) throw invalid(`${file.name}: the score of row ${row} is not a finite number.`, { file: file.name, row });
  });
}

/**
 * NAB's `Sweeper.calcSweepScore` for one file: what each row is worth if it is a detection, and
 * which window (numbered from `firstWindow`) it belongs to, or none, or probation.
 */
function sweepFile(file: NabFile, cost: NabCostMatrix, probationPercent: number, firstWindow: number, into: SweepRows, offset: number): void {
  checkScores(file);
  const { timestamps } = file;
  const rows = timestamps.length;
  const maxTP = scaledSigmoid(-1);
  const probation = nabProbationLength(rows, probationPercent);
  const indexOf = (timestamp: number): number => {
    const index = timestamps.indexOf(timestamp);
    if (index === -1) throw invalid(`${file.name}: the window edge ${new Date(timestamp).toISOString()} is not a timestamp of the file; windows must name rows exactly.`, { file: file.name, timestamp });
    return index;
  };
  // NAB's labeler refuses a window whose edges are not timestamps of the file before anything is scored.
  for (const window of file.windows) {
    indexOf(window.start);
    indexOf(window.end);
  }
  let next = 0; // next window to enter
  let current = -1; // window we are in, or -1
  let rightIndex = 0;
  let width = 0;
  let previousRightIndex = -1;
  let previousWidth = 0;
  for (let i = 0; i < rows; i++) {
    const time = timestamps[i] as number;
    const upcoming = file.windows[next];
    if (upcoming !== undefined && time === upcoming.start) {
      current = next++;
      rightIndex = indexOf(upcoming.end);
      width = rightIndex - indexOf(upcoming.start) + 1;
    }
    let value: number;
    if (current !== -1) {
      value = (scaledSigmoid(-(rightIndex - i + 1) / width) * cost.tpWeight) / maxTP;
    } else if (previousRightIndex === -1) {
      value = -1 * cost.fpWeight;
    } else {
      if (previousWidth - 1 === 0) throw invalid(`${file.name}: a one-row window is followed by rows; NAB cannot score a row after it (division by zero).`, { file: file.name, row: i });
      value = scaledSigmoid(Math.abs(previousRightIndex - i) / (previousWidth - 1)) * cost.fpWeight;
    }
    into.scores[offset + i] = file.scores[i] as number;
    into.values[offset + i] = value;
    into.windows[offset + i] = i >= probation ? (current === -1 ? OUTSIDE : firstWindow + current) : PROBATION;
    if (current !== -1 && time === (file.windows[current] as NabWindow).end) {
      previousRightIndex = i;
      previousWidth = width;
      current = -1;
    }
  }
}

/** Sweep rows for `files`, their windows numbered one after another. */
function sweepCorpus(files: readonly NabFile[], cost: NabCostMatrix, probationPercent: number): SweepRows {
  const total = files.reduce((sum, file) => sum + file.timestamps.length, 0);
  const rows: SweepRows = { scores: new Float64Array(total), values: new Float64Array(total), windows: new Int32Array(total) };
  let offset = 0;
  let firstWindow = 0;
  for (const file of files) {
    sweepFile(file, cost, probationPercent, firstWindow, rows, offset);
    offset += file.timestamps.length;
    firstWindow += file.windows.length;
  }
  return rows;
}

/**
 * NAB's `Sweeper.calcScoreByThreshold`: the score and counts at every distinct score used as the
 * threshold, from 1.1 (nothing detected) down to the lowest score (everything detected). Probation
 * rows are left out; a window's part is its best detection, else `-A_FN`; false positives add up.
 */
function scoresByThreshold(rows: SweepRows, cost: NabCostMatrix): NabThresholdScore[] {
  const order: number[] = [];
  for (let i = 0; i < rows.windows.length; i++) if (rows.windows[i] !== PROBATION) order.push(i);
  order.sort((a, b) => (rows.scores[b] as number) - (rows.scores[a] as number)); // stable, as Python's sorted
  // NAB's `scoreParts`: "fp" first, then each window in the order it first appears in the sorted rows.
  const windowCount = rows.windows.reduce((max, window) => Math.max(max, window + 1), 0);
  const part = new Float64Array(windowCount);
  const seen = new Uint8Array(windowCount);
  const windowOrder: number[] = [];
  for (const i of order) {
    const window = rows.windows[i] as number;
    if (window !== OUTSIDE && seen[window] === 0) {
      seen[window] = 1;
      part[window] = -cost.fnWeight;
      windowOrder.push(window);
    }
  }
  let fpPart = 0;
  const total = (): number => {
    let sum = 0 + fpPart;
    for (const window of windowOrder) sum += part[window] as number;
    return sum;
  };
  let tn = 0;
  let fn = 0;
  for (const i of order) {
    if (rows.windows[i] === OUTSIDE) tn++;
    else fn++;
  }
  let tp = 0;
  let fp = 0;
  let threshold = NOTHING_DETECTED;
  const result: NabThresholdScore[] = [];
  for (const i of order) {
    const score = rows.scores[i] as number;
    if (score !== threshold) {
      result.push({ threshold, score: total(), tp, tn, fp, fn, total: tp + tn + fp + fn });
      threshold = score;
    }
    const window = rows.windows[i] as number;
    if (window === OUTSIDE) {
      fp++;
      tn--;
      fpPart += rows.values[i] as number;
    } else {
      tp++;
      fn--;
      part[window] = Math.max(part[window] as number, rows.values[i] as number);
    }
  }
  result.push({ threshold, score: total(), tp, tn, fp, fn, total: tp + tn + fp + fn });
  return result;
}

/** Options of the corpus-level functions. */
export interface NabScoringOptions {
  /** @default {@link NAB_PROBATION_PERCENT} */
  readonly probationPercent?: number;
}

/**
 * The threshold that maximises the corpus's total score for one profile (NAB's sweep optimiser,
 * `nab/optimizer.py`): every distinct score is tried; on a tie the higher threshold wins.
 *
 * @throws INPUT_INVALID when a file's scores and timestamps differ in number, a score is not finite,
 *   or a window edge is not a timestamp of its file.
 */
export function optimizeNabThreshold(files: readonly NabFile[], cost: NabCostMatrix, options: NabScoringOptions = {}): { readonly threshold: number; readonly score: number } {
  const rows = sweepCorpus(files, cost, options.probationPercent ?? NAB_PROBATION_PERCENT);
  let best: NabThresholdScore | undefined;
  for (const row of scoresByThreshold(rows, cost)) if (best === undefined || row.score > best.score) best = row;
  const { threshold, score } = best as NabThresholdScore;
  return { threshold, score };
}

/**
 * One file's score and counts at `threshold` (NAB's `Sweeper.scoreDataSet`): the row of the sweep
 * at that threshold, or at the lowest tried threshold above it.
 *
 * @throws INPUT_INVALID as {@link optimizeNabThreshold}.
 */
export function scoreNabFile(file: NabFile, cost: NabCostMatrix, threshold: number, options: NabScoringOptions = {}): NabThresholdScore {
  const rows = sweepCorpus([file], cost, options.probationPercent ?? NAB_PROBATION_PERCENT);
  const byThreshold = scoresByThreshold(rows, cost);
  let previous: NabThresholdScore | undefined;
  for (const row of byThreshold) {
    if (row.threshold === threshold) return row;
    if (row.threshold < threshold) return previous ?? row;
    previous = row;
  }
  // Below every score of the file: NAB would fail here; every row is a detection.
  return byThreshold[byThreshold.length - 1] as NabThresholdScore;
}

/** One file's line in a corpus result. */
export interface NabFileResult extends NabThresholdScore {
  readonly name: string;
}

/** A detector's result on a corpus for one profile. */
export interface NabProfileResult {
  /** The corpus-wide threshold NAB's sweep chose. */
  readonly threshold: number;
  /** The sum of the files' scores at that threshold (NAB's raw score). */
  readonly score: number;
  /** `100 (score - null) / (perfect - null)`: 100 is perfect, 0 is the null detector. */
  readonly normalized: number;
  /** The null detector's raw score on the same corpus and profile. */
  readonly nullScore: number;
  /** Every window detected at its left edge: the number of windows times `tpWeight`. */
  readonly perfectScore: number;
  readonly files: readonly NabFileResult[];
}

/** The raw corpus score of a detector for one profile: threshold by sweep, then the files scored at it. */
function rawCorpusScore(files: readonly NabFile[], cost: NabCostMatrix, options: NabScoringOptions): { threshold: number; score: number; files: NabFileResult[] } {
  const { threshold } = optimizeNabThreshold(files, cost, options);
  const results = files.map((file) => ({ name: file.name, ...scoreNabFile(file, cost, threshold, options) }));
  return { threshold, score: results.reduce((sum, result) => sum + result.score, 0), files: results };
}

/**
 * Scores a detector on a corpus for one profile as NAB's `run.py --optimize --score --normalize`
 * does: the threshold by sweep over the whole corpus, each file scored at it, the total normalised
 * with the null detector (constant {@link NAB_NULL_SCORE}, swept and scored the same way) and the
 * perfect detector. `files` carry the detector's scores.
 *
 * @throws INPUT_INVALID as {@link optimizeNabThreshold}.
 */
export function scoreNabCorpus(files: readonly NabFile[], cost: NabCostMatrix, options: NabScoringOptions = {}): NabProfileResult {
  const detector = rawCorpusScore(files, cost, options);
  const nullFiles = files.map((file) => ({ ...file, scores: new Array<number>(file.timestamps.length).fill(NAB_NULL_SCORE) }));
  const nullScore = rawCorpusScore(nullFiles, cost, options).score;
  const perfectScore = files.reduce((sum, file) => sum + file.windows.length, 0) * cost.tpWeight;
  const normalized = (100 * (detector.score - nullScore)) / (perfectScore - nullScore);
  return { threshold: detector.threshold, score: detector.score, normalized, nullScore, perfectScore, files: detector.files };
}

/**
 * A NAB timestamp (`2014-04-01 00:05:00`, optionally with `.ffffff` fractions as in the label files)
 * as ms since the epoch, read as UTC (NAB's timestamps carry no zone; only their order and equality matter).
 *
 * @throws INPUT_INVALID when `text` is not of that form.
 */
export function parseNabTimestamp(text: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (match === null) throw invalid(`"${text}" is not a NAB timestamp; expected YYYY-MM-DD HH:MM:SS[.ffffff].`, { text });
  const [, year, month, day, hour, minute, second, fraction] = match;
  const ms = fraction === undefined ? 0 : Math.floor(Number(fraction.padEnd(6, '0')) / 1000);
  return Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), ms);
}
