import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitAt, linearFit, lowerBound, robustLinearFit, stepChange } from './series-stats.js';

const T0 = Date.parse('2026-03-25T10:00:00Z');
const times = (n: number): number[] => Array.from({ length: n }, (_, index) => T0 + index * 30_000);

describe('linearFit', () => {
  it('recovers an exact line at epoch-millisecond times (slope per ms, R² 1)', () => {
    const t = times(50);
    const fit = linearFit(t, t.map((time) => 100 + (time - T0) * 2e-5));
    expect(fit?.slope).toBeCloseTo(2e-5, 12);
    expect(fit?.r2).toBeCloseTo(1, 12);
    expect(fitAt(fit!, T0)).toBeCloseTo(100, 6);
  });

  it('gives R² 0 for a constant series and null for fewer than 3 points or one time', () => {
    expect(linearFit(times(10), new Array(10).fill(5))?.r2).toBe(0);
    expect(linearFit(times(2), [1, 2])).toBeNull();
    expect(linearFit([T0, T0, T0], [1, 2, 3])).toBeNull();
  });

  it('R² stays within [0, 1] on any input', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 3, maxLength: 60 }), (values) => {
        const fit = linearFit(times(values.length), values);
        expect(fit === null || (fit.r2 >= 0 && fit.r2 <= 1)).toBe(true);
      }),
    );
  });
});

describe('robustLinearFit', () => {
  it('one scrape glitch does not spoil the trend, where least squares is thrown off', () => {
    const t = times(60);
    const values = t.map((_, index) => 500 + 2 * index + (index % 3) - 1);
    values[40] = 1500;
    expect(linearFit(t, values)?.r2).toBeLessThan(0.5);
    const robust = robustLinearFit(t, values);
    expect(robust?.r2).toBeGreaterThan(0.99);
    expect(robust?.points).toBe(59);
    expect((robust?.slope ?? 0) * 30_000).toBeCloseTo(2, 1);
  });
});

describe('stepChange', () => {
  it('finds a planted step and its size in robust standard deviations', () => {
    const t = times(80);
    const values = t.map((_, index) => (index < 50 ? 0.002 : 0.05) * (1 + 0.1 * Math.sin(index * 1.7)));
    const step = stepChange(t, values);
    expect(step?.index).toBe(50);
    expect(step?.atMs).toBe(t[50]);
    expect(step?.meanAfter).toBeGreaterThan(step?.meanBefore ?? Infinity);
    expect(step?.z).toBeGreaterThan(50);
  });

  it('is null for a series shorter than two segments', () => {
    expect(stepChange(times(5), [1, 2, 3, 4, 5])).toBeNull();
  });
});

describe('lowerBound', () => {
  it('is the first index at or after t', () => {
    expect(lowerBound([1, 3, 3, 5], 3)).toBe(1);
    expect(lowerBound([1, 3, 3, 5], 4)).toBe(3);
    expect(lowerBound([1, 3, 3, 5], 9)).toBe(4);
    expect(lowerBound([], 1)).toBe(0);
  });
});
