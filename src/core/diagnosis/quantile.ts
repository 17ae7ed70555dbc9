/**
 * Quantiles of a sample, the way NumPy computes them by default (`np.percentile(x, q)`,
 * `method='linear'`, Hyndman & Fan type 7), so figures match what an engineer gets in a notebook
 * and what the reference implementations of the methods in this folder (RCAEval's BARO through
 * scikit-learn's `RobustScaler`) compute.
 *
 * @see Hyndman & Fan, "Sample Quantiles in Statistical Packages", The American Statistician 50(4), 1996 (definition 7)
 */

/**
 * The `q`-quantile (q in 0..1) of an ascending, non-empty sample by linear interpolation between
 * the closest ranks: position `(n - 1) q`. `quantileOfSorted(s, 0.5)` is the median. The caller
 * sorts; nothing is checked beyond `q` being clamped to 0..1.
 */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = (n - 1) * Math.min(1, Math.max(0, q));
  const lower = Math.floor(position);
  const upper = Math.min(n - 1, lower + 1);
  const low = sorted[lower] as number;
  const fraction = position - lower;
  return fraction === 0 ? low : low + (fraction * ((sorted[upper] as number) - low));
}

/** The finite values of `values` in ascending order (`null`, NaN and ±Infinity dropped), as a new array. */
export function sortedFinite(values: Iterable<number | null>): Float64Array {
  const kept: number[] = [];
  for (const value of values) if (value !== null && Number.isFinite(value)) kept.push(value);
  return Float64Array.from(kept).sort();
}
