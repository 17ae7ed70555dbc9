import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { checkCanary, kolmogorovSurvival, ksAsymptoticPValue, ksExactPValue, ksTwoSample } from './canary.js';
import { seededRandom } from '../../../test/support/random.js';

const range = (from: number, to: number, map: (value: number) => number = (value) => value): number[] => Array.from({ length: to - from + 1 }, (_, index) => map(from + index));

/** Relative difference, for p-values that span many orders of magnitude. */
const relative = (actual: number, expected: number): number => Math.abs(actual - expected) / Math.abs(expected);

describe('ksTwoSample against SciPy', () => {
  // Expected values from SciPy 1.17.1: scipy.stats.ks_2samp(a, b) (method='auto', exact for these sizes).
  const cases: ReadonlyArray<{ name: string; a: number[]; b: number[]; statistic: number; pValue: number; sign: 1 | -1; location: number }> = [
    { name: 'separated, 3 and 3', a: [1, 2, 3], b: [4, 5, 6], statistic: 1, pValue: 0.09999999999999999, sign: 1, location: 3 },
    { name: 'separated, reversed', a: [4, 5, 6], b: [1, 2, 3], statistic: 1, pValue: 0.09999999999999999, sign: -1, location: 3 },
    { name: 'separated, 4 and 4 (2 / C(8, 4))', a: [1, 2, 3, 4], b: [5, 6, 7, 8], statistic: 1, pValue: 0.028571428571428577, sign: 1, location: 4 },
    { name: 'overlapping, 20 and 15', a: range(0, 19), b: range(0, 14, (i) => i + 7.5), statistic: 0.4, pValue: 0.10191783128372234, sign: 1, location: 7 },
    { name: 'shifted with ties, 100 and 120', a: range(1, 100), b: range(31, 150), statistic: 0.4166666666666667, pValue: 5.3448830258042276e-9, sign: 1, location: 100 },
    { name: 'interleaved, 100 and 100', a: range(1, 100), b: range(1, 100, (i) => i + 0.5), statistic: 0.01, pValue: 1, sign: 1, location: 7 },
    { name: 'ties, 6 and 6', a: [1, 2, 2, 3, 3, 3], b: [2, 3, 3, 4, 4, 5], statistic: 0.5, pValue: 0.474025974025974, sign: 1, location: 3 },
  ];
  for (const { name, a, b, statistic, pValue, sign, location } of cases) {
    it(`gives SciPy's D, p-value, sign and location: ${name}`, () => {
      const result = ksTwoSample(a, b);
      expect(result.method).toBe('exact');
      expect(result.statistic).toBeCloseTo(statistic, 14);
      expect(relative(result.pValue, pValue)).toBeLessThan(1e-12);
      expect(result.sign).toBe(sign);
      if (statistic < 0.05) return; // SciPy reports the first location of a tiny D; any is as good
      expect(result.location).toBe(location);
    });
  }

  it('uses the asymptotic p-value above exactMaxSize: Stephens-corrected Kolmogorov (SciPy ≤ 1.2), close to SciPy 1.17', () => {
    const a = range(0, 11_999);
    const b = range(0, 10_999, (j) => j * 1.0909 + 300);
    const result = ksTwoSample(a, b);
    expect(result.method).toBe('asymptotic');
    expect(result.statistic).toBeCloseTo(0.02507575757575764, 14);
    // kstwobign.sf((sqrt(en) + 0.12 + 0.11 / sqrt(en)) * d), SciPy 1.17.1
    expect(relative(result.pValue, 0.0014337379658057507)).toBeLessThan(1e-10);
    // ks_2samp(a, b), SciPy 1.17.1 (method 'asymp': kstwo.sf(d, round(en)))
    expect(relative(result.pValue, 0.0014421857665278418)).toBeLessThan(0.01);
    expect(ksAsymptoticPValue(12_000, 11_000, result.statistic)).toBe(result.pValue);
  });

  it("computes Kolmogorov's limiting distribution as SciPy's kstwobign.sf", () => {
    const expected: ReadonlyArray<readonly [number, number]> = [
      [0.3, 0.9999906941986655],
      [0.5, 0.9639452436648751],
      [0.8, 0.5441424115741981],
      [1, 0.26999967167735456],
      [1.18, 0.1234538094297657],
      [1.2, 0.11224966667072497],
      [1.5, 0.022217962616525127],
      [2, 0.0006709252557796953],
      [3, 3.045995948942526e-8],
    ];
    for (const [lambda, survival] of expected) expect(relative(kolmogorovSurvival(lambda), survival)).toBeLessThan(1e-10);
    expect(kolmogorovSurvival(0)).toBe(1);
  });
});

/** Every way to interleave m first-sample and n second-sample values (as bit masks). */
function* orderings(m: number, n: number): Generator<boolean[]> {
  const total = m + n;
  for (let mask = 0; mask < 1 << total; mask++) {
    let ones = 0;
    for (let bit = 0; bit < total; bit++) if (mask & (1 << bit)) ones++;
    if (ones === m) yield Array.from({ length: total }, (_, bit) => (mask & (1 << bit)) !== 0);
  }
}

describe('ksExactPValue', () => {
  it('equals the share of all orderings whose D is at least as large (brute force, sizes up to 6)', () => {
    for (let m = 1; m <= 6; m++) {
      for (let n = 1; n <= 6; n++) {
        const statistics: number[] = [];
        for (const order of orderings(m, n)) {
          let i = 0;
          let j = 0;
          let d = 0;
          for (const fromFirst of order) {
            if (fromFirst) i++;
            else j++;
            d = Math.max(d, Math.abs(i * n - j * m));
          }
          statistics.push(d);
        }
        // Distances are in units of 1/(m·n); ksExactPValue takes units of 1/lcm(m, n) = g/(m·n).
        const g = gcd(m, n);
        for (const h of new Set(statistics)) {
          const share = statistics.filter((d) => d >= h).length / statistics.length;
          expect(ksExactPValue(m, n, h / g)).toBeCloseTo(share, 13);
        }
      }
    }
  });
});

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

describe('ksTwoSample properties', () => {
  const sample = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 40 });

  it('has D and p in 0..1, is symmetric, and gives D = 0, p = 1 for identical samples', () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const forward = ksTwoSample(a, b);
        const backward = ksTwoSample(b, a);
        expect(forward.statistic).toBeGreaterThanOrEqual(0);
        expect(forward.statistic).toBeLessThanOrEqual(1);
        expect(forward.pValue).toBeGreaterThanOrEqual(0);
        expect(forward.pValue).toBeLessThanOrEqual(1);
        expect(backward.statistic).toBe(forward.statistic);
        expect(backward.pValue).toBeCloseTo(forward.pValue, 12);
        const same = ksTwoSample(a, [...a].reverse());
        expect(same.statistic).toBe(0);
        expect(same.pValue).toBe(1);
      }),
      { seed: 3, numRuns: 200 },
    );
  });

  it('does not depend on the order of the values, and drops null and non-finite ones', () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const noisy = [...b, null, Number.NaN, Infinity].reverse();
        expect(ksTwoSample([...a].reverse(), noisy)).toEqual(ksTwoSample(a, b));
      }),
      { seed: 4, numRuns: 100 },
    );
  });

  it('refuses a sample with no finite value', () => {
    expect(() => ksTwoSample([], [1])).toThrow(InputError);
    expect(() => ksTwoSample([Number.NaN, null], [1])).toThrow(InputError);
  });
});

/** `count` log-normal latencies, ms: median `median`, log-spread 0.3. */
function latencies(seed: number, count: number, median: number): number[] {
  const next = seededRandom(seed);
  return Array.from({ length: count }, () => {
    let sum = 0;
    for (let index = 0; index < 12; index++) sum += next();
    return median * Math.exp(0.3 * (sum - 6));
  });
}

describe('checkCanary', () => {
  const baseline = latencies(1, 600, 100);

  it('finds no regression when the canary behaves like the baseline', () => {
    const check = checkCanary(baseline, latencies(2, 500, 100));
    expect(check.verdict).toBe('no_regression');
    expect(check.ks?.pValue).toBeGreaterThan(0.01);
    expect(check.p99Ratio).toBeGreaterThan(0.8);
    expect(check.p99Ratio).toBeLessThan(1.2);
    expect(check.reasons).toHaveLength(2);
  });

  it('finds a regression when the canary is slower across the distribution', () => {
    const check = checkCanary(baseline, latencies(3, 500, 115));
    expect(check.verdict).toBe('regression');
    expect(check.canarySlower).toBe(true);
    expect(check.ks?.pValue).toBeLessThan(0.01);
    expect(check.reasons[0]).toMatch(/^the canary's latency distribution is slower: KS D = /);
  });

  it('does not call a faster canary a regression', () => {
    const check = checkCanary(baseline, latencies(4, 500, 80));
    expect(check.ks?.pValue).toBeLessThan(0.01);
    expect(check.canarySlower).toBe(false);
    expect(check.verdict).toBe('no_regression');
    expect(check.reasons[0]).toMatch(/but the canary is faster/);
  });

  it('finds a tail regression the KS test misses through the p99 ratio', () => {
    // 3 % of the canary's requests take 4× as long: the bulk is unchanged, the tail is not.
    const canary = latencies(5, 500, 100).map((value, index) => (index % 33 === 0 ? value * 4 : value));
    const check = checkCanary(baseline, canary);
    expect(check.ks?.pValue).toBeGreaterThan(0.01);
    expect(check.p99Ratio).toBeGreaterThan(1.2);
    expect(check.verdict).toBe('regression');
    expect(check.reasons).toEqual([expect.stringMatching(/^the canary's p99 is [\d.]+× the baseline's/)]);
  });

  it('says when there is not enough data, and uses the thresholds it is given', () => {
    const few = checkCanary(baseline, latencies(6, 99, 300));
    expect(few.verdict).toBe('not_enough_data');
    expect(few.ks).toBeNull();
    expect(few.canarySamples).toBe(99);
    expect(checkCanary(baseline, latencies(6, 99, 300), { minSamples: 50 }).verdict).toBe('regression');
    const slightlySlower = latencies(7, 500, 104);
    expect(checkCanary(baseline, slightlySlower, { alpha: 0.5, maxP99Ratio: 10 }).verdict).toBe('regression');
    expect(checkCanary(baseline, slightlySlower, { alpha: 1e-12, maxP99Ratio: 10 }).verdict).toBe('no_regression');
    expect(() => checkCanary(baseline, baseline, { alpha: 0 })).toThrow(InputError);
  });

  it('computes p99 as np.percentile does (linear interpolation)', () => {
    const check = checkCanary(range(1, 100), range(1, 100, (value) => value * 2), { minSamples: 1 });
    expect(check.baselineP99).toBeCloseTo(99.01, 12);
    expect(check.canaryP99).toBeCloseTo(198.02, 12);
    expect(check.p99Ratio).toBeCloseTo(2, 12);
  });
});
