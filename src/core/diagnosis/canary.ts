/**
 * Canary regression check: is the canary's latency worse than the baseline's? Use it to verify a
 * canary deployment (a verification step re-observes latency samples of both and decides) before
 * promoting it. Pure and deterministic; no I/O.
 *
 * Two measures, each with its own threshold:
 * - The two-sample Kolmogorov–Smirnov test ({@link ksTwoSample}): the statistic `D`, the largest
 *   distance between the two empirical distribution functions, and its two-sided p-value under
 *   "both samples come from one continuous distribution". Sensitive to a shift of the bulk of the
 *   distribution, weak in the tails.
 * - The ratio of the 99th percentiles, canary over baseline (`np.percentile` definition): the tail
 *   the KS test misses.
 *
 * The verdict ({@link checkCanary}) is `not_enough_data` when either sample has fewer than
 * `minSamples` finite values; `regression` when the KS p-value is below `alpha` and the canary is
 * the slower side (its distribution function lies below the baseline's where they are furthest
 * apart), or when the p99 ratio exceeds `maxP99Ratio`; otherwise `no_regression`. A canary that is
 * significantly faster is not a regression.
 */
import { InputError, type Issue } from '../errors.js';
import { quantileOfSorted, sortedFinite } from './quantile.js';

/** How a KS p-value was computed. */
export type KsMethod = 'exact' | 'asymptotic';

/** The outcome of {@link ksTwoSample}. */
export interface KsResult {
  /** `D = max |F_a(x) − F_b(x)|`, 0..1. */
  readonly statistic: number;
  /**
   * +1 when the largest distance is `F_a − F_b` (sample `a` has more mass below that point: `b` is
   * larger there), −1 when it is `F_b − F_a`. On a tie, +1 (SciPy's `statistic_sign`).
   */
  readonly sign: 1 | -1;
  /** Where the distance is largest: the sample value at which it is reached. */
  readonly location: number;
  /** Two-sided p-value, 0..1. */
  readonly pValue: number;
  readonly method: KsMethod;
  /** Finite values used from `a` and from `b`. */
  readonly sizes: readonly [number, number];
}

/** Options of {@link ksTwoSample}. */
export interface KsOptions {
  /**
   * The exact p-value is used while the larger sample has at most this many values, the
   * asymptotic one above (SciPy's `ks_2samp` `method='auto'` uses 10,000). The exact computation
   * takes O(m·n) time. @default 10000
   */
  readonly exactMaxSize?: number;
}

function greatestCommonDivisor(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Exact two-sided p-value `P(D ≥ h / lcm(m, n))` of the two-sample KS statistic for sample sizes
 * `m` and `n` with no ties: the share of the `C(m+n, m)` equally likely orderings of the merged
 * samples whose lattice path leaves the band `|i/m − j/n| < h / lcm(m, n)`. Computed as the
 * probability of the first exit from the band, accumulated step by step (no subtraction, so small
 * p-values keep their relative precision), in O(m·n) time and O(n) memory.
 *
 * @see Hodges, "The significance probability of the Smirnov two-sample test", Arkiv för Matematik 3 (1958)
 * @see SciPy `scipy.stats.ks_2samp(method='exact')` (the same quantity)
 */
export function ksExactPValue(m: number, n: number, h: number): number {
  if (h <= 0) return 1;
  const g = greatestCommonDivisor(m, n);
  const mg = m / g;
  const ng = n / g;
  // Point (i, j): i values of the first sample and j of the second seen; its distance in units of 1/lcm.
  const outside = (i: number, j: number): boolean => Math.abs(i * ng - j * mg) >= h;
  let previous = new Float64Array(n + 1);
  let current = new Float64Array(n + 1);
  let exit = 0;
  previous[0] = 1;
  for (let j = 1; j <= n; j++) {
    // Along i = 0: each step takes a value of the second sample.
    const arriving = (previous[j - 1] as number) * ((n - j + 1) / (m + n - j + 1));
    if (outside(0, j)) {
      exit += arriving;
      for (let rest = j; rest <= n; rest++) previous[rest] = 0;
      break;
    }
    previous[j] = arriving;
  }
  for (let i = 1; i <= m; i++) {
    current.fill(0);
    for (let j = 0; j <= n; j++) {
      const remaining = m + n - (i - 1) - j;
      // From (i-1, j) by a value of the first sample; from (i, j-1) by one of the second.
      let arriving = (previous[j] as number) * ((m - i + 1) / remaining);
      if (j > 0) arriving += (current[j - 1] as number) * ((n - j + 1) / (m + n - i - j + 1));
      if (arriving === 0) continue;
      if (outside(i, j)) exit += arriving;
      else current[j] = arriving;
    }
    [previous, current] = [current, previous];
  }
  return Math.min(1, Math.max(0, exit));
}

/**
 * Kolmogorov's limiting distribution, `Q(λ) = 2 Σ_{k≥1} (−1)^(k−1) e^(−2k²λ²)` = P(√n·D > λ) as
 * n → ∞ (SciPy's `kstwobign.sf`), with the series for small λ from Jacobi's theta identity.
 */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    // 1 − (√(2π)/λ) Σ_{k≥1} e^(−(2k−1)²π²/(8λ²)) converges fast for small λ.
    const y = -(Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let k = 1; k <= 8; k++) sum += Math.exp((2 * k - 1) * (2 * k - 1) * y);
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * sum));
  }
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += k % 2 === 1 ? term : -term;
    if (term < 1e-300) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * Asymptotic two-sided p-value of the two-sample KS statistic `d` for sizes `m`, `n`: Kolmogorov's
 * distribution at `(√e + 0.12 + 0.11/√e)·d` with `e = m·n/(m+n)`, Stephens' small-sample
 * correction. This is what SciPy's `ks_2samp` computed up to 1.2 (`kstwobign.sf((en + 0.12 +
 * 0.11 / en) * d)`) and what Numerical Recipes' `kstwo` computes; SciPy ≥ 1.3 in `'asymp'` mode
 * uses the one-sample distribution `kstwo.sf(d, round(e))` instead, which agrees closely for the
 * large samples this is used for.
 *
 * @see Stephens, "Use of the Kolmogorov-Smirnov, Cramér-von Mises and related statistics without
 *   extensive tables", JRSS B 32 (1970); Press et al., Numerical Recipes, 3rd ed., §14.3.3
 */
export function ksAsymptoticPValue(m: number, n: number, d: number): number {
  const root = Math.sqrt((m * n) / (m + n));
  return kolmogorovSurvival((root + 0.12 + 0.11 / root) * d);
}

/**
 * Two-sample, two-sided Kolmogorov–Smirnov test of `a` against `b`. Non-finite values and `null`
 * are dropped. The p-value is exact (as SciPy's `ks_2samp` default `method='auto'` computes it) while
 * the larger sample has at most `exactMaxSize` values, asymptotic above; both assume continuous
 * data, so many ties make it conservative. Throws `INPUT_INVALID` when a sample has no finite value.
 *
 * @see https://docs.scipy.org/doc/scipy/reference/generated/scipy.stats.ks_2samp.html
 */
export function ksTwoSample(a: Iterable<number | null>, b: Iterable<number | null>, options: KsOptions = {}): KsResult {
  const first = sortedFinite(a);
  const second = sortedFinite(b);
  const exactMaxSize = options.exactMaxSize ?? 10_000;
  const issues: Issue[] = [];
  if (first.length === 0) issues.push({ path: 'a', message: 'has no finite value' });
  if (second.length === 0) issues.push({ path: 'b', message: 'has no finite value' });
  if (!(Number.isInteger(exactMaxSize) && exactMaxSize >= 0)) issues.push({ path: 'exactMaxSize', message: 'must be an integer >= 0', received: String(exactMaxSize) });
  if (issues.length > 0) throw new InputError('INPUT_INVALID', `Cannot run the two-sample KS test: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}.`, issues);
  return ksOfSorted(first, second, exactMaxSize);
}

/** {@link ksTwoSample} on two non-empty ascending samples. */
function ksOfSorted(first: Float64Array, second: Float64Array, exactMaxSize: number): KsResult {
  const m = first.length;
  const n = second.length;
  const g = greatestCommonDivisor(m, n);
  const mg = m / g;
  const ng = n / g;
  // Walk the merged samples; after each distinct value, F_a − F_b = (i·ng − j·mg) / lcm (integers).
  let i = 0;
  let j = 0;
  let maxPlus = 0;
  let maxMinus = 0;
  let plusAt = first[0] as number;
  let minusAt = first[0] as number;
  while (i < m || j < n) {
    const value = Math.min(i < m ? (first[i] as number) : Infinity, j < n ? (second[j] as number) : Infinity);
    while (i < m && first[i] === value) i++;
    while (j < n && second[j] === value) j++;
    const difference = i * ng - j * mg;
    if (difference > maxPlus) [maxPlus, plusAt] = [difference, value];
    if (-difference > maxMinus) [maxMinus, minusAt] = [-difference, value];
  }
  const lcm = mg * n;
  const h = Math.max(maxPlus, maxMinus);
  const sign: 1 | -1 = maxMinus > maxPlus ? -1 : 1;
  const statistic = h / lcm;
  const exact = Math.max(m, n) <= exactMaxSize;
  const pValue = exact ? ksExactPValue(m, n, h) : ksAsymptoticPValue(m, n, statistic);
  return { statistic, sign, location: sign === 1 ? plusAt : minusAt, pValue, method: exact ? 'exact' : 'asymptotic', sizes: [m, n] };
}

/** Options of {@link checkCanary}: the thresholds of the verdict. */
export interface CanaryOptions {
  /** KS significance level: a p-value below it means the distributions differ. @default 0.01 */
  readonly alpha?: number;
  /** Largest acceptable canary p99 / baseline p99. @default 1.2 */
  readonly maxP99Ratio?: number;
  /** Finite samples each side needs for a verdict (a p99 of fewer than 100 is about the maximum). @default 100 */
  readonly minSamples?: number;
  /** See {@link KsOptions.exactMaxSize}. @default 10000 */
  readonly exactMaxSize?: number;
}

/** The defaulted form of {@link CanaryOptions}. */
export interface ResolvedCanaryOptions {
  readonly alpha: number;
  readonly maxP99Ratio: number;
  readonly minSamples: number;
  readonly exactMaxSize: number;
}

/** What {@link checkCanary} concluded. */
export type CanaryVerdict = 'regression' | 'no_regression' | 'not_enough_data';

/** The outcome of {@link checkCanary}: the verdict, why, and the figures behind it. */
export interface CanaryCheck {
  readonly verdict: CanaryVerdict;
  /** One sentence per finding that decided the verdict. */
  readonly reasons: readonly string[];
  /** The KS test of baseline (`a`) against canary (`b`); null when there was not enough data. */
  readonly ks: KsResult | null;
  /** True when the canary is the slower side of the KS statistic (`ks.sign` +1). */
  readonly canarySlower: boolean | null;
  /** 99th percentiles, in the samples' unit (ms for latencies); null for an empty sample. */
  readonly baselineP99: number | null;
  readonly canaryP99: number | null;
  /** canary p99 / baseline p99; null when either is missing or the baseline's is not positive. */
  readonly p99Ratio: number | null;
  readonly baselineSamples: number;
  readonly canarySamples: number;
  readonly options: ResolvedCanaryOptions;
}

/** Fills in the defaults of {@link CanaryOptions}; throws `INPUT_INVALID` naming each bad option. */
export function resolveCanaryOptions(options: CanaryOptions = {}): ResolvedCanaryOptions {
  const resolved: ResolvedCanaryOptions = { alpha: options.alpha ?? 0.01, maxP99Ratio: options.maxP99Ratio ?? 1.2, minSamples: options.minSamples ?? 100, exactMaxSize: options.exactMaxSize ?? 10_000 };
  const issues: Issue[] = [];
  if (!(resolved.alpha > 0 && resolved.alpha < 1)) issues.push({ path: 'alpha', message: 'must be in (0, 1)', received: String(resolved.alpha) });
  if (!(Number.isFinite(resolved.maxP99Ratio) && resolved.maxP99Ratio > 0)) issues.push({ path: 'maxP99Ratio', message: 'must be a positive number', received: String(resolved.maxP99Ratio) });
  if (!(Number.isInteger(resolved.minSamples) && resolved.minSamples >= 1)) issues.push({ path: 'minSamples', message: 'must be an integer >= 1', received: String(resolved.minSamples) });
  if (!(Number.isInteger(resolved.exactMaxSize) && resolved.exactMaxSize >= 0)) issues.push({ path: 'exactMaxSize', message: 'must be an integer >= 0', received: String(resolved.exactMaxSize) });
  if (issues.length > 0) throw new InputError('INPUT_INVALID', `Invalid canary options: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}.`, issues);
  return resolved;
}

const format = (value: number): string => (Math.abs(value) >= 0.01 || value === 0 ? value.toFixed(3).replace(/\.?0+$/, '') : value.toExponential(2));

/**
 * Compares canary latency samples with baseline ones (any one unit, e.g. ms) and gives a verdict
 * (see the module documentation). `null` and non-finite samples are dropped. Deterministic.
 * Throws `INPUT_INVALID` only for bad options.
 */
export function checkCanary(baseline: Iterable<number | null>, canary: Iterable<number | null>, options: CanaryOptions = {}): CanaryCheck {
  const resolved = resolveCanaryOptions(options);
  const base = sortedFinite(baseline);
  const next = sortedFinite(canary);
  const baselineP99 = base.length === 0 ? null : quantileOfSorted(base, 0.99);
  const canaryP99 = next.length === 0 ? null : quantileOfSorted(next, 0.99);
  const p99Ratio = baselineP99 !== null && canaryP99 !== null && baselineP99 > 0 ? canaryP99 / baselineP99 : null;
  const common = { baselineP99, canaryP99, p99Ratio, baselineSamples: base.length, canarySamples: next.length, options: resolved };
  if (base.length < resolved.minSamples || next.length < resolved.minSamples) {
    return { ...common, verdict: 'not_enough_data', reasons: [`need at least ${resolved.minSamples} samples on each side; have ${base.length} baseline and ${next.length} canary`], ks: null, canarySlower: null };
  }
  const ks = ksOfSorted(base, next, resolved.exactMaxSize);
  const canarySlower = ks.sign === 1;
  const reasons: string[] = [];
  if (ks.pValue < resolved.alpha && canarySlower) reasons.push(`the canary's latency distribution is slower: KS D = ${format(ks.statistic)}, p = ${format(ks.pValue)} < ${resolved.alpha}`);
  if (p99Ratio !== null && p99Ratio > resolved.maxP99Ratio) reasons.push(`the canary's p99 is ${format(p99Ratio)}× the baseline's (${format(canaryP99 as number)} vs ${format(baselineP99 as number)}), above ${resolved.maxP99Ratio}×`);
  if (reasons.length > 0) return { ...common, verdict: 'regression', reasons, ks, canarySlower };
  const bulk = ks.pValue < resolved.alpha ? `the distributions differ (KS p = ${format(ks.pValue)}) but the canary is faster` : `no significant difference (KS D = ${format(ks.statistic)}, p = ${format(ks.pValue)} >= ${resolved.alpha})`;
  const tail = p99Ratio === null ? 'p99 ratio undefined (baseline p99 not positive)' : `p99 ratio ${format(p99Ratio)} <= ${resolved.maxP99Ratio}`;
  return { ...common, verdict: 'no_regression', reasons: [bulk, tail], ks, canarySlower };
}
