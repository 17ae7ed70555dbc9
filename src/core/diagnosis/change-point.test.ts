import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { changePointProbabilities, detectOnset, logGamma } from './change-point.js';
import type { MetricSeries } from './rca.js';

/**
 * Reference vector: BARO's `baro/_bocpd.py` (`online_changepoint_detection` with
 * `constant_hazard(50)` and `MultivariateT(dims=3)`, SciPy 1.17.1's `multivariate_t.pdf`), run on
 * the 60 × 3 rows below; `R[10, 10 + i]` for the listed rows i.
 */
const REFERENCE_ROWS = Array.from({ length: 60 }, (_, i) => [
  0.2 + 0.05 * Math.sin(1.7 * i) + (i >= 30 ? 0.5 : 0),
  0.5 + 0.05 * Math.cos(2.3 * i + 1),
  0.3 + 0.04 * Math.sin((0.9 * i * i) % 7) + (i >= 30 ? 0.2 : 0),
]);
const REFERENCE: ReadonlyArray<readonly [number, number]> = [
  [0, 0.9785736130929914],
  [1, 0.0005255836136830468],
  [5, 1.7495570404132084e-7],
  [20, 3.758258213917009e-13],
  [29, 1.0074407684176738e-6],
  [30, 9.079390755588963e-6],
  [31, 3.376574001842208e-7],
  [40, 2.1711653570985664e-11],
  [50, 1.8029269544808244e-13],
];

describe('changePointProbabilities', () => {
  it("matches BARO's reference implementation to 1e-9 relative", () => {
    const probabilities = changePointProbabilities(Float64Array.from(REFERENCE_ROWS.flat()), 60, 3, 50, 10);
    for (const [row, expected] of REFERENCE) expect(Math.abs((probabilities[row] as number) - expected) / expected).toBeLessThan(1e-9);
    // Around the shift, the most probable start of a run is the shift itself (row 30).
    const around = Array.from(probabilities.slice(20, 41));
    expect(around.indexOf(Math.max(...around)) + 20).toBe(30);
    // Never read: the last `lag` rows.
    expect(Array.from(probabilities.slice(51)).every(Number.isNaN)).toBe(true);
  });
});

describe('logGamma', () => {
  it('agrees with known values', () => {
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 13);
    expect(logGamma(1)).toBeCloseTo(0, 13);
    expect(logGamma(10)).toBeCloseTo(Math.log(362_880), 12);
    expect(logGamma(20.5)).toBeCloseTo(40.8315009745308, 10); // ln Γ(20.5), SciPy's gammaln
  });
});

const START = Date.parse('2026-03-25T10:00:00Z');
const STEP_MS = 15_000;

/** Deterministic noise in [-0.5, 0.5). */
function noise(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16_807) % 2_147_483_647;
    return state / 2_147_483_647 - 0.5;
  };
}

/** Four services' metrics over 120 rows; from `onsetRow` on, `cart` CPU jumps and `frontend` latency rises. */
function shiftCase(onsetRow: number): MetricSeries[] {
  const times = Array.from({ length: 120 }, (_, row) => START + row * STEP_MS);
  const make = (service: string, metric: string, seed: number, level: number, jump: number): MetricSeries => {
    const next = noise(seed);
    return { service, metric, timestamps: times, values: times.map((_, row) => level + (row >= onsetRow ? jump : 0) + 4 * next()) };
  };
  return [make('cart', 'cpu', 1, 20, 60), make('frontend', 'latency_p90', 2, 120, 25), make('catalog', 'cpu', 3, 15, 0), make('payments', 'cpu', 4, 10, 0)];
}

describe('detectOnset', () => {
  it('finds the row where several metrics shift together', () => {
    const detection = detectOnset(shiftCase(70));
    expect(detection.rule).toBe('threshold');
    expect(detection.onsetRow).toBe(70);
    expect(detection.onsetMs).toBe(START + 70 * STEP_MS);
    expect(detection.metrics).toBe(4);
    expect(detection.timestamps).toHaveLength(120);
  });

  it('puts unaligned series with gaps on one grid, carrying values forward', () => {
    const cases = shiftCase(70).map((one, index) => {
      // Every other series sampled 5 s later, and cart's CPU with holes.
      const timestamps = one.timestamps.map((time) => time + (index % 2) * 5000);
      const values = one.values.map((value, row) => (index === 0 && row % 7 === 3 ? null : value));
      return { ...one, timestamps, values };
    });
    const detection = detectOnset(cases);
    expect(detection.timestamps).toHaveLength(240);
    expect(detection.onsetMs).not.toBeNull();
    expect(Math.abs((detection.onsetMs as number) - (START + 70 * STEP_MS))).toBeLessThanOrEqual(STEP_MS);
  });

  it('falls back to the most probable row when none passes the threshold', () => {
    const detection = detectOnset(shiftCase(70), { threshold: 0.999_999 });
    expect(detection.rule).toBe('maximum');
    expect(detection.onsetRow).toBe(70);
  });

  it('gives no onset with too few rows or no usable metric, and refuses bad options', () => {
    const few = shiftCase(5).map((one) => ({ ...one, timestamps: one.timestamps.slice(0, 8), values: one.values.slice(0, 8) }));
    expect(detectOnset(few)).toMatchObject({ onsetMs: null, onsetRow: null, rule: null });
    expect(detectOnset([{ service: 'a', metric: 'm', timestamps: [1, 2], values: [null, Number.NaN] }])).toMatchObject({ onsetMs: null, metrics: 0 });
    expect(() => detectOnset(shiftCase(70), { lag: 0, threshold: 2 })).toThrow(InputError);
  });

  it('is deterministic', () => {
    expect(detectOnset(shiftCase(64))).toEqual(detectOnset(shiftCase(64)));
  });
});
