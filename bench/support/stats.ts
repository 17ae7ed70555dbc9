/** Summary of a sample of durations or sizes: count, median, 99th percentile, mean, min and max. */
export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** The `q`-quantile (0..1) of an ascending sample by the nearest-rank method: always a measured value. */
function quantileOfSorted(sorted: readonly number[], q: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

function ascending(values: readonly number[]): number[] {
  if (values.length === 0) throw new Error('cannot summarise an empty sample');
  return [...values].sort((a, b) => a - b);
}

/** The median of `values` (the mean of the two middle values for an even count). Throws on an empty sample. */
export function median(values: readonly number[]): number {
  const sorted = ascending(values);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * Summarises `values` (p50 and p99 by the nearest rank), each figure rounded to `digits` decimals;
 * the raw values belong in the results file. Throws on an empty sample.
 */
export function summarize(values: readonly number[], digits = 3): Summary {
  const sorted = ascending(values);
  return {
    n: sorted.length,
    p50: round(quantileOfSorted(sorted, 0.5), digits),
    p99: round(quantileOfSorted(sorted, 0.99), digits),
    mean: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length, digits),
    min: round(sorted[0] as number, digits),
    max: round(sorted[sorted.length - 1] as number, digits),
  };
}

/** `value` rounded to `digits` decimals, for figures and ratios in the results file. */
export function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}
