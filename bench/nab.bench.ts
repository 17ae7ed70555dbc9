// Anomaly detection on NAB (issue #5): the built-in detector (src/core/diagnosis/anomaly.ts) scored
// with NAB's own scoring (src/core/diagnosis/nab-score.ts) on the NAB data in ../shared/data/nab-dev
// (or INTERLOCK_NAB_DIR), beside NAB's windowed Gaussian detector and the null detector run in the
// same process, and the streaming throughput of both detectors. Without the data it reports how to get it.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createAnomalyDetector, scoreSeries, DEFAULT_ANOMALY_DETECTOR_OPTIONS, type AnomalyDetectorOptions, type ResolvedAnomalyDetectorOptions } from '../src/core/diagnosis/anomaly.js';
import {
  NAB_NULL_SCORE,
  NAB_PROFILES,
  nabProbationLength,
  nabWindows,
  parseNabTimestamp,
  scoreNabCorpus,
  scoreNabFile,
  type NabCostMatrix,
  type NabFile,
  type NabProfileResult,
  type NabWindow,
} from '../src/core/diagnosis/nab-score.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { REPO_ROOT, formatNumber, markdownTable } from './support/report.js';
import { median, round } from './support/stats.js';

/** Where the data is looked for when INTERLOCK_NAB_DIR is not set: NAB's layout (data/, labels/, config/). */
const DEFAULT_DIR = join(REPO_ROOT, '..', 'shared', 'data', 'nab-dev');

/** Files in the whole NAB corpus (v1.1): with that many, the figures compare with the published ones. */
const FULL_CORPUS_FILES = 58;

const PARAMETERS = {
  /** Runs of each detector over the whole corpus for the throughput figure; the median is reported. */
  throughputRuns: 5,
  detector: DEFAULT_ANOMALY_DETECTOR_OPTIONS,
  /** NAB's windowed Gaussian (nab/detectors/gaussian/windowedGaussian_detector.py): window and step, points. */
  windowedGaussian: { windowSize: 6400, stepSize: 100 },
} as const;

/**
 * Published whole-corpus (58 files) standard-profile scores from NAB's scoreboard (README of
 * numenta/NAB v1.1), for scale only: a score on a subset is not the same figure.
 */
const PUBLISHED_STANDARD: ReadonlyArray<readonly [string, number]> = [
  ['ARTime', 74.9],
  ['Numenta HTM', 70.5],
  ['CAD OSE', 69.9],
  ['earthgecko Skyline', 58.2],
  ['KNN CAD', 58.0],
  ['Relative Entropy', 54.6],
  ['Random Cut Forest', 51.7],
  ['Twitter ADVec v1.0.0', 47.1],
  ['Windowed Gaussian', 39.6],
  ['Etsy Skyline', 35.7],
  ['Random', 11.0],
];

/**
 * NAB's published per-file results of its windowed Gaussian detector, standard profile, at its
 * threshold 1.0 (numenta/NAB `results/windowedGaussian/windowedGaussian_standard_scores.csv` at
 * commit 487c0f97dc8131539db039d45b366b8e9fd48b05): score, TP, TN, FP, FN rows, for the files of the dev subset.
 */
const PUBLISHED_WINDOWED_GAUSSIAN: Readonly<Record<string, readonly [number, number, number, number, number]>> = {
  'artificialWithAnomaly/art_daily_jumpsdown.csv': [-1, 0, 3025, 0, 403],
  'artificialWithAnomaly/art_increase_spike_density.csv': [-1, 0, 3025, 0, 403],
  'artificialWithAnomaly/art_load_balancer_spikes.csv': [-0.6924446095227346, 18, 3010, 15, 385],
  'realAdExchange/exchange-2_cpc_results.csv': [-1, 0, 1218, 0, 163],
  'realAdExchange/exchange-2_cpm_results.csv': [-2, 0, 1219, 0, 162],
  'realAdExchange/exchange-3_cpc_results.csv': [2.5026632611866138, 5, 1154, 1, 148],
  'realAdExchange/exchange-3_cpm_results.csv': [0.862098587352162, 1, 1155, 0, 152],
  'realAdExchange/exchange-4_cpc_results.csv': [0.2922884634276035, 3, 1228, 4, 162],
  'realAdExchange/exchange-4_cpm_results.csv': [1.274710362684976, 4, 1230, 3, 160],
  'realTraffic/TravelTime_387.csv': [-1.7959813307852819, 1, 1870, 6, 248],
  'realTraffic/TravelTime_451.csv': [-1, 0, 1621, 0, 217],
  'realTraffic/occupancy_6005.csv': [-1, 0, 1784, 0, 239],
  'realTraffic/occupancy_t4013.csv': [1.725221520228401, 3, 1875, 0, 247],
  'realTraffic/speed_6005.csv': [-1, 0, 1886, 0, 239],
  'realTraffic/speed_7578.csv': [-4, 0, 842, 0, 116],
  'realTraffic/speed_t4013.csv': [-2, 0, 1871, 0, 250],
  'realTweets/Twitter_volume_AAPL.csv': [1.5139968362565832, 42, 13540, 24, 1546],
  'realTweets/Twitter_volume_AMZN.csv': [1.5584829945714498, 10, 13481, 20, 1570],
  'realTweets/Twitter_volume_CRM.csv': [0.7638457640937151, 10, 13559, 0, 1583],
  'realTweets/Twitter_volume_CVS.csv': [0.77368206139354, 22, 13559, 18, 1504],
  'realTweets/Twitter_volume_FB.csv': [0.11975027819081463, 6, 13486, 15, 1576],
  'realTweets/Twitter_volume_GOOG.csv': [-0.14677735516717338, 23, 13651, 9, 1409],
  'realTweets/Twitter_volume_IBM.csv': [-0.7991094792289368, 14, 13528, 25, 1576],
  'realTweets/Twitter_volume_KO.csv': [-0.914196106944424, 22, 13481, 33, 1565],
  'realTweets/Twitter_volume_PFE.csv': [0.26557999349038663, 7, 13508, 12, 1581],
  'realTweets/Twitter_volume_UPS.csv': [-2.205164668202926, 57, 13468, 63, 1528],
};

// ---------------------------------------------------------------------------------------------
// The corpus

interface Series {
  readonly name: string;
  readonly timestamps: number[];
  readonly values: number[];
  readonly windows: NabWindow[];
  /** Timestamps (ms) of the labelled anomalies, from combined_labels.json. */
  readonly labels: number[];
}

interface Corpus {
  readonly dir: string;
  readonly series: Series[];
  readonly profiles: Record<string, NabCostMatrix>;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** Reads a NAB data file: a `timestamp,value` header, then one row per point. */
async function readSeries(path: string): Promise<{ timestamps: number[]; values: number[] }> {
  const lines = (await readFile(path, 'utf8')).trim().split(/\r?\n/);
  const timestamps: number[] = [];
  const values: number[] = [];
  for (const line of lines.slice(1)) {
    const [time, value] = line.split(',');
    timestamps.push(parseNabTimestamp(time ?? ''));
    values.push(Number(value));
  }
  return { timestamps, values };
}

/** Loads the corpus: every file named in labels/combined_windows.json, in name order. */
async function loadCorpus(dir: string): Promise<Corpus> {
  const windows = await readJson<Record<string, Array<[string, string]>>>(join(dir, 'labels', 'combined_windows.json'));
  const labels = await readJson<Record<string, string[]>>(join(dir, 'labels', 'combined_labels.json'));
  const profileFile = await readJson<Record<string, { CostMatrix: NabCostMatrix }>>(join(dir, 'config', 'profiles.json'));
  const profiles = Object.fromEntries(Object.entries(profileFile).map(([name, profile]) => [name, { tpWeight: profile.CostMatrix.tpWeight, fpWeight: profile.CostMatrix.fpWeight, fnWeight: profile.CostMatrix.fnWeight }]));
  const series: Series[] = [];
  for (const name of Object.keys(windows).sort()) {
    const { timestamps, values } = await readSeries(join(dir, 'data', name));
    series.push({
      name,
      timestamps,
      values,
      windows: (windows[name] ?? []).map(([start, end]) => ({ start: parseNabTimestamp(start), end: parseNabTimestamp(end) })),
      labels: (labels[name] ?? []).map(parseNabTimestamp),
    });
  }
  return { dir, series, profiles };
}

/** Data files under `dir/data` (any depth), to tell a subset from the whole corpus. */
async function countDataFiles(dir: string): Promise<number> {
  const entries = await readdir(join(dir, 'data'), { recursive: true });
  return entries.filter((entry) => entry.endsWith('.csv')).length;
}

// ---------------------------------------------------------------------------------------------
// The baseline: NAB's windowed Gaussian detector, as numenta/NAB runs it

/** Complementary error function (Numerical Recipes, |relative error| < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/**
 * NAB's windowed Gaussian: the score of a value is one minus its Gaussian tail probability under the
 * mean and (population) standard deviation of the previous values in a sliding window of
 * `windowSize`; once the window is full, those statistics are refreshed every `stepSize` points, as
 * NAB's detector slides its window by `stepSize` at a time. The window's mean and variance are kept
 * with Welford's add/remove updates (O(1) per point) rather than recomputed, so the throughput
 * comparison is with an efficient baseline; the scores agree with NAB's to rounding.
 */
function createWindowedGaussian(windowSize: number, stepSize: number): { push(value: number): number; stateSize(): number } {
  const window = new Float64Array(windowSize);
  let size = 0;
  let oldest = 0;
  let runningMean = 0;
  let runningM2 = 0;
  let sinceRefresh = 0;
  let mean = 0;
  let std = 1;
  const refresh = (): void => {
    mean = runningMean;
    std = Math.sqrt(Math.max(0, runningM2) / size);
    if (std === 0) std = 0.000001;
  };
  const add = (value: number): void => {
    size++;
    const delta = value - runningMean;
    runningMean += delta / size;
    runningM2 += delta * (value - runningMean);
  };
  const remove = (value: number): void => {
    size--;
    const delta = value - runningMean;
    runningMean -= delta / size;
    runningM2 -= delta * (value - runningMean);
  };
  return {
    push(value) {
      let score = 0;
      if (size > 0) {
        const mirrored = value < mean ? 2 * mean - value : value;
        score = 1 - 0.5 * erfc((mirrored - mean) / std / 1.4142);
      }
      if (size < windowSize) {
        window[size] = value;
        add(value);
        refresh();
      } else {
        remove(window[oldest] as number);
        window[oldest] = value;
        add(value);
        oldest = (oldest + 1) % windowSize;
        if (++sinceRefresh === stepSize) {
          sinceRefresh = 0;
          refresh();
        }
      }
      return score;
    },
    stateSize: () => windowSize + 7,
  };
}

// ---------------------------------------------------------------------------------------------
// Detectors over the corpus

interface DetectorRun {
  readonly scores: number[][];
  /** Largest state over the corpus, numbers. */
  readonly stateSize: number;
}

function runInterlock(corpus: Corpus, options: AnomalyDetectorOptions = {}): DetectorRun {
  let stateSize = 0;
  const scores = corpus.series.map((series) => {
    const detector = createAnomalyDetector(options);
    const out = series.values.map((value, index) => detector.push(series.timestamps[index] as number, value).score);
    stateSize = Math.max(stateSize, detector.stateSize);
    return out;
  });
  return { scores, stateSize };
}

function runWindowedGaussian(corpus: Corpus): DetectorRun {
  let stateSize = 0;
  const scores = corpus.series.map((series) => {
    const detector = createWindowedGaussian(PARAMETERS.windowedGaussian.windowSize, PARAMETERS.windowedGaussian.stepSize);
    const out = series.values.map((value) => detector.push(value));
    stateSize = Math.max(stateSize, detector.stateSize());
    return out;
  });
  return { scores, stateSize };
}

/** Points per second of `run` over the whole corpus: the median of `runs` runs, after one warm-up run. */
function throughput(corpus: Corpus, run: (corpus: Corpus) => unknown, runs: number): number {
  const points = corpus.series.reduce((sum, series) => sum + series.values.length, 0);
  run(corpus);
  const rates: number[] = [];
  for (let index = 0; index < runs; index++) {
    const started = performance.now();
    run(corpus);
    rates.push(points / ((performance.now() - started) / 1000));
  }
  return round(median(rates), 0);
}

function nabFiles(corpus: Corpus, scores: readonly number[][]): NabFile[] {
  return corpus.series.map((series, index) => ({ name: series.name, timestamps: series.timestamps, windows: series.windows, scores: scores[index] as number[] }));
}

/** Per category (the first folder of the file's path): windows with a detection after probation, false-positive rows, raw score. */
function byCategory(corpus: Corpus, scores: readonly number[][], result: NabProfileResult): Map<string, { files: number; windows: number; detected: number; falsePositives: number; score: number }> {
  const categories = new Map<string, { files: number; windows: number; detected: number; falsePositives: number; score: number }>();
  corpus.series.forEach((series, index) => {
    const category = series.name.split('/')[0] ?? series.name;
    const entry = categories.get(category) ?? { files: 0, windows: 0, detected: 0, falsePositives: 0, score: 0 };
    const fileScores = scores[index] as number[];
    const probation = nabProbationLength(series.values.length);
    const file = result.files[index];
    entry.files++;
    entry.windows += series.windows.length;
    entry.detected += series.windows.filter((window) => series.timestamps.some((time, row) => row >= probation && time >= window.start && time <= window.end && (fileScores[row] as number) >= result.threshold)).length;
    entry.falsePositives += file?.fp ?? 0;
    entry.score += file?.score ?? 0;
    categories.set(category, entry);
  });
  return categories;
}

/**
 * Compares this run's windowed Gaussian, scored at NAB's threshold 1.0, with NAB's published
 * per-file results: where the detections agree (the same TP, TN, FP and FN counts), the scores must
 * agree too, which checks the scoring on real files; where they do not, the two detectors' scores differ.
 */
function checkPublished(corpus: Corpus, gaussianScores: readonly number[][]): { files: number; sameDetections: number; sameScore: number; largestDifference: number } {
  let files = 0;
  let sameDetections = 0;
  let sameScore = 0;
  let largestDifference = 0;
  corpus.series.forEach((series, index) => {
    const published = PUBLISHED_WINDOWED_GAUSSIAN[series.name];
    if (published === undefined) return;
    files++;
    const [score, tp, tn, fp, fn] = published;
    const ours = scoreNabFile({ name: series.name, timestamps: series.timestamps, windows: series.windows, scores: gaussianScores[index] as number[] }, NAB_PROFILES.standard, 1);
    if (ours.tp !== tp || ours.tn !== tn || ours.fp !== fp || ours.fn !== fn) return;
    sameDetections++;
    const difference = Math.abs(ours.score - score);
    largestDifference = Math.max(largestDifference, difference);
    if (difference <= 1e-12) sameScore++;
  });
  return { files, sameDetections, sameScore, largestDifference };
}

/** Each option of the detector halved and doubled, one at a time (counts rounded, at least 1). */
function sensitivityVariants(): Array<{ option: keyof ResolvedAnomalyDetectorOptions; options: AnomalyDetectorOptions }> {
  const integers = new Set<keyof ResolvedAnomalyDetectorOptions>(['warmUpPoints', 'seasonalBins', 'averagingWindow']);
  return (Object.keys(DEFAULT_ANOMALY_DETECTOR_OPTIONS) as Array<keyof ResolvedAnomalyDetectorOptions>).flatMap((option) =>
    [0.5, 2].map((factor) => {
      const value = DEFAULT_ANOMALY_DETECTOR_OPTIONS[option] * factor;
      return { option, options: { [option]: integers.has(option) ? Math.max(1, Math.round(value)) : value } };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The run

/** `dir` relative to the repository when it is near it (`../shared/data/nab-dev`), else absolute. */
function displayDir(dir: string): string {
  const path = relative(REPO_ROOT, dir);
  return path === '' || path.startsWith(join('..', '..')) ? dir : path;
}

/** The options of the first variant that scored `standard`, e.g. `averagingWindow: 5`. */
function describeVariant(variants: ReadonlyArray<{ options: AnomalyDetectorOptions; standard: number }>, standard: number): string {
  const variant = variants.find((entry) => entry.standard === standard);
  return variant === undefined ? '' : Object.entries(variant.options).map(([name, value]) => `\`${name}: ${String(value)}\``).join(', ');
}

/** A threshold for the docs: four digits, or `1 − 2.3e-13` for one that close to 1. */
function formatThreshold(threshold: number): string {
  return threshold > 0.9999 && threshold < 1 ? `1 − ${(1 - threshold).toExponential(1)}` : threshold.toPrecision(4);
}

function missingData(dir: string): BenchmarkReport {
  const shown = displayDir(dir);
  return {
    parameters: { dataDir: shown, found: false },
    figures: {},
    ratios: {},
    markdown: [
      `**Not measured: the NAB data was not found** at \`${shown}\` (looked for \`labels/combined_windows.json\` there).`,
      '',
      'To run this benchmark, point `INTERLOCK_NAB_DIR` at a folder in the layout of the [Numenta Anomaly Benchmark](https://github.com/numenta/NAB) (MIT): `data/<category>/<file>.csv`, `labels/combined_windows.json`, `labels/combined_labels.json` and `config/profiles.json`. A clone of numenta/NAB has that layout and gives the whole corpus (58 files); the Interlock workspace keeps a 34-file dev subset in `../shared/data/nab-dev`, which this benchmark reads by default:',
      '',
      '```sh',
      'git clone --depth 1 https://github.com/numenta/NAB.git /tmp/NAB',
      'INTERLOCK_NAB_DIR=/tmp/NAB npm run bench -- nab',
      '```',
    ].join('\n'),
  };
}

async function measure(progress: Progress): Promise<BenchmarkReport> {
  const dir = resolve(process.env.INTERLOCK_NAB_DIR ?? DEFAULT_DIR);
  if (!existsSync(join(dir, 'labels', 'combined_windows.json'))) {
    progress(`no NAB data at ${dir}; writing how to get it`);
    return missingData(dir);
  }
  const corpus = await loadCorpus(dir);
  const dataFiles = await countDataFiles(dir);
  const points = corpus.series.reduce((sum, series) => sum + series.values.length, 0);
  const windowCount = corpus.series.reduce((sum, series) => sum + series.windows.length, 0);
  const full = corpus.series.length === FULL_CORPUS_FILES;
  const corpusName = full ? 'the whole NAB corpus' : `a NAB subset (${corpus.series.length} of NAB's ${FULL_CORPUS_FILES} files)`;
  progress(`loaded ${corpus.series.length} files (${dataFiles} in data/), ${formatNumber(points, 0)} points, ${windowCount} windows from ${dir}`);

  // NAB's labeler must give back the windows of the label file from the labelled anomalies.
  const labelerAgrees = corpus.series.filter((series) => JSON.stringify(nabWindows(series.timestamps, series.labels)) === JSON.stringify(series.windows)).length;

  const interlock = runInterlock(corpus);
  const gaussian = runWindowedGaussian(corpus);
  // Batch must equal the stream, point for point.
  const batchEqualsStream = corpus.series.every((series, index) => {
    const batch = scoreSeries(series.values.map((value, row) => ({ t: series.timestamps[row] as number, value })));
    const stream = interlock.scores[index] as number[];
    return batch.length === stream.length && batch.every((score, row) => score === stream[row]);
  });
  if (!batchEqualsStream) throw new Error('scoreSeries differs from the streaming detector on the corpus');
  const published = checkPublished(corpus, gaussian.scores);
  if (published.sameScore !== published.sameDetections) throw new Error(`the scoring disagrees with NAB's published windowed Gaussian results on ${published.sameDetections - published.sameScore} file(s) with the same detections (largest difference ${published.largestDifference})`);
  progress(`scored ${points} points with both detectors; labeler agrees on ${labelerAgrees}/${corpus.series.length} files; batch equals stream`);

  const nullScores = corpus.series.map((series) => new Array<number>(series.values.length).fill(NAB_NULL_SCORE));
  const profiles = Object.entries(corpus.profiles);
  const results = profiles.map(([name, cost]) => ({
    name,
    interlock: scoreNabCorpus(nabFiles(corpus, interlock.scores), cost),
    gaussian: scoreNabCorpus(nabFiles(corpus, gaussian.scores), cost),
    null: scoreNabCorpus(nabFiles(corpus, nullScores), cost),
  }));
  for (const result of results) progress(`${result.name}: Interlock ${result.interlock.normalized.toFixed(1)}, windowed Gaussian ${result.gaussian.normalized.toFixed(1)}, null ${result.null.normalized.toFixed(1)}`);

  // What each part contributes, and how much the defaults were tuned: the standard profile only.
  const standardCost = corpus.profiles.standard ?? NAB_PROFILES.standard;
  const standardOf = (options: AnomalyDetectorOptions): number => round(scoreNabCorpus(nabFiles(corpus, runInterlock(corpus, options).scores), standardCost).normalized, 2);
  const ablation = {
    withoutNovelty: standardOf({ noveltyTolerance: 0 }),
    // One bin remembering as long as the level model: the time-of-day model becomes a copy of the level model.
    withoutTimeOfDay: standardOf({ seasonalBins: 1, seasonalMemory: DEFAULT_ANOMALY_DETECTOR_OPTIONS.levelMemory }),
  };
  const sensitivity = sensitivityVariants().map((variant) => ({ ...variant, standard: standardOf(variant.options) }));
  const sensitivityScores = sensitivity.map((variant) => variant.standard);
  progress(`ablation: without novelty ${ablation.withoutNovelty}, without the time-of-day model ${ablation.withoutTimeOfDay}; options halved or doubled: ${Math.min(...sensitivityScores)} to ${Math.max(...sensitivityScores)}`);

  const interlockPerSecond = throughput(corpus, (data) => runInterlock(data), PARAMETERS.throughputRuns);
  const gaussianPerSecond = throughput(corpus, runWindowedGaussian, PARAMETERS.throughputRuns);
  progress(`throughput: Interlock ${formatNumber(interlockPerSecond, 0)} points/s, windowed Gaussian ${formatNumber(gaussianPerSecond, 0)} points/s`);

  const standard = results.find((result) => result.name === 'standard') ?? results[0];
  if (standard === undefined) throw new Error(`no scoring profiles in ${join(dir, 'config', 'profiles.json')}`);
  const interlockCategories = byCategory(corpus, interlock.scores, standard.interlock);
  const gaussianCategories = byCategory(corpus, gaussian.scores, standard.gaussian);

  const figures = {
    corpus: { dir: displayDir(dir), files: corpus.series.length, dataFiles, points, windows: windowCount, full },
    labelerAgreesOnFiles: labelerAgrees,
    publishedWindowedGaussianCheck: published,
    batchEqualsStream,
    profiles: Object.fromEntries(results.map((result) => [result.name, {
      interlock: { normalized: round(result.interlock.normalized, 2), raw: round(result.interlock.score, 4), threshold: result.interlock.threshold },
      windowedGaussian: { normalized: round(result.gaussian.normalized, 2), raw: round(result.gaussian.score, 4), threshold: result.gaussian.threshold },
      null: { normalized: round(result.null.normalized, 2), raw: round(result.null.score, 4) },
      nullRaw: result.interlock.nullScore,
      perfectRaw: result.interlock.perfectScore,
    }])),
    standardPerFile: standard.interlock.files.map((file, index) => ({ file: file.name, interlock: round(file.score, 4), interlockFp: file.fp, windowedGaussian: round(standard.gaussian.files[index]?.score ?? 0, 4) })),
    standardWithoutNovelty: ablation.withoutNovelty,
    standardWithoutTimeOfDay: ablation.withoutTimeOfDay,
    standardSensitivity: sensitivity.map((variant) => ({ options: variant.options, standard: variant.standard })),
    interlockPointsPerSecond: interlockPerSecond,
    windowedGaussianPointsPerSecond: gaussianPerSecond,
    interlockStateNumbers: interlock.stateSize,
    windowedGaussianStateNumbers: gaussian.stateSize,
  };
  const ratios = {
    throughput: round(gaussianPerSecond / interlockPerSecond),
    stateSize: round(interlock.stateSize / gaussian.stateSize, 3),
  };

  const score = (value: number): string => formatNumber(value, 1);
  const profileHeader = results.map((result) => `\`${result.name}\``);
  const subsetLabel = full ? 'whole NAB corpus' : 'NAB dev subset';
  const markdown = [
    `NAB's scoring, reimplemented (\`src/core/diagnosis/nab-score.ts\`: windows, probation, scaled sigmoid, the first detection in a window, false positives relative to the previous window, one threshold per detector and profile by NAB's sweep over the whole corpus, normalisation with the null and perfect detectors), applied to ${corpusName}: ${formatNumber(points, 0)} points, ${windowCount} anomaly windows, from \`${displayDir(dir)}\`. The detectors read each series point by point, as a stream, with no knowledge of its length, range or labels. The baseline is NAB's windowed Gaussian detector (window ${formatNumber(PARAMETERS.windowedGaussian.windowSize, 0)} points, step ${PARAMETERS.windowedGaussian.stepSize}), reimplemented and run here; the null detector (a constant ${NAB_NULL_SCORE}) scores 0 and the perfect one 100 by definition. Interlock's detector runs with its defaults (\`DEFAULT_ANOMALY_DETECTOR_OPTIONS\`), which were chosen on this same data: read its figure as a development score, not a held-out one.`,
    '',
    markdownTable(
      [`normalised NAB score, ${subsetLabel}`, ...profileHeader],
      [
        ['Interlock (`createAnomalyDetector`, defaults)', ...results.map((result) => `**${score(result.interlock.normalized)}**`)],
        ['NAB windowed Gaussian (same run)', ...results.map((result) => score(result.gaussian.normalized))],
        ['null detector (same run)', ...results.map((result) => score(result.null.normalized))],
        ['threshold chosen by the sweep: Interlock / windowed Gaussian', ...results.map((result) => `${formatThreshold(result.interlock.threshold)} / ${formatThreshold(result.gaussian.threshold)}`)],
        ['raw score: Interlock / windowed Gaussian / null / perfect', ...results.map((result) => `${result.interlock.score.toFixed(2)} / ${result.gaussian.score.toFixed(2)} / ${result.null.score.toFixed(2)} / ${result.interlock.perfectScore.toFixed(0)}`)],
      ],
    ),
    '',
    `Standard profile by category (at each detector's corpus threshold):`,
    '',
    markdownTable(
      ['category', 'files', 'windows', 'windows detected: Interlock / windowed Gaussian', 'false-positive rows: Interlock / windowed Gaussian', 'raw score: Interlock / windowed Gaussian'],
      [...interlockCategories.entries()].map(([category, ours]) => {
        const theirs = gaussianCategories.get(category);
        return [category, String(ours.files), String(ours.windows), `${ours.detected} / ${theirs?.detected ?? 0}`, `${ours.falsePositives} / ${theirs?.falsePositives ?? 0}`, `${ours.score.toFixed(2)} / ${(theirs?.score ?? 0).toFixed(2)}`];
      }),
    ),
    '',
    markdownTable(
      ['Interlock, standard profile', `normalised score, ${subsetLabel}`],
      [
        ['defaults', score(standard.interlock.normalized)],
        ['without the novelty rule (`noveltyTolerance: 0`)', score(ablation.withoutNovelty)],
        ['without the time-of-day model (`seasonalBins: 1, seasonalMemory: 3000`: a copy of the level model)', score(ablation.withoutTimeOfDay)],
        [`each of the ${Object.keys(DEFAULT_ANOMALY_DETECTOR_OPTIONS).length} options halved or doubled, one at a time (${sensitivity.length} runs): lowest / highest`, `${score(Math.min(...sensitivityScores))} (${describeVariant(sensitivity, Math.min(...sensitivityScores))}) / ${score(Math.max(...sensitivityScores))} (${describeVariant(sensitivity, Math.max(...sensitivityScores))})`],
      ],
    ),
    '',
    full
      ? 'Published standard-profile scores on the same whole corpus, from NAB\'s scoreboard, for comparison:'
      : `Published standard-profile scores on the **whole** NAB corpus (${FULL_CORPUS_FILES} files), from NAB's scoreboard. They are **not the same figure** as the subset scores above (other files, other windows, other thresholds); they show the scale only:`,
    '',
    markdownTable(['detector (published, whole corpus)', 'standard'], PUBLISHED_STANDARD.map(([name, value]) => [name, score(value)])),
    '',
    markdownTable(
      ['streaming, one point at a time, one thread', 'Interlock', 'NAB windowed Gaussian', 'ratio'],
      [
        ['points per second (median of ' + String(PARAMETERS.throughputRuns) + ' runs over the corpus)', formatNumber(interlockPerSecond, 0), formatNumber(gaussianPerSecond, 0), `${formatNumber(ratios.throughput, 2)}×`],
        ['µs per point', formatNumber(1e6 / interlockPerSecond, 2), formatNumber(1e6 / gaussianPerSecond, 2), ''],
        ['state per series (numbers held)', formatNumber(interlock.stateSize, 0), formatNumber(gaussian.stateSize, 0), `${formatNumber(ratios.stateSize, 3)}×`],
      ],
    ),
    '',
    `Checks in this run: NAB's labeler (\`nabWindows\`) gives back the windows of \`combined_windows.json\` from \`combined_labels.json\` for ${labelerAgrees} of ${corpus.series.length} files; \`scoreSeries\` (batch) gave the same scores as the streaming detector on every file; against NAB's published per-file results of its windowed Gaussian (standard profile, threshold 1.0, ${published.files} of these files), this run's windowed Gaussian makes the same detections (the same TP, TN, FP and FN row counts) on ${published.sameDetections} files, and on all of those the scoring gives NAB's published score (largest difference ${published.largestDifference.toExponential(1)}); on the other ${published.files - published.sameDetections} the published run's detections differ (another version of NAB's detector or data; not investigated), so there the detectors differ, not the scoring. Ratios are the windowed Gaussian over Interlock for throughput (> 1: Interlock is slower) and Interlock over the windowed Gaussian for state.`,
  ].join('\n');
  return { parameters: { ...PARAMETERS, dataDir: displayDir(dir), found: true }, figures, ratios, markdown };
}

/** `npm run bench -- nab`: CPU only, in this process (the runner still checks PostgreSQL first). */
export const benchmark: Benchmark = { name: 'nab', run: (progress) => measure(progress) };
