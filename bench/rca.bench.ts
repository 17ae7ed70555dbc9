// Root-cause service ranking (issue #5) on the labelled Sock Shop fault-injection cases of RCAEval
// (shared/data/rca-dev/sockshop): AC@1, AC@3 and Avg@5 of Interlock's BARO with the labelled onset and
// with the onset its BOCPD detects, against baselines measured in the same run (NSigma, a replica of
// RCAEval's BARO code, random rankings) and BARO's published figure; the calibration of the top-1
// confidence; time per case. Reads the folder from INTERLOCK_RCA_DIR or ../shared/data/rca-dev/sockshop
// and writes a section saying how to get it when it is absent.
import { detectOnset } from '../src/core/diagnosis/change-point.js';
import { confidencesFromScores, rankRootCauses, type MetricSeries, type RcaOptions } from '../src/core/diagnosis/rca.js';
import { quantileOfSorted } from '../src/core/diagnosis/quantile.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { formatNumber, markdownTable } from './support/report.js';
import { displayDir, hasSockShopCases, readSockShopCase, readSockShopLabels, SOCK_SHOP_DATASET, sockShopDir, splitColumn, type SockShopLabel } from './support/sockshop.js';
import { median, round, summarize, type Summary } from './support/stats.js';
import { seededRandom } from '../test/support/random.js';

/** What this benchmark runs; recorded in the results file. */
const PARAMETERS = {
  dataset: SOCK_SHOP_DATASET,
  /** Confidence temperature of Interlock's ranking (the default of rankRootCauses). */
  temperature: 0.5,
  /** Scale floors (minRelativeScale) whose Avg@5 is shown beside the default's. */
  scaleFloorSweep: [0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
  /** Temperatures whose Brier score is shown beside the default's (in-sample: not a fit). */
  temperatureSweep: [0.25, 0.5, 1, 2],
  randomSeeds: 100,
  seed: 20_260_505,
  /** Confidence bins of the reliability table (lower edges; the last bin includes 1). */
  reliabilityBins: [0, 0.5, 0.7, 0.9, 0.99],
} as const;

/**
 * Published Avg@5 on all 50 cpu and mem cases of RE1 Sock Shop (25 each), as quoted in
 * shared/data/README.md from the RCAEval paper (Pham et al., WWW Companion 2025).
 */
const PUBLISHED = {
  baro: { cpu: 0.99, mem: 0.99 },
  nsigma: { cpu: 0.98, mem: 0.99 },
  causalrca: { cpu: 0.84, mem: 0.84 },
  random: { cpu: 0.36, mem: 0.33 },
} as const;

/** A loaded case: its label and its metrics, normal rows then anomalous rows. */
interface Case {
  readonly label: SockShopLabel;
  readonly series: MetricSeries[];
  readonly onsetMs: number;
  /** Index of the first anomalous row. */
  readonly onsetRow: number;
  readonly rows: number;
  /** Hours between the last normal row and the first anomalous one. */
  readonly gapHours: number;
}

/** Loads one case; a column `<service>_<metric>` becomes a series of that service (RCAEval's convention). */
function loadCase(dir: string, label: SockShopLabel): Case {
  const { header, rows, timestamps, normalRows } = readSockShopCase(dir, label);
  const series = header.slice(1).map((column, index): MetricSeries => ({ ...splitColumn(column), timestamps, values: rows.map((row) => row[index + 1] as number) }));
  const onsetMs = Number(label.anomalous_start) * 1000;
  if (timestamps[normalRows] !== onsetMs) throw new Error(`${label.case}: anomalous_start ${label.anomalous_start} is not the first anomalous row`);
  return { label, series, onsetMs, onsetRow: normalRows, rows: rows.length, gapHours: (Number(label.anomalous_start) - Number(label.normal_end)) / 3600 };
}

// ---------------------------------------------------------------------------------------------
// A replica of RCAEval's BARO code path (RCAEval/e2e/baro.py with RCAEval/io/time_series.py
// `preprocess`): columns constant within either period are dropped, memory is divided by 1e6 (MB),
// scikit-learn's RobustScaler replaces an IQR of 0 by 1 (in the column's unit), score = max of the
// scaled anomalous values; services ranked by their first metric. The check that Interlock's ranking
// reproduces the reference, and where the two differ.

function replicaRanking(one: Case): string[] {
  const scores: Array<{ service: string; score: number }> = [];
  for (const series of one.series) {
    const normal: number[] = [];
    const anomalous: number[] = [];
    series.values.forEach((value, index) => ((series.timestamps[index] as number) < one.onsetMs ? normal : anomalous).push((value as number) / (series.metric.endsWith('mem') ? 1e6 : 1)));
    if (normal.every((value) => value === normal[0]) || anomalous.every((value) => value === anomalous[0])) continue;
    const sorted = Float64Array.from(normal).sort();
    const iqr = quantileOfSorted(sorted, 0.75) - quantileOfSorted(sorted, 0.25);
    const centre = quantileOfSorted(sorted, 0.5);
    scores.push({ service: series.service ?? series.metric, score: Math.max(...anomalous.map((value) => (value - centre) / (iqr === 0 ? 1 : iqr))) });
  }
  scores.sort((a, b) => b.score - a.score);
  return [...new Set(scores.map((score) => score.service))];
}

// ---------------------------------------------------------------------------------------------
// Accuracy and calibration

/** One method's outcome on one case: the root cause's rank (1-based; Infinity when absent) and the top-1 confidence. */
interface Outcome {
  readonly case: string;
  readonly faultType: string;
  readonly rank: number;
  readonly top: string;
  readonly confidence: number | null;
}

/** AC@1..5 and Avg@5 of a set of outcomes (AC@k: share of cases with the root cause in the top k). */
interface Accuracy {
  readonly cases: number;
  readonly acAt: readonly number[];
  readonly ac1: number;
  readonly ac3: number;
  readonly avg5: number;
}

function accuracy(outcomes: readonly Outcome[]): Accuracy {
  const acAt = [1, 2, 3, 4, 5].map((k) => outcomes.filter((outcome) => outcome.rank <= k).length / outcomes.length);
  return { cases: outcomes.length, acAt: acAt.map((value) => round(value, 4)), ac1: round(acAt[0] as number, 4), ac3: round(acAt[2] as number, 4), avg5: round(acAt.reduce((sum, value) => sum + value, 0) / 5, 4) };
}

/** Overall and per fault type. */
function accuracyByFault(outcomes: readonly Outcome[]): FaultAccuracy {
  return { all: accuracy(outcomes), cpu: accuracy(outcomes.filter((outcome) => outcome.faultType === 'cpu')), mem: accuracy(outcomes.filter((outcome) => outcome.faultType === 'mem')) };
}

/** One row of a reliability table: cases whose top-1 confidence falls in [from, to). */
interface ReliabilityBin {
  readonly from: number;
  readonly to: number;
  readonly cases: number;
  readonly meanConfidence: number | null;
  readonly top1Accuracy: number | null;
}

/** Reliability table and Brier score of "the top-1 service is the root cause" against its confidence. */
function calibration(outcomes: readonly Outcome[]): { brier: number; bins: ReliabilityBin[] } {
  const scored = outcomes.filter((outcome) => outcome.confidence !== null);
  const brier = scored.reduce((sum, outcome) => sum + ((outcome.confidence as number) - (outcome.rank === 1 ? 1 : 0)) ** 2, 0) / scored.length;
  const edges = [...PARAMETERS.reliabilityBins, 1];
  const bins = PARAMETERS.reliabilityBins.map((from, index): ReliabilityBin => {
    const to = edges[index + 1] as number;
    const last = index === PARAMETERS.reliabilityBins.length - 1;
    const inBin = scored.filter((outcome) => (outcome.confidence as number) >= from && ((outcome.confidence as number) < to || (last && (outcome.confidence as number) <= to)));
    return {
      from,
      to,
      cases: inBin.length,
      meanConfidence: inBin.length === 0 ? null : round(inBin.reduce((sum, outcome) => sum + (outcome.confidence as number), 0) / inBin.length, 4),
      top1Accuracy: inBin.length === 0 ? null : round(inBin.filter((outcome) => outcome.rank === 1).length / inBin.length, 4),
    };
  });
  return { brier: round(brier, 6), bins };
}

function outcomeOf(one: Case, services: readonly string[], confidence: number | null): Outcome {
  const index = services.indexOf(one.label.root_cause_service);
  return { case: one.label.case, faultType: one.label.fault_type, rank: index === -1 ? Infinity : index + 1, top: services[0] ?? '', confidence };
}

// ---------------------------------------------------------------------------------------------
// The run

/** Accuracy overall and by fault type. */
interface FaultAccuracy {
  readonly all: Accuracy;
  readonly cpu: Accuracy;
  readonly mem: Accuracy;
}

/** A method measured here: accuracy, outcomes per case and, for Interlock's rankings, calibration and time. */
interface MethodFigures {
  readonly accuracy: FaultAccuracy;
  readonly outcomes: readonly Outcome[];
}

interface TimedMethodFigures extends MethodFigures {
  readonly calibration: { brier: number; bins: ReliabilityBin[] };
  readonly msPerCase: Summary;
}

/** Everything the run measured; the results file's `figures`. */
interface RcaFigures {
  readonly cases: number;
  readonly services: readonly string[];
  readonly gapHours: { readonly min: number; readonly max: number };
  readonly baroLabelled: TimedMethodFigures;
  readonly baroDetected: TimedMethodFigures;
  readonly nsigma: TimedMethodFigures;
  readonly baroNoFloor: MethodFigures;
  readonly rcaevalReplica: MethodFigures;
  readonly scaleFloorSweep: ReadonlyArray<{ minRelativeScale: number } & FaultAccuracy>;
  readonly random: { all: { ac1: number; ac3: number; avg5: number }; cpu: { avg5: number }; mem: { avg5: number } };
  readonly temperatureSweep: ReadonlyArray<{ temperature: number; brier: number }>;
  readonly detections: ReadonlyArray<{ case: string; onsetRow: number | null; labelledRow: number; rule: string | null; ms: number }>;
  readonly detectionRowError: Summary;
  readonly published: typeof PUBLISHED;
}

function runRanking(cases: readonly Case[], options: RcaOptions): { outcomes: Outcome[]; ms: number[]; topScores: number[][] } {
  const outcomes: Outcome[] = [];
  const ms: number[] = [];
  const topScores: number[][] = [];
  for (const one of cases) {
    const started = performance.now();
    const ranking = rankRootCauses(one.series, { onsetMs: one.onsetMs }, { temperature: PARAMETERS.temperature, ...options });
    ms.push(performance.now() - started);
    outcomes.push(outcomeOf(one, ranking.hypotheses.map((hypothesis) => hypothesis.service), ranking.hypotheses[0]?.confidence ?? null));
    topScores.push(ranking.hypotheses.map((hypothesis) => hypothesis.score));
  }
  return { outcomes, ms, topScores };
}

function measure(dir: string, progress: Progress): BenchmarkReport {
  const labels = readSockShopLabels(dir);
  const cases = labels.map((label) => loadCase(dir, label));
  const services = [...new Set(cases[0]?.series.flatMap((one) => (one.service === null ? [] : [one.service])) ?? [])].sort();
  progress(`${cases.length} cases, ${cases[0]?.series.length ?? 0} metrics of ${services.length} services, ${median(cases.map((one) => one.rows))} rows each (median)`);

  // Warm up the JIT on one case so the first case's time is not compilation.
  if (cases[0] !== undefined) rankRootCauses(cases[0].series, { onsetMs: cases[0].onsetMs });

  const baro = runRanking(cases, {});
  // NSigma as RCAEval runs it: mean and standard deviation, no floor on the scale.
  const nsigma = runRanking(cases, { method: 'nsigma', minRelativeScale: 0 });
  const floorSweep = PARAMETERS.scaleFloorSweep.map((minRelativeScale) => ({ minRelativeScale, ...accuracyByFault(runRanking(cases, { minRelativeScale }).outcomes) }));
  const noFloor = runRanking(cases, { minRelativeScale: 0 });
  progress(`BARO with the labelled onset: Avg@5 ${accuracy(baro.outcomes).avg5}; NSigma ${accuracy(nsigma.outcomes).avg5}`);

  const detections: Array<{ case: string; onsetRow: number | null; labelledRow: number; rule: string | null; ms: number }> = [];
  const detectedOutcomes: Outcome[] = [];
  const detectedMs: number[] = [];
  for (const one of cases) {
    const started = performance.now();
    const detection = detectOnset(one.series);
    const detectMs = performance.now() - started;
    const ranking = rankRootCauses(one.series, { onsetMs: detection.onsetMs ?? one.onsetMs }, { temperature: PARAMETERS.temperature });
    detectedMs.push(performance.now() - started);
    detections.push({ case: one.label.case, onsetRow: detection.onsetRow, labelledRow: one.onsetRow, rule: detection.rule, ms: round(detectMs, 1) });
    detectedOutcomes.push(outcomeOf(one, ranking.hypotheses.map((hypothesis) => hypothesis.service), ranking.hypotheses[0]?.confidence ?? null));
    progress(`${one.label.case}: BOCPD onset row ${detection.onsetRow ?? 'none'} (labelled ${one.onsetRow}) in ${round(detectMs, 0)} ms; root cause ranked ${detectedOutcomes.at(-1)?.rank}`);
  }

  const replica = cases.map((one) => outcomeOf(one, replicaRanking(one), null));

  // Random rankings of the candidate services, averaged over seeds.
  const next = seededRandom(PARAMETERS.seed);
  const randomRuns = Array.from({ length: PARAMETERS.randomSeeds }, () =>
    accuracyByFault(
      cases.map((one) => {
        const order = [...services];
        for (let index = order.length - 1; index > 0; index--) {
          const swap = Math.floor(next() * (index + 1));
          [order[index], order[swap]] = [order[swap] as string, order[index] as string];
        }
        return outcomeOf(one, order, null);
      }),
    ),
  );
  const meanOf = (pick: (run: ReturnType<typeof accuracyByFault>) => number): number => round(randomRuns.reduce((sum, run) => sum + pick(run), 0) / randomRuns.length, 4);
  const randomAccuracy = {
    all: { ac1: meanOf((run) => run.all.ac1), ac3: meanOf((run) => run.all.ac3), avg5: meanOf((run) => run.all.avg5) },
    cpu: { avg5: meanOf((run) => run.cpu.avg5) },
    mem: { avg5: meanOf((run) => run.mem.avg5) },
  };

  const sweep = PARAMETERS.temperatureSweep.map((temperature) => {
    const outcomes = baro.outcomes.map((outcome, index) => ({ ...outcome, confidence: confidencesFromScores(baro.topScores[index] as number[], temperature)[0] ?? null }));
    return { temperature, brier: calibration(outcomes).brier };
  });

  const figures: RcaFigures = {
    cases: cases.length,
    services,
    gapHours: { min: round(Math.min(...cases.map((one) => one.gapHours)), 1), max: round(Math.max(...cases.map((one) => one.gapHours)), 1) },
    baroLabelled: { accuracy: accuracyByFault(baro.outcomes), calibration: calibration(baro.outcomes), msPerCase: summarize(baro.ms, 3), outcomes: baro.outcomes },
    baroDetected: { accuracy: accuracyByFault(detectedOutcomes), calibration: calibration(detectedOutcomes), msPerCase: summarize(detectedMs, 1), outcomes: detectedOutcomes },
    nsigma: { accuracy: accuracyByFault(nsigma.outcomes), calibration: calibration(nsigma.outcomes), msPerCase: summarize(nsigma.ms, 3), outcomes: nsigma.outcomes },
    baroNoFloor: { accuracy: accuracyByFault(noFloor.outcomes), outcomes: noFloor.outcomes },
    rcaevalReplica: { accuracy: accuracyByFault(replica), outcomes: replica },
    scaleFloorSweep: floorSweep,
    random: randomAccuracy,
    temperatureSweep: sweep,
    detections,
    detectionRowError: summarize(detections.map((detection) => Math.abs((detection.onsetRow ?? Infinity) - detection.labelledRow)), 0),
    published: PUBLISHED,
  };
  const ours = figures.baroLabelled.accuracy.all.avg5;
  const ratios = {
    avg5OverNsigma: round(ours / figures.nsigma.accuracy.all.avg5, 3),
    avg5OverRandom: round(ours / randomAccuracy.all.avg5, 3),
    avg5OverPublishedBaro: round(ours / ((PUBLISHED.baro.cpu + PUBLISHED.baro.mem) / 2), 3),
  };
  return { parameters: { ...PARAMETERS, dir: displayDir(dir) }, figures, ratios, markdown: markdown(figures) };
}

/** `0.95` as `0.95`, `1` as `1.00`. */
const two = (value: number): string => formatNumber(value, 2);

function markdown(figures: RcaFigures): string {
  const { baroLabelled, baroDetected, baroNoFloor, nsigma, rcaevalReplica, random: chance } = figures;
  const row = (name: string, accuracy: FaultAccuracy, time: string): string[] => [
    name,
    two(accuracy.all.ac1),
    two(accuracy.all.ac3),
    two(accuracy.all.avg5),
    `${two(accuracy.cpu.avg5)} / ${two(accuracy.mem.avg5)}`,
    time,
  ];
  const ms = (summary: Summary, digits: number): string => `${formatNumber(summary.p50, digits)} / ${formatNumber(summary.p99, digits)}`;
  const misses = (outcomes: readonly Outcome[]): string => {
    const wrong = outcomes.filter((outcome) => outcome.rank !== 1);
    return wrong.length === 0 ? 'none' : wrong.map((outcome) => `${outcome.case} (ranked ${outcome.rank}, behind ${outcome.top}${outcome.confidence === null ? '' : ` at confidence ${formatNumber(outcome.confidence, 2)}`})`).join(', ');
  };
  const rowsOff = figures.detections.filter((detection) => detection.onsetRow !== detection.labelledRow);
  return [
    `${figures.cases} labelled fault-injection cases of RCAEval's RE1 Sock Shop dataset (${figures.services.length} candidate services; CPU or memory hog injected into one of carts, catalogue, orders, payment, user; 2 runs each), 38 metrics at 1 s (CPU, memory, load, latency p50/p90/p99), about 280 normal and 280 anomalous rows per case. Interlock ranks with \`rankRootCauses\` (BARO's robust score; default options, so a scale floor of 0.1 % of each metric's normal median): once with the labelled onset (the first anomalous row), once with the onset \`detectOnset\` finds (multivariate BOCPD, BARO's defaults). Baselines measured in the same run: NSigma (\`method: 'nsigma'\`), a replica of RCAEval's own BARO code path (memory in MB, IQR 0 replaced by 1, constant columns dropped), and random rankings of the ${figures.services.length} services (mean of ${PARAMETERS.randomSeeds} seeds). The published figures are from the RCAEval paper on all 50 cpu and mem cases of the dataset; this dev set holds 20 of them, so they are not the same measurement.`,
    '',
    markdownTable(
      ['method', 'AC@1', 'AC@3', 'Avg@5', 'Avg@5 cpu / mem', 'time per case, p50 / p99 (ms)'],
      [
        row('**Interlock BARO, labelled onset**', baroLabelled.accuracy, ms(baroLabelled.msPerCase, 2)),
        row('Interlock BARO, onset detected by BOCPD', baroDetected.accuracy, `${ms(baroDetected.msPerCase, 0)} (detection + ranking)`),
        row('Interlock BARO without the scale floor (`minRelativeScale: 0`), labelled onset', baroNoFloor.accuracy, ''),
        row('NSigma (mean and standard deviation), labelled onset', nsigma.accuracy, ms(nsigma.msPerCase, 2)),
        row("replica of RCAEval's BARO code, labelled onset", rcaevalReplica.accuracy, ''),
        ['random ranking (mean of 100 seeds)', two(chance.all.ac1), two(chance.all.ac3), two(chance.all.avg5), `${two(chance.cpu.avg5)} / ${two(chance.mem.avg5)}`, ''],
        ['BARO, **published** (50 cases)', '', '', '', `${two(PUBLISHED.baro.cpu)} / ${two(PUBLISHED.baro.mem)}`, ''],
        ['NSigma, published (50 cases)', '', '', '', `${two(PUBLISHED.nsigma.cpu)} / ${two(PUBLISHED.nsigma.mem)}`, ''],
        ['random, published (50 cases)', '', '', '', `${two(PUBLISHED.random.cpu)} / ${two(PUBLISHED.random.mem)}`, ''],
      ],
    ),
    '',
    `Cases where the root cause was not ranked first: Interlock BARO, labelled onset: ${misses(baroLabelled.outcomes)}; with the detected onset: ${misses(baroDetected.outcomes)}; without the scale floor: ${misses(baroNoFloor.outcomes)}; NSigma: ${misses(nsigma.outcomes)}; RCAEval replica: ${misses(rcaevalReplica.outcomes)}. Avg@5 by scale floor (\`minRelativeScale\`, default 0.001): ${figures.scaleFloorSweep.map((entry) => `${entry.minRelativeScale} → ${two(entry.all.avg5)}`).join(', ')}.`,
    '',
    `Calibration of the top-1 confidence (Interlock BARO, labelled onset, temperature ${PARAMETERS.temperature}): Brier score ${formatNumber(baroLabelled.calibration.brier, 4)} (0 is perfect; always answering 0.5 scores 0.25). With the detected onset ${formatNumber(baroDetected.calibration.brier, 4)}; NSigma (same confidence mapping) ${formatNumber(nsigma.calibration.brier, 4)}. Other temperatures on the same cases (in-sample, not a fit): ${figures.temperatureSweep.map((entry) => `${entry.temperature} → ${formatNumber(entry.brier, 4)}`).join(', ')}.`,
    '',
    markdownTable(
      ['top-1 confidence', 'cases', 'mean confidence', 'share whose top-1 is the root cause'],
      baroLabelled.calibration.bins.map((bin) => [`${two(bin.from)}–${two(bin.to)}`, String(bin.cases), bin.meanConfidence === null ? '' : formatNumber(bin.meanConfidence, 3), bin.top1Accuracy === null ? '' : two(bin.top1Accuracy)]),
    ),
    '',
    `Onset detection: ${figures.cases - rowsOff.length} of ${figures.cases} detected onsets are the labelled row${rowsOff.length === 0 ? '' : `; the others: ${rowsOff.map((detection) => `${detection.case} row ${detection.onsetRow ?? 'none'} for ${detection.labelledRow}`).join(', ')}`}. Caveat: each case's normal and anomalous rows were recorded ${figures.gapHours.min}–${figures.gapHours.max} h apart and are joined here, so the join and the fault coincide, which flatters the detector.`,
  ].join('\n');
}

/** The section written when the dataset is not there. */
function absentReport(dir: string, progress: Progress): BenchmarkReport {
  progress(`no labelled cases at ${dir}: writing a section that says how to get them`);
  const markdown = [
    `Not measured: the labelled cases were not found at \`${displayDir(dir)}\` (no \`labels.json\`).`,
    '',
    'The benchmark reads RCAEval\'s RE1 Sock Shop cpu and mem cases from `../shared/data/rca-dev/sockshop` beside the repository (the project\'s shared data folder, with `labels.json` and `<service>-<fault>/<run>/normal.csv.gz` and `anomalous.csv.gz` per case), or from the folder named by `INTERLOCK_RCA_DIR`. To measure: put the shared data folder beside the repository, or point `INTERLOCK_RCA_DIR` at a folder of the same layout (the cases come from the RCAEval benchmark, https://github.com/phamquiluan/RCAEval, RE1-SS), then run `npm run bench -- rca`.',
  ].join('\n');
  return { parameters: { ...PARAMETERS, dir: displayDir(dir), available: false }, figures: { available: false }, ratios: {}, markdown };
}

/** `npm run bench -- rca`: CPU only, in this process (the runner still checks PostgreSQL first). */
export const benchmark: Benchmark = {
  name: 'rca',
  run: (progress) => {
    const dir = sockShopDir();
    return Promise.resolve(hasSockShopCases(dir) ? measure(dir, progress) : absentReport(dir, progress));
  },
};
