/**
 * Calibration of the diagnosis engine's confidences: Platt scaling. Each signature gives a raw
 * strength `s` in 0..1 (a documented weighted sum of its components); the confidence of a pattern
 * hypothesis is `σ(a · s + b) = 1 / (1 + e^−(a·s + b))` with one pair `(a, b)` per kind. The
 * `unknown` hypothesis has a second input, the coverage of the golden signals `c` (0..1), so that
 * "no evidence at all" and "a strong pattern was found" (both give it a strength near 0) can differ:
 * `σ(a · s + a₂ · c + b)`. The constants are fitted by maximum likelihood on a labelled training set
 * (synthetic scenarios of a fixed seed; see `test/support/diagnosis-scenarios.ts` and
 * `bench/diagnosis-fit.ts`) and committed in `calibration-constants.ts`; a test refits them and
 * checks they are the same.
 *
 * The fit is Platt's (1999) with the improvements of Lin, Lin & Weng (2007): the targets are
 * smoothed to `(N₊ + 1) / (N₊ + 2)` for positives and `1 / (N₋ + 2)` for negatives (a prior that
 * keeps a perfectly separated set from giving infinite slopes), and the negative log-likelihood is
 * minimised by Newton's method with a backtracking line search, computed in a numerically stable
 * form (for two inputs, the same Newton step in three dimensions). Deterministic: the same samples in
 * the same order give the same constants, bit for bit.
 *
 * @see Platt, "Probabilistic outputs for support vector machines and comparisons to regularized
 *   likelihood methods", Advances in Large Margin Classifiers, MIT Press, 1999
 * @see Lin, Lin & Weng, "A note on Platt's probabilistic outputs for support vector machines",
 *   Machine Learning 68(3), 2007 (Algorithm 1)
 */
import { InputError } from '../errors.js';
import { FITTED_CALIBRATION } from './calibration-constants.js';
import { HYPOTHESIS_KINDS, type HypothesisKind } from './hypothesis.js';

/** The parameters of one kind's mapping: `confidence = σ(a · strength + a2 · coverage + b)` (`a2` only for `unknown`). */
export interface PlattParameters {
  readonly a: number;
  /** Weight of the golden-signal coverage (only `unknown` has one). */
  readonly a2?: number;
  readonly b: number;
}

/** One labelled sample for a fit: a raw strength (and, for `unknown`, the coverage) and whether the hypothesis was right. */
export interface CalibrationSample {
  readonly strength: number;
  /** Golden-signal coverage 0..1; read for `unknown` only. */
  readonly coverage?: number;
  readonly correct: boolean;
}

/** A calibration of every hypothesis kind, with where its constants came from. */
export interface DiagnosisCalibration {
  /** Names the fit: generator, seed and case count, e.g. `platt/scenarios-v1/seed 1001/540 cases`. */
  readonly version: string;
  readonly parameters: Readonly<Record<HypothesisKind, PlattParameters>>;
  /** Labelled samples each kind was fitted on: positives and negatives. */
  readonly samples: Readonly<Record<HypothesisKind, { readonly positives: number; readonly negatives: number }>>;
}

/** The logistic function, without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** `ln(1 + e^x)` without overflow. */
function softplus(x: number): number {
  return x >= 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Solves the small symmetric system `h · x = g` by Gaussian elimination with partial pivoting; null when singular. */
function solve(h: number[][], g: number[]): number[] | null {
  const n = g.length;
  const m = h.map((row, i) => [...row, g[i] as number]);
  for (let column = 0; column < n; column++) {
    let pivot = column;
    for (let row = column + 1; row < n; row++) if (Math.abs((m[row] as number[])[column] as number) > Math.abs((m[pivot] as number[])[column] as number)) pivot = row;
    if (Math.abs((m[pivot] as number[])[column] as number) < 1e-300) return null;
    [m[column], m[pivot]] = [m[pivot] as number[], m[column] as number[]];
    const top = m[column] as number[];
    for (let row = column + 1; row < n; row++) {
      const current = m[row] as number[];
      const factor = (current[column] as number) / (top[column] as number);
      for (let k = column; k <= n; k++) current[k] = (current[k] as number) - factor * (top[k] as number);
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let row = n - 1; row >= 0; row--) {
    const current = m[row] as number[];
    let sum = current[n] as number;
    for (let k = row + 1; k < n; k++) sum -= (current[k] as number) * (x[k] as number);
    x[row] = sum / (current[row] as number);
  }
  return x;
}

/**
 * Fits `σ(w · x + bias)` to rows of inputs `x` and labels by Platt's method with Lin, Lin & Weng's
 * smoothed targets and Newton steps (see the module documentation). Returns the weights and the bias.
 *
 * @throws INPUT_INVALID when there is no positive or no negative row, or an input is not finite.
 */
export function fitLogistic(rows: ReadonlyArray<{ readonly x: readonly number[]; readonly correct: boolean }>): { weights: number[]; bias: number } {
  const positives = rows.filter((row) => row.correct).length;
  const negatives = rows.length - positives;
  const dims = rows[0]?.x.length ?? 0;
  if (positives === 0 || negatives === 0 || rows.some((row) => row.x.length !== dims || row.x.some((value) => !Number.isFinite(value)))) {
    throw new InputError('INPUT_INVALID', `Platt scaling needs finite inputs of one length and at least one positive and one negative sample; got ${positives} positive and ${negatives} negative.`, [
      { path: 'samples', message: 'need positives and negatives with finite inputs', received: `${positives} positive, ${negatives} negative` },
    ]);
  }
  const high = (positives + 1) / (positives + 2);
  const low = 1 / (negatives + 2);
  const targets = rows.map((row) => (row.correct ? high : low));
  // Parameters: the weights, then the bias; z = w · x + bias; P(right) = σ(z).
  let theta = [...new Array<number>(dims).fill(0), Math.log((positives + 1) / (negatives + 1))];
  const zOf = (parameters: readonly number[], x: readonly number[]): number => x.reduce((sum, value, index) => sum + (parameters[index] as number) * value, parameters[dims] as number);
  // Negative log-likelihood against the smoothed targets: Σ softplus(z) − t·z.
  const objective = (parameters: readonly number[]): number => rows.reduce((sum, row, index) => {
    const z = zOf(parameters, row.x);
    return sum + softplus(z) - (targets[index] as number) * z;
  }, 0);
  let current = objective(theta);
  for (let iteration = 0; iteration < 100; iteration++) {
    const gradient = new Array<number>(dims + 1).fill(0);
    const hessian = Array.from({ length: dims + 1 }, (_, i) => new Array<number>(dims + 1).fill(0).map((_, j) => (i === j ? 1e-12 : 0)));
    rows.forEach((row, index) => {
      const p = sigmoid(zOf(theta, row.x));
      const inputs = [...row.x, 1];
      const d1 = p - (targets[index] as number);
      const d2 = p * (1 - p);
      for (let i = 0; i <= dims; i++) {
        gradient[i] = (gradient[i] as number) + d1 * (inputs[i] as number);
        const hRow = hessian[i] as number[];
        for (let j = 0; j <= dims; j++) hRow[j] = (hRow[j] as number) + d2 * (inputs[i] as number) * (inputs[j] as number);
      }
    });
    if (gradient.every((value) => Math.abs(value) < 1e-5)) break;
    const step = solve(hessian, gradient);
    if (step === null) break;
    const descent = -gradient.reduce((sum, value, index) => sum + value * (step[index] as number), 0);
    let size = 1;
    let moved = false;
    while (size >= 1e-10) {
      const next = theta.map((value, index) => value - size * (step[index] as number));
      const value = objective(next);
      if (value < current + 1e-4 * size * descent) {
        theta = next;
        current = value;
        moved = true;
        break;
      }
      size /= 2;
    }
    if (!moved) break;
  }
  return { weights: theta.slice(0, dims), bias: theta[dims] as number };
}

/**
 * Fits Platt's `σ(a · strength + b)` to `samples` (see the module documentation).
 *
 * @throws INPUT_INVALID when there is no positive or no negative sample, or a strength is not finite.
 */
export function fitPlatt(samples: readonly CalibrationSample[]): PlattParameters {
  const { weights, bias } = fitLogistic(samples.map((sample) => ({ x: [sample.strength], correct: sample.correct })));
  return { a: weights[0] as number, b: bias };
}

/** The committed calibration (fitted on the synthetic training scenarios; see `calibration-constants.ts`). */
export const DIAGNOSIS_CALIBRATION: DiagnosisCalibration = FITTED_CALIBRATION;

/**
 * The confidence of a hypothesis of `kind` whose raw strength is `strength` (0..1), under
 * `calibration`; `coverage` (0..1) is read for `unknown` only.
 */
export function calibratedConfidence(kind: HypothesisKind, strength: number, coverage = 1, calibration: DiagnosisCalibration = DIAGNOSIS_CALIBRATION): number {
  const { a, a2, b } = calibration.parameters[kind];
  const z = a * (Number.isFinite(strength) ? strength : 0) + (a2 ?? 0) * (Number.isFinite(coverage) ? coverage : 0) + b;
  const value = sigmoid(z);
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

/**
 * Fits one mapping per kind from labelled samples and names the result `version`: Platt's
 * `σ(a · strength + b)` per pattern, `σ(a · strength + a2 · coverage + b)` for `unknown`.
 *
 * @throws INPUT_INVALID when a kind has no positive or no negative sample, or a fitted slope `a` is
 *   not positive (then more strength would mean less confidence: the signature or the data is wrong).
 */
export function fitDiagnosisCalibration(samples: Readonly<Record<HypothesisKind, readonly CalibrationSample[]>>, version: string): DiagnosisCalibration {
  const parameters = {} as Record<HypothesisKind, PlattParameters>;
  const counts = {} as Record<HypothesisKind, { positives: number; negatives: number }>;
  for (const kind of HYPOTHESIS_KINDS) {
    const list = samples[kind];
    let fitted: PlattParameters;
    if (kind === 'unknown') {
      const { weights, bias } = fitLogistic(list.map((sample) => ({ x: [sample.strength, sample.coverage ?? 1], correct: sample.correct })));
      fitted = { a: weights[0] as number, a2: weights[1], b: bias };
    } else fitted = fitPlatt(list);
    if (!(fitted.a > 0)) {
      throw new InputError('INPUT_INVALID', `The Platt fit for ${kind} has a slope ${fitted.a} <= 0: a stronger signature would mean a lower confidence. Check the signature and the training scenarios.`, [
        { path: `samples.${kind}`, message: 'fitted slope must be positive', received: String(fitted.a) },
      ]);
    }
    parameters[kind] = fitted;
    const positives = list.filter((sample) => sample.correct).length;
    counts[kind] = { positives, negatives: list.length - positives };
  }
  return { version, parameters, samples: counts };
}
