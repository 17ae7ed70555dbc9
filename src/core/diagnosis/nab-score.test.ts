import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import {
  NAB_PROFILES,
  nabProbationLength,
  nabWindows,
  optimizeNabThreshold,
  parseNabTimestamp,
  scaledSigmoid,
  scoreNabCorpus,
  scoreNabFile,
  type NabCostMatrix,
  type NabFile,
} from './nab-score.js';

const MINUTE = 60_000;
const STANDARD = NAB_PROFILES.standard;
const NO_PROBATION = { probationPercent: 0 };
const ALL_ONE: NabCostMatrix = { tpWeight: 1, fpWeight: 1, fnWeight: 1 };

/** A file of `rows` rows one minute apart, windows given as [first row, last row], detections (score 1) at `detections`. */
function file(rows: number, windows: ReadonlyArray<readonly [number, number]>, detections: readonly number[], name = 'test.csv'): NabFile {
  const timestamps = Array.from({ length: rows }, (_, index) => index * MINUTE);
  const scores = timestamps.map((_, index) => (detections.includes(index) ? 1 : 0));
  return { name, timestamps, scores, windows: windows.map(([start, end]) => ({ start: start * MINUTE, end: end * MINUTE })) };
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof InputError) return error.code;
    throw error;
  }
  return undefined;
}

describe('NAB scaled sigmoid and probation', () => {
  it('matches the values NAB documents', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(scaledSigmoid(3)).toBeCloseTo(2 / (1 + Math.exp(15)) - 1, 15);
    expect(scaledSigmoid(3.0001)).toBe(-1);
  });

  it('has the probation lengths of NAB test_sweeper', () => {
    expect(nabProbationLength(100, 0)).toBe(0);
    expect(nabProbationLength(100, 1)).toBe(100);
    expect(nabProbationLength(100, 0.1)).toBe(10);
    expect(nabProbationLength(100, 0.15)).toBe(15);
    expect(nabProbationLength(5000, 0.1)).toBe(500);
    expect(nabProbationLength(6000, 0.1)).toBe(500);
    expect(nabProbationLength(15_902)).toBe(750);
  });
});

describe('NAB scoring of one file (hand-computed)', () => {
  // Window rows 40..49: width 10, right edge 49. σ(-1) = 0.9866142981514305.
  it('gives a detection exactly at the right edge of a window σ(-1/10) / σ(-1)', () => {
    const result = scoreNabFile(file(100, [[40, 49]], [49]), STANDARD, 0.5, NO_PROBATION);
    expect(result.score).toBeCloseTo(0.24824154977542992, 12);
    expect(result).toMatchObject({ tp: 1, fp: 0, fn: 9, tn: 90, total: 100 });
  });

  it('gives a detection at the left edge of a window the full A_TP', () => {
    expect(scoreNabFile(file(100, [[40, 49]], [40]), STANDARD, 0.5, NO_PROBATION).score).toBe(1);
  });

  it('counts only the first of two detections in one window', () => {
    // Row 42: position -(49 - 42 + 1) / 10 = -0.8.
    const result = scoreNabFile(file(100, [[40, 49]], [42, 45]), STANDARD, 0.5, NO_PROBATION);
    expect(result.score).toBeCloseTo(0.9771068409226045, 12);
    expect(result.tp).toBe(2);
  });

  it('ignores detections in the probation period, also in the part of a window inside it', () => {
    // 100 rows: 15 rows of probation. Window rows 10..24 (width 15); row 5 and 12 are in probation, row 20 counts:
    // position -(24 - 20 + 1) / 15 = -1/3.
    const result = scoreNabFile(file(100, [[10, 24]], [5, 12, 20]), STANDARD, 0.5);
    expect(result.score).toBeCloseTo(0.6915182473196357, 12);
    expect(result).toMatchObject({ tp: 1, fp: 0, fn: 9, tn: 75, total: 85 });
    // A window wholly in probation is not a miss.
    expect(scoreNabFile(file(100, [[2, 8]], []), STANDARD, 0.5).score).toBe(0);
  });

  it('scores a false positive relative to the previous window, and -A_FP far after it or before any window', () => {
    // Row 52: σ(|49 - 52| / (10 - 1)) · 0.11; row 95: more than 3 widths after, -0.11; the window is missed, -1.
    const after = scoreNabFile(file(100, [[40, 49]], [52, 95]), STANDARD, 0.5, NO_PROBATION);
    expect(after.score).toBeCloseTo(-1.1850487969261987, 12);
    expect(after).toMatchObject({ tp: 0, fp: 2, fn: 10, tn: 88 });
    expect(scoreNabFile(file(100, [[40, 49]], [20]), STANDARD, 0.5, NO_PROBATION).score).toBeCloseTo(-1.11, 12);
    expect(scoreNabFile(file(100, [], [20, 30]), NAB_PROFILES.reward_low_FP_rate, 0.5, NO_PROBATION).score).toBeCloseTo(-0.44, 12);
  });

  it('reproduces NAB test_scorer testScoringAllMetrics (-0.9540)', () => {
    // Two windows of 5 rows at 30..34 and 65..69; a TP, another TP and an FP 3 rows after the first window.
    const result = scoreNabFile(file(100, [[30, 34], [65, 69]], [30, 31, 37]), ALL_ONE, 0.5, NO_PROBATION);
    expect(result.score).toBeCloseTo(-0.9540452601799487, 12);
    expect(result).toMatchObject({ tn: 89, tp: 2, fp: 1, fn: 8 });
  });

  it('uses the sweep row of the threshold, or of the lowest tried score above it', () => {
    const twoLevels: NabFile = { ...file(100, [[40, 49]], []), scores: Array.from({ length: 100 }, (_, row) => (row === 40 ? 0.3 : row === 45 ? 0.7 : 0)) };
    // At 0.5 only row 45 is detected: position -(49 - 45 + 1) / 10 = -0.5.
    expect(scoreNabFile(twoLevels, STANDARD, 0.5, NO_PROBATION).score).toBeCloseTo(0.8597925669097837, 12);
    expect(scoreNabFile(twoLevels, STANDARD, 0.3, NO_PROBATION).score).toBe(1);
    expect(scoreNabFile(twoLevels, STANDARD, 1.1, NO_PROBATION).score).toBe(-1);
  });

  it('refuses a window edge that is not a row, scores that do not match the rows, and a non-finite score', () => {
    const base = file(10, [[2, 4]], [3]);
    expect(codeOf(() => scoreNabFile({ ...base, windows: [{ start: 2.5 * MINUTE, end: 4 * MINUTE }] }, STANDARD, 0.5))).toBe('INPUT_INVALID');
    expect(codeOf(() => scoreNabFile({ ...base, windows: [{ start: 2 * MINUTE, end: 4.5 * MINUTE }] }, STANDARD, 0.5))).toBe('INPUT_INVALID');
    expect(codeOf(() => scoreNabFile({ ...base, scores: [1, 2] }, STANDARD, 0.5))).toBe('INPUT_INVALID');
    expect(codeOf(() => scoreNabFile({ ...base, scores: base.scores.map((score, row) => (row === 5 ? Number.NaN : score)) }, STANDARD, 0.5))).toBe('INPUT_INVALID');
  });
});

describe('NAB corpus scoring', () => {
  it('chooses the threshold with the best total, the higher one on a tie', () => {
    // Row 20 (0.9) is a false positive before the window, row 40 (0.6) the window's left edge.
    const scores = Array.from({ length: 100 }, (_, row) => (row === 20 ? 0.9 : row === 40 ? 0.6 : 0));
    expect(optimizeNabThreshold([{ ...file(100, [[40, 49]], []), scores }], STANDARD, NO_PROBATION)).toEqual({ threshold: 0.6, score: 1 - 0.11 });
    // 0.8 at the left edge and 0.4 later in the window score the same: the higher threshold wins.
    const tie = Array.from({ length: 100 }, (_, row) => (row === 40 ? 0.8 : row === 45 ? 0.4 : 0));
    expect(optimizeNabThreshold([{ ...file(100, [[40, 49]], []), scores: tie }], STANDARD, NO_PROBATION)).toEqual({ threshold: 0.8, score: 1 });
  });

  it('normalises to 100 for the perfect detector and 0 for the null detector, in every profile', () => {
    const windows: Array<[number, number]> = [[30, 39], [70, 79]];
    const perfect = [file(200, windows, [30, 70], 'a.csv'), file(200, [[120, 139]], [120], 'b.csv'), file(200, [], [], 'c.csv')];
    const nothing = perfect.map((entry) => ({ ...entry, scores: entry.scores.map(() => 0.5) }));
    for (const cost of Object.values(NAB_PROFILES)) {
      const best = scoreNabCorpus(perfect, cost);
      expect(best.normalized).toBeCloseTo(100, 10);
      expect(best.perfectScore).toBe(3 * cost.tpWeight);
      expect(best.nullScore).toBe(-3 * cost.fnWeight);
      expect(scoreNabCorpus(nothing, cost).normalized).toBe(0);
      expect(best.files.map((entry) => entry.name)).toEqual(['a.csv', 'b.csv', 'c.csv']);
    }
  });

  it('agrees with a direct reading of the rules, for any file, threshold and profile', () => {
    /** NAB's rules read directly (as nab/scorer.py's getScore did), with no sweep. */
    function direct(entry: NabFile, cost: NabCostMatrix, threshold: number, probationPercent: number): number {
      const probation = nabProbationLength(entry.timestamps.length, probationPercent);
      const bounds = entry.windows.map((window) => [entry.timestamps.indexOf(window.start), entry.timestamps.indexOf(window.end)] as const);
      const detected = (row: number) => row >= probation && (entry.scores[row] as number) >= threshold;
      let score = 0;
      for (const [left, right] of bounds) {
        if (right < probation) continue;
        const width = right - left + 1;
        let first = -1;
        for (let row = left; row <= right; row++) {
          if (detected(row)) {
            first = row;
            break;
          }
        }
        score += first === -1 ? -cost.fnWeight : (scaledSigmoid(-(right - first + 1) / width) * cost.tpWeight) / scaledSigmoid(-1);
      }
      entry.timestamps.forEach((_, row) => {
        if (!detected(row) || bounds.some(([left, right]) => row >= left && row <= right)) return;
        const previous = bounds.filter(([, right]) => right < row).at(-1);
        score += previous === undefined ? -cost.fpWeight : scaledSigmoid(Math.abs(previous[1] - row) / (previous[1] - previous[0])) * cost.fpWeight;
      });
      return score;
    }
    const level = fc.constantFrom(0, 0.25, 0.5, 0.75, 1);
    const arbitraryFile = fc
      .record({
        rows: fc.integer({ min: 10, max: 120 }),
        windows: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 30 }), width: fc.integer({ min: 2, max: 15 }) }), { maxLength: 3 }),
        levels: fc.array(level, { minLength: 120, maxLength: 120 }),
      })
      .map(({ rows, windows, levels }): NabFile => {
        const bounds: Array<[number, number]> = [];
        let next = 0;
        for (const { gap, width } of windows) {
          const left = next + gap;
          if (left + width - 1 >= rows) break;
          bounds.push([left, left + width - 1]);
          next = left + width;
        }
        return { ...file(rows, bounds, []), scores: levels.slice(0, rows) };
      });
    fc.assert(
      fc.property(arbitraryFile, fc.constantFrom(0, 0.3, 0.5, 0.75, 1, 1.1), fc.constantFrom(...Object.values(NAB_PROFILES)), fc.constantFrom(0, 0.15, 0.3), (entry, threshold, cost, probationPercent) => {
        expect(scoreNabFile(entry, cost, threshold, { probationPercent }).score).toBeCloseTo(direct(entry, cost, threshold, probationPercent), 9);
      }),
      { numRuns: 400 },
    );
    // The sweep's best total is the best total over every threshold, read directly.
    fc.assert(
      fc.property(fc.array(arbitraryFile, { minLength: 1, maxLength: 3 }), fc.constantFrom(...Object.values(NAB_PROFILES)), (files, cost) => {
        const named = files.map((entry, index) => ({ ...entry, name: `f${index}.csv` }));
        const candidates = [1.1, ...new Set(named.flatMap((entry) => entry.scores))];
        const best = Math.max(...candidates.map((threshold) => named.reduce((sum, entry) => sum + direct(entry, cost, threshold, 0.15), 0)));
        expect(optimizeNabThreshold(named, cost).score).toBeCloseTo(best, 9);
      }),
      { numRuns: 200 },
    );
  });
});

describe('NAB labeler', () => {
  it('gives back the windows of combined_windows.json from the labels (speed_7578)', () => {
    const fixtures = new URL('../../../test/fixtures/nab/', import.meta.url);
    const rows = readFileSync(new URL('speed_7578.csv', fixtures), 'utf8').trim().split('\n').slice(1);
    const timestamps = rows.map((row) => parseNabTimestamp(row.split(',')[0] ?? ''));
    const { labels, windows } = JSON.parse(readFileSync(new URL('speed_7578.labels.json', fixtures), 'utf8')) as { labels: string[]; windows: Array<[string, string]> };
    expect(timestamps).toHaveLength(1127);
    expect(nabWindows(timestamps, labels.map(parseNabTimestamp))).toEqual(windows.map(([start, end]) => ({ start: parseNabTimestamp(start), end: parseNabTimestamp(end) })));
  });

  it('centres floor(0.1 n / k) rows on each anomaly, merges overlaps and drops a first window in probation', () => {
    const timestamps = Array.from({ length: 100 }, (_, index) => index * MINUTE);
    // Two anomalies: 5 rows each (half 2); rows 50 and 53 give 48..52 and 51..55, merged.
    expect(nabWindows(timestamps, [50 * MINUTE, 53 * MINUTE])).toEqual([{ start: 48 * MINUTE, end: 55 * MINUTE }]);
    // Row 10 is in probation (15 rows): its window goes; row 60's stays (3 windows: 3 rows each, half 1).
    expect(nabWindows(timestamps, [10 * MINUTE, 60 * MINUTE, 98 * MINUTE])).toEqual([{ start: 59 * MINUTE, end: 61 * MINUTE }, { start: 97 * MINUTE, end: 99 * MINUTE }]);
    expect(nabWindows(timestamps, [])).toEqual([]);
    expect(codeOf(() => nabWindows(timestamps, [30.5 * MINUTE]))).toBe('INPUT_INVALID');
  });

  it('reads NAB timestamps, with or without fractions, as UTC', () => {
    expect(parseNabTimestamp('2014-04-01 00:05:00')).toBe(Date.UTC(2014, 3, 1, 0, 5, 0));
    expect(parseNabTimestamp('2015-09-11 15:34:00.000000')).toBe(Date.UTC(2015, 8, 11, 15, 34, 0));
    expect(parseNabTimestamp('2015-09-11 15:34:00.250000')).toBe(Date.UTC(2015, 8, 11, 15, 34, 0, 250));
    expect(codeOf(() => parseNabTimestamp('11/09/2015'))).toBe('INPUT_INVALID');
  });
});
