// The built-in diagnosis engine (issue #5): is its top hypothesis right, and are its confidences
// calibrated? Measured on (1) synthetic labelled scenarios of the five self-healing patterns plus
// resource saturation, with negatives and confounders (test/support/diagnosis-scenarios.ts): the
// training seed the Platt constants were fitted on and a separate evaluation seed never fitted on;
// and (2) the 20 labelled Sock Shop fault-injection cases of shared/data/rca-dev (real metrics, CPU
// and memory hogs: truth = resource_saturation of the root-cause service), never fitted on. Reports
// top-1 / top-3 accuracy per family, the Brier score of the top hypothesis, a reliability table and
// the expected calibration error, next to the raw (uncalibrated) strengths. When the Sock Shop folder
// is absent, only the synthetic sets are measured, and the section says so.
import { DIAGNOSIS_CALIBRATION } from '../src/core/diagnosis/calibration.js';
import { diagnose, type Diagnosis } from '../src/core/diagnosis/engine.js';
import type { EvidenceBundle, EvidenceSeries, SeriesRole } from '../src/core/diagnosis/evidence.js';
import { HYPOTHESIS_KINDS } from '../src/core/diagnosis/hypothesis.js';
import {
  DEFAULT_SCENARIO_COUNTS,
  EVALUATION_SEED,
  SCENARIO_FAMILIES,
  SCENARIOS_VERSION,
  TRAINING_SEED,
  fitScenarioCalibration,
  generateScenarios,
  isCorrect,
  type ScenarioTruth,
} from '../test/support/diagnosis-scenarios.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { formatNumber, markdownTable } from './support/report.js';
import { displayDir, hasSockShopCases, readSockShopCase, readSockShopLabels, SOCK_SHOP_DATASET, sockShopDir, splitColumn, type SockShopLabel } from './support/sockshop.js';
import { round, summarize, type Summary } from './support/stats.js';

/** What this benchmark runs; recorded in the results file. */
const PARAMETERS = {
  scenarios: SCENARIOS_VERSION,
  trainingSeed: TRAINING_SEED,
  evaluationSeed: EVALUATION_SEED,
  counts: DEFAULT_SCENARIO_COUNTS,
  calibration: DIAGNOSIS_CALIBRATION.version,
  /** Lower edges of the reliability table's bins (the last bin includes 1). */
  reliabilityBins: [0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95],
  sockShop: SOCK_SHOP_DATASET,
} as const;

/** One case's outcome: the truth, the rank of the right hypothesis (Infinity when absent), and the top hypothesis. */
interface Outcome {
  readonly id: string;
  readonly family: string;
  readonly positive: boolean;
  readonly truth: ScenarioTruth;
  readonly rank: number;
  readonly top: string;
  readonly topConfidence: number;
  readonly topStrength: number;
  readonly topCorrect: boolean;
  readonly ms: number;
}

function outcomeOf(id: string, family: string, positive: boolean, truth: ScenarioTruth, diagnosis: Diagnosis, ms: number): Outcome {
  const index = diagnosis.hypotheses.findIndex((hypothesis) => isCorrect(truth, hypothesis.kind, hypothesis.service));
  const top = diagnosis.hypotheses[0];
  return {
    id,
    family,
    positive,
    truth,
    rank: index === -1 ? Infinity : index + 1,
    top: top?.id ?? '',
    topConfidence: top?.confidence ?? 0,
    topStrength: top?.strength ?? 0,
    topCorrect: index === 0,
    ms,
  };
}

/** Top-1 and top-3 accuracy of a set of outcomes. */
interface Accuracy {
  readonly cases: number;
  readonly top1: number;
  readonly top3: number;
}

function accuracy(outcomes: readonly Outcome[]): Accuracy {
  const n = outcomes.length;
  return { cases: n, top1: n === 0 ? 0 : round(outcomes.filter((one) => one.rank === 1).length / n, 4), top3: n === 0 ? 0 : round(outcomes.filter((one) => one.rank <= 3).length / n, 4) };
}

/** One row of a reliability table: top hypotheses whose confidence falls in [from, to). */
interface ReliabilityBin {
  readonly from: number;
  readonly to: number;
  readonly cases: number;
  readonly meanConfidence: number | null;
  readonly shareRight: number | null;
}

/** Brier score, expected calibration error and reliability table of "the top hypothesis is right" against `confidence`. */
interface Calibration {
  readonly brier: number;
  readonly ece: number;
  readonly bins: readonly ReliabilityBin[];
}

function calibrationOf(outcomes: readonly Outcome[], confidence: (one: Outcome) => number): Calibration {
  const n = outcomes.length;
  const brier = outcomes.reduce((sum, one) => sum + (confidence(one) - (one.topCorrect ? 1 : 0)) ** 2, 0) / Math.max(1, n);
  const edges = [...PARAMETERS.reliabilityBins, 1];
  let ece = 0;
  const bins = PARAMETERS.reliabilityBins.map((from, index): ReliabilityBin => {
    const to = edges[index + 1] as number;
    const last = index === PARAMETERS.reliabilityBins.length - 1;
    const inBin = outcomes.filter((one) => confidence(one) >= from && (confidence(one) < to || (last && confidence(one) <= to)));
    if (inBin.length === 0) return { from, to, cases: 0, meanConfidence: null, shareRight: null };
    const mean = inBin.reduce((sum, one) => sum + confidence(one), 0) / inBin.length;
    const right = inBin.filter((one) => one.topCorrect).length / inBin.length;
    ece += (inBin.length / n) * Math.abs(mean - right);
    return { from, to, cases: inBin.length, meanConfidence: round(mean, 4), shareRight: round(right, 4) };
  });
  return { brier: round(brier, 4), ece: round(ece, 4), bins };
}

/** Everything measured on one set of cases. */
interface SetFigures {
  readonly cases: number;
  readonly overall: Accuracy;
  readonly byFamily: ReadonlyArray<{ readonly family: string; readonly positives: Accuracy; readonly negatives: Accuracy }>;
  readonly calibrated: Calibration;
  /** The same outcomes with the raw strength of the top hypothesis as its confidence. */
  readonly raw: Calibration;
  readonly baseRate: number;
  readonly msPerCase: Summary;
  readonly misses: readonly string[];
}

function setFigures(outcomes: readonly Outcome[], families: readonly string[]): SetFigures {
  const baseRate = outcomes.filter((one) => one.topCorrect).length / Math.max(1, outcomes.length);
  return {
    cases: outcomes.length,
    overall: accuracy(outcomes),
    byFamily: families
      .map((family) => ({ family, positives: accuracy(outcomes.filter((one) => one.family === family && one.positive)), negatives: accuracy(outcomes.filter((one) => one.family === family && !one.positive)) }))
      .filter((row) => row.positives.cases + row.negatives.cases > 0),
    calibrated: calibrationOf(outcomes, (one) => one.topConfidence),
    raw: calibrationOf(outcomes, (one) => one.topStrength),
    baseRate: round(baseRate, 4),
    msPerCase: summarize(outcomes.map((one) => one.ms), 2),
    misses: outcomes.filter((one) => !one.topCorrect).map((one) => `${one.id} (truth ${one.truth.kind}${one.truth.service === null ? '' : `:${one.truth.service}`}, top ${one.top} at ${formatNumber(one.topConfidence, 2)})`),
  };
}

function runScenarios(seed: number, progress: Progress): Outcome[] {
  const cases = generateScenarios(seed);
  progress(`seed ${seed}: ${cases.length} scenarios generated`);
  return cases.map((one) => {
    const started = performance.now();
    const diagnosis = diagnose(one.bundle);
    const ms = performance.now() - started;
    return outcomeOf(one.id, one.family, one.variant === 'positive', one.truth, diagnosis, ms);
  });
}

// ---------------------------------------------------------------------------------------------
// Sock Shop (real metrics)

/** RCAEval's metric suffixes and the roles they stand for. */
const SOCK_SHOP_ROLES: Readonly<Record<string, SeriesRole>> = { cpu: 'cpu', mem: 'memory', lod: 'request_rate', lat_50: 'latency_p50', lat_90: 'latency_p90', lat_99: 'latency_p99' };

/** A Sock Shop case as an evidence bundle: one series per `<service>_<metric>` column, the labelled onset. */
function sockShopBundle(dir: string, label: SockShopLabel): EvidenceBundle {
  const { header, rows, timestamps: times } = readSockShopCase(dir, label);
  const series: EvidenceSeries[] = header.slice(1).map((column, index) => {
    const { service, metric } = splitColumn(column);
    return {
      evidence: { id: column, source: 'rcaeval', query: `${label.case}:${column}` },
      labels: {},
      ...(service === null ? {} : { service }),
      role: SOCK_SHOP_ROLES[metric] ?? 'unknown',
      points: rows.map((row, rowIndex) => {
        const value = row[index + 1] as number;
        return [times[rowIndex] as number, Number.isFinite(value) ? value : null] as const;
      }),
    };
  });
  return {
    window: { startMs: Math.min(...times), endMs: Math.max(...times) },
    onsetMs: Number(label.anomalous_start) * 1000,
    signals: [],
    series,
    changes: [],
    logs: [],
    latencySamples: [],
  };
}

/** Sock Shop figures: accuracy with the kind and service, the service alone, and calibration. */
interface SockShopFigures {
  readonly available: true;
  readonly dir: string;
  readonly set: SetFigures;
  readonly serviceTop1: number;
  readonly resourceMatches: number;
  readonly outcomes: readonly Outcome[];
}

function runSockShop(dir: string, progress: Progress): SockShopFigures {
  const labels = readSockShopLabels(dir);
  const outcomes: Outcome[] = [];
  let serviceRight = 0;
  let resourceRight = 0;
  for (const label of labels) {
    const bundle = sockShopBundle(dir, label);
    const started = performance.now();
    const diagnosis = diagnose(bundle);
    const ms = performance.now() - started;
    const truth: ScenarioTruth = { kind: 'resource_saturation', service: label.root_cause_service };
    const outcome = outcomeOf(label.case, `sockshop-${label.fault_type}`, true, truth, diagnosis, ms);
    outcomes.push(outcome);
    const top = diagnosis.hypotheses[0];
    if (top?.service === label.root_cause_service) serviceRight++;
    if (outcome.topCorrect && top !== undefined) {
      const resource = top.summary.includes('on CPU') ? 'cpu' : top.summary.includes('on memory') ? 'mem' : '';
      if (resource === label.fault_type) resourceRight++;
    }
    progress(`${label.case}: top ${outcome.top} at ${formatNumber(outcome.topConfidence, 2)} (truth ${truth.kind}:${truth.service}; rank ${outcome.rank})`);
  }
  return {
    available: true,
    dir: displayDir(dir),
    set: setFigures(outcomes, ['sockshop-cpu', 'sockshop-mem']),
    serviceTop1: round(serviceRight / labels.length, 4),
    resourceMatches: round(resourceRight / labels.length, 4),
    outcomes,
  };
}

// ---------------------------------------------------------------------------------------------
// The report

interface DiagnosisFigures {
  readonly training: SetFigures;
  readonly evaluation: SetFigures;
  readonly sockShop: SockShopFigures | { readonly available: false; readonly dir: string };
  /** True when refitting on the training seed gives the committed constants exactly. */
  readonly constantsReproduce: boolean;
  readonly calibration: typeof DIAGNOSIS_CALIBRATION;
}

const two = (value: number): string => formatNumber(value, 2);
const three = (value: number): string => formatNumber(value, 3);

function reliabilityTable(calibrated: Calibration): string {
  return markdownTable(
    ['top-hypothesis confidence', 'cases', 'mean confidence', 'share right'],
    calibrated.bins.map((bin) => [`${two(bin.from)}–${two(bin.to)}`, String(bin.cases), bin.meanConfidence === null ? '' : three(bin.meanConfidence), bin.shareRight === null ? '' : two(bin.shareRight)]),
  );
}

function markdown(figures: DiagnosisFigures): string {
  const { training, evaluation, sockShop } = figures;
  const familyRows = evaluation.byFamily.map((row) => {
    const trainingRow = training.byFamily.find((other) => other.family === row.family);
    const cell = (accuracy: Accuracy | undefined): string => (accuracy === undefined || accuracy.cases === 0 ? '' : `${two(accuracy.top1)} / ${two(accuracy.top3)} (${accuracy.cases})`);
    return [row.family, cell(row.positives), cell(row.negatives), cell(trainingRow?.positives), cell(trainingRow?.negatives)];
  });
  const setRow = (name: string, set: SetFigures): string[] => [
    name,
    String(set.cases),
    two(set.overall.top1),
    two(set.overall.top3),
    formatNumber(set.calibrated.brier, 3),
    formatNumber(set.calibrated.ece, 3),
    formatNumber(set.raw.brier, 3),
    formatNumber(set.baseRate * (1 - set.baseRate), 3),
    `${formatNumber(set.msPerCase.p50, 1)} / ${formatNumber(set.msPerCase.p99, 1)}`,
  ];
  const rows = [setRow(`synthetic, evaluation seed ${PARAMETERS.evaluationSeed} (never fitted on)`, evaluation), setRow(`synthetic, training seed ${PARAMETERS.trainingSeed} (fitted on)`, training)];
  if (sockShop.available) rows.push(setRow('Sock Shop, 20 real fault injections (never fitted on)', sockShop.set));
  const constants = HYPOTHESIS_KINDS.map((kind) => {
    const { a, a2, b } = figures.calibration.parameters[kind];
    return `${kind} a = ${two(a)}${a2 === undefined ? '' : `, a2 = ${two(a2)}`}, b = ${two(b)}`;
  }).join('; ');
  return [
    `The diagnosis engine (\`diagnose\`) on labelled cases. **The scenario cases are synthetic**: generated by \`test/support/diagnosis-scenarios.ts\` (${SCENARIOS_VERSION}) from a seed, ${PARAMETERS.counts.positives} positives and ${PARAMETERS.counts.negatives} negatives or confounders per pattern (memory leak, bad deploy, connection-pool exhaustion, canary regression, load surge, resource saturation), ${PARAMETERS.counts.none} cases with nothing wrong and ${PARAMETERS.counts.blind} blind cases (a fault or nothing, with all metrics or all evidence taken away): 3 h of 30 s metrics for 4 to 6 services with Gaussian noise, scrape glitches, missing points, GC sawtooth and diurnal drift, log lines, changes and alerts; confounders such as an innocent deploy just before a pool exhaustion elsewhere, errors that began before a hotfix, a cache warming up, memory that follows traffic, a canary routed heavier requests, a morning traffic ramp. The Platt constants were fitted on the training seed ${PARAMETERS.trainingSeed} (${figures.constantsReproduce ? 'refitting here gives the committed constants exactly' : '**refitting here does not give the committed constants: run `npx tsx bench/diagnosis-fit.ts`**'}); the evaluation seed ${PARAMETERS.evaluationSeed} and the Sock Shop cases were never fitted on. A case is right when the top hypothesis has the true kind and service (\`unknown\` for nothing wrong).`,
    '',
    markdownTable(['set', 'cases', 'top-1', 'top-3', 'Brier (top)', 'ECE', 'Brier, raw strength', 'Brier, base rate', 'ms per case p50 / p99'], rows),
    '',
    `Brier (top) is the mean of (confidence − right)² over the cases for the top hypothesis (0 is perfect); "raw strength" uses the signature's uncalibrated strength as the confidence; "base rate" is what always answering the set's share of right top hypotheses would score. ECE is the expected calibration error over the bins below (the mean gap between confidence and share right, weighted by cases).`,
    '',
    `Top-1 / top-3 accuracy per family (cases), evaluation seed against training seed. Negatives and confounders are right when the top hypothesis is their truth: \`unknown\` for nothing wrong, the real cause for a confounder.`,
    '',
    markdownTable(['family', 'positives, evaluation', 'negatives and confounders, evaluation', 'positives, training', 'negatives and confounders, training'], familyRows),
    '',
    `Reliability of the top hypothesis's confidence, evaluation seed ${PARAMETERS.evaluationSeed}:`,
    '',
    reliabilityTable(evaluation.calibrated),
    '',
    `Training seed ${PARAMETERS.trainingSeed}:`,
    '',
    reliabilityTable(training.calibrated),
    '',
    sockShop.available
      ? [
          `Sock Shop (${sockShop.set.cases} real CPU and memory fault injections of RCAEval RE1, metrics only, labelled onset; truth \`resource_saturation\` of the root-cause service): top hypothesis right ${two(sockShop.set.overall.top1)} (kind and service), right service ${two(sockShop.serviceTop1)}, right resource (CPU or memory) ${two(sockShop.resourceMatches)}; top-3 ${two(sockShop.set.overall.top3)}; Brier ${formatNumber(sockShop.set.calibrated.brier, 3)}. Misses: ${sockShop.set.misses.length === 0 ? 'none' : sockShop.set.misses.join('; ')}.`,
          '',
          reliabilityTable(sockShop.set.calibrated),
        ].join('\n')
      : `Sock Shop: **not measured**, the labelled cases were not found at \`${sockShop.dir}\` (no \`labels.json\`); only the synthetic sets were measured. Put the shared data folder beside the repository or point \`INTERLOCK_RCA_DIR\` at it (see the rca section).`,
    '',
    `Misses on the evaluation seed (${evaluation.misses.length}): ${evaluation.misses.slice(0, 12).join('; ')}${evaluation.misses.length > 12 ? `; and ${evaluation.misses.length - 12} more (in the results file)` : ''}.`,
    '',
    `Committed Platt constants (\`confidence = σ(a · strength + b)\`; for \`unknown\`, \`σ(a · strength + a2 · coverage + b)\`; ${figures.calibration.version}): ${constants}.`,
  ].join('\n');
}

/** `npm run bench -- diagnosis`: CPU only, in this process (the runner still checks PostgreSQL first). */
export const benchmark: Benchmark = {
  name: 'diagnosis',
  run: (progress): Promise<BenchmarkReport> => {
    const refit = fitScenarioCalibration();
    const constantsReproduce = JSON.stringify(refit.parameters) === JSON.stringify(DIAGNOSIS_CALIBRATION.parameters) && refit.version === DIAGNOSIS_CALIBRATION.version;
    progress(`refit on the training seed ${constantsReproduce ? 'matches' : 'DIFFERS FROM'} the committed constants`);
    const families = [...SCENARIO_FAMILIES];
    const training = setFigures(runScenarios(TRAINING_SEED, progress), families);
    progress(`training seed: top-1 ${training.overall.top1}, Brier ${training.calibrated.brier}`);
    const evaluation = setFigures(runScenarios(EVALUATION_SEED, progress), families);
    progress(`evaluation seed: top-1 ${evaluation.overall.top1}, Brier ${evaluation.calibrated.brier}`);
    const dir = sockShopDir();
    const sockShop: DiagnosisFigures['sockShop'] = hasSockShopCases(dir) ? runSockShop(dir, progress) : { available: false, dir: displayDir(dir) };
    if (!sockShop.available) progress(`no Sock Shop cases at ${dir}: synthetic sets only`);
    const figures: DiagnosisFigures = { training, evaluation, sockShop, constantsReproduce, calibration: DIAGNOSIS_CALIBRATION };
    const ratios: Record<string, number> = {
      evaluationBrierOverRaw: round(evaluation.calibrated.brier / Math.max(1e-9, evaluation.raw.brier), 3),
      evaluationBrierOverTraining: round(evaluation.calibrated.brier / Math.max(1e-9, training.calibrated.brier), 3),
    };
    return Promise.resolve({ parameters: { ...PARAMETERS, sockShopDir: displayDir(dir), sockShopAvailable: sockShop.available }, figures, ratios, markdown: markdown(figures) });
  },
};
