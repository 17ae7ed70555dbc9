import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { DEFAULT_ANOMALY_DETECTOR_OPTIONS, createAnomalyDetector, resolveAnomalyDetectorOptions, scoreSeries, type SeriesPoint } from './anomaly.js';
import { nabProbationLength, parseNabTimestamp } from './nab-score.js';
import { seededRandom } from '../../../test/support/random.js';

/** The score at which NAB's sweep put its threshold on the dev subset, about: a tail probability of 1e-5. */
const ALARM = 0.5;
const MINUTE = 60_000;

/** A standard normal number from two uniform ones of `next` (Box-Muller). */
function normal(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** `length` points one minute apart: 100 + 5·N(0, 1) noise plus `change(i)`. */
function noisySeries(seed: number, length: number, change: (index: number) => number = () => 0): SeriesPoint[] {
  const next = seededRandom(seed);
  return Array.from({ length }, (_, index) => ({ t: index * MINUTE, value: 100 + 5 * normal(next) + change(index) }));
}

/** Index of the first point at or after `from` that scores ALARM or more, relative to `from`; -1 if none. */
function firstAlarm(scores: readonly number[], from: number): number {
  const index = scores.findIndex((score, row) => row >= from && score >= ALARM);
  return index === -1 ? -1 : index - from;
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

const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 });
const seriesArbitrary = fc.array(fc.record({ dt: fc.integer({ min: 1, max: 3_600_000 }), value: finite }), { minLength: 1, maxLength: 700 }).map((steps) => {
  let t = Date.UTC(2026, 0, 1);
  return steps.map((step) => ({ t: (t += step.dt), value: step.value }));
});
/** Small warm-up and windows so short generated series reach every stage. */
const smallOptions = { warmUpPoints: 20, seasonalBins: 4, averagingWindow: 3, levelMemory: 50, likelihoodMemory: 100 };

describe('anomaly detector', () => {
  it('gives the same scores in batch as the stream, point for point', () => {
    fc.assert(
      fc.property(seriesArbitrary, fc.boolean(), (points, small) => {
        const options = small ? smallOptions : {};
        const detector = createAnomalyDetector(options);
        const streamed = points.map((point) => detector.push(point.t, point.value).score);
        expect(scoreSeries(points, options)).toEqual(streamed);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps every score, surprise and likelihood in 0..1, even on wild values', () => {
    fc.assert(
      fc.property(seriesArbitrary, (points) => {
        const detector = createAnomalyDetector(smallOptions);
        for (const point of points) {
          const result = detector.push(point.t, point.value);
          for (const value of [result.score, result.surprise, result.likelihood]) {
            expect(value).toBeGreaterThanOrEqual(0);
            expect(value).toBeLessThanOrEqual(1);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('is deterministic: the same series gives the same results, in a fresh detector', () => {
    const points = noisySeries(7, 3000, (index) => (index >= 2500 ? 25 : 0));
    const run = () => {
      const detector = createAnomalyDetector();
      return points.map((point) => detector.push(point.t, point.value));
    };
    expect(run()).toEqual(run());
  });

  it('stays quiet on a noisy stationary series: under one alarm in 10,000 points', () => {
    let alarms = 0;
    let scored = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const scores = scoreSeries(noisySeries(seed, 10_300));
      const afterWarmUp = scores.slice(DEFAULT_ANOMALY_DETECTOR_OPTIONS.warmUpPoints);
      alarms += afterWarmUp.filter((score) => score >= ALARM).length;
      scored += afterWarmUp.length;
    }
    expect(scored).toBe(50_000);
    expect(alarms).toBeLessThan(5);
  });

  it('flags a spike at the spike', () => {
    for (const seed of [1, 2, 3]) {
      const scores = scoreSeries(noisySeries(seed, 1200, (index) => (index === 1000 ? 60 : 0)));
      expect(scores[1000]).toBeGreaterThanOrEqual(ALARM);
      expect(firstAlarm(scores, 900)).toBe(100);
    }
  });

  it('flags a level shift up and a step down within five points', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      // Four standard deviations: within the range noise has already reached, so the likelihood, not novelty, must see it.
      const up = scoreSeries(noisySeries(seed, 1300, (index) => (index >= 1000 ? 20 : 0)));
      const down = scoreSeries(noisySeries(seed, 1300, (index) => (index >= 1000 ? -20 : 0)));
      for (const scores of [up, down]) {
        expect(firstAlarm(scores, 900)).toBeGreaterThanOrEqual(100);
        expect(firstAlarm(scores, 1000)).toBeGreaterThanOrEqual(0);
        expect(firstAlarm(scores, 1000)).toBeLessThanOrEqual(5);
      }
    }
  });

  it('flags a daily step that does not come, from the time of day alone', () => {
    // Every 5 minutes: 80 from 09:00 to 17:00 UTC and 20 otherwise, except on day 8 when it stays at 20.
    const next = seededRandom(11);
    const points = Array.from({ length: 288 * 10 }, (_, index): SeriesPoint => {
      const t = index * 5 * MINUTE;
      const hour = (t % 86_400_000) / 3_600_000;
      const high = hour >= 9 && hour < 17 && Math.floor(t / 86_400_000) !== 8;
      return { t, value: (high ? 80 : 20) + 2 * normal(next) };
    });
    const scores = scoreSeries(points);
    const missedRise = 8 * 288 + 9 * 12;
    expect(scores.slice(DEFAULT_ANOMALY_DETECTOR_OPTIONS.warmUpPoints, missedRise).every((score) => score < ALARM)).toBe(true);
    expect(firstAlarm(scores, missedRise)).toBeGreaterThanOrEqual(0);
    expect(firstAlarm(scores, missedRise)).toBeLessThanOrEqual(10);
  });

  it('finds the labelled anomalies of a real NAB series (speed_7578, road speed)', () => {
    const fixtures = new URL('../../../test/fixtures/nab/', import.meta.url);
    const rows = readFileSync(new URL('speed_7578.csv', fixtures), 'utf8').trim().split('\n').slice(1);
    const points = rows.map((row): SeriesPoint => {
      const [time, value] = row.split(',');
      return { t: parseNabTimestamp(time ?? ''), value: Number(value) };
    });
    const { windows } = JSON.parse(readFileSync(new URL('speed_7578.labels.json', fixtures), 'utf8')) as { windows: Array<[string, string]> };
    const scores = scoreSeries(points);
    const scored = (row: number) => row >= nabProbationLength(points.length);
    const inWindow = (t: number) => windows.some(([start, end]) => t >= parseNabTimestamp(start) && t <= parseNabTimestamp(end));
    const detected = windows.filter(([start, end]) => points.some((point, row) => scored(row) && point.t >= parseNabTimestamp(start) && point.t <= parseNabTimestamp(end) && (scores[row] as number) >= ALARM));
    const falseAlarms = points.filter((point, row) => scored(row) && !inWindow(point.t) && (scores[row] as number) >= ALARM);
    expect(detected).toHaveLength(4);
    expect(falseAlarms.length).toBeLessThanOrEqual(3);
  });

  it('holds a state of fixed size, whatever the length of the series', () => {
    const detector = createAnomalyDetector();
    const expected = 3 * DEFAULT_ANOMALY_DETECTOR_OPTIONS.seasonalBins + DEFAULT_ANOMALY_DETECTOR_OPTIONS.averagingWindow + 11;
    expect(detector.stateSize).toBe(expected);
    const points = noisySeries(3, 100_000);
    points.slice(0, 10).forEach((point) => detector.push(point.t, point.value));
    const afterTen = detector.stateSize;
    points.slice(10).forEach((point) => detector.push(point.t, point.value));
    expect(detector.count).toBe(100_000);
    expect(detector.stateSize).toBe(afterTen);
    expect(detector.stateSize).toBe(expected);
    expect(createAnomalyDetector({ seasonalBins: 24, averagingWindow: 5 }).stateSize).toBe(3 * 24 + 5 + 11);
  });

  it('scores nothing while warming up, except a novel value in its second half', () => {
    const detector = createAnomalyDetector({ warmUpPoints: 100 });
    const early = noisySeries(5, 100).map((point) => detector.push(point.t, point.value));
    expect(early.every((result) => result.warmingUp)).toBe(true);
    expect(early.slice(0, 50).every((result) => result.score === 0)).toBe(true);
    expect(early.filter((result) => result.score !== 0).every((result) => result.novel && result.score === 1)).toBe(true);
    expect(detector.push(100 * MINUTE, 100).warmingUp).toBe(false);
  });

  it('refuses a value or a time that is not a finite number, and invalid options', () => {
    const detector = createAnomalyDetector();
    expect(codeOf(() => detector.push(0, Number.NaN))).toBe('INPUT_INVALID');
    expect(codeOf(() => detector.push(Number.POSITIVE_INFINITY, 1))).toBe('INPUT_INVALID');
    expect(codeOf(() => scoreSeries([{ t: 0, value: 1 }, { t: MINUTE, value: Number.NEGATIVE_INFINITY }]))).toBe('INPUT_INVALID');
    expect(detector.count).toBe(0);
    expect(codeOf(() => createAnomalyDetector({ seasonalBins: 0 }))).toBe('INPUT_INVALID');
    expect(codeOf(() => createAnomalyDetector({ averagingWindow: 2.5 }))).toBe('INPUT_INVALID');
    expect(codeOf(() => createAnomalyDetector({ levelMemory: 0.5 }))).toBe('INPUT_INVALID');
    expect(codeOf(() => createAnomalyDetector({ noveltyTolerance: -0.1 }))).toBe('INPUT_INVALID');
    expect(resolveAnomalyDetectorOptions({ warmUpPoints: 0 })).toEqual({ ...DEFAULT_ANOMALY_DETECTOR_OPTIONS, warmUpPoints: 0 });
  });
});
