import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { calibratedConfidence, DIAGNOSIS_CALIBRATION, fitLogistic, fitPlatt, sigmoid } from './calibration.js';
import { HYPOTHESIS_KINDS } from './hypothesis.js';
import { fitScenarioCalibration, SCENARIOS_VERSION, TRAINING_SEED } from '../../../test/support/diagnosis-scenarios.js';
import { seededRandom } from '../../../test/support/random.js';

describe('sigmoid', () => {
  it('is finite and within [0, 1] at extreme inputs', () => {
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(0)).toBe(0.5);
  });
});

describe('fitPlatt', () => {
  it('recovers the mapping that generated the labels', () => {
    const next = seededRandom(7);
    const samples = Array.from({ length: 4000 }, () => {
      const strength = next();
      return { strength, correct: next() < sigmoid(6 * strength - 3) };
    });
    const { a, b } = fitPlatt(samples);
    expect(a).toBeGreaterThan(5.3);
    expect(a).toBeLessThan(6.7);
    expect(b).toBeGreaterThan(-3.4);
    expect(b).toBeLessThan(-2.6);
    expect(fitPlatt(samples)).toEqual({ a, b });
  });

  it('keeps finite slopes on a perfectly separated set (smoothed targets)', () => {
    const { a, b } = fitPlatt([...Array.from({ length: 20 }, () => ({ strength: 0.9, correct: true })), ...Array.from({ length: 20 }, () => ({ strength: 0.1, correct: false }))]);
    expect(Number.isFinite(a) && Number.isFinite(b)).toBe(true);
    expect(sigmoid(0.9 * a + b)).toBeCloseTo(21 / 22, 3);
  });

  it('refuses samples of one class only', () => {
    expect(() => fitPlatt([{ strength: 0.5, correct: true }])).toThrow(InputError);
  });
});

describe('fitLogistic', () => {
  it('recovers two weights and a bias', () => {
    const next = seededRandom(8);
    const rows = Array.from({ length: 6000 }, () => {
      const x = [next(), next()];
      return { x, correct: next() < sigmoid(4 * (x[0] as number) - 2 * (x[1] as number) - 0.5) };
    });
    const { weights, bias } = fitLogistic(rows);
    expect(weights[0]).toBeCloseTo(4, 0);
    expect(weights[1]).toBeCloseTo(-2, 0);
    expect(bias).toBeCloseTo(-0.5, 0);
  });
});

describe('the committed calibration', () => {
  it('gives every kind a positive slope, so a stronger signature never means a lower confidence', () => {
    for (const kind of HYPOTHESIS_KINDS) {
      expect(DIAGNOSIS_CALIBRATION.parameters[kind].a, kind).toBeGreaterThan(0);
      let previous = -1;
      for (let strength = 0; strength <= 1; strength += 0.05) {
        const confidence = calibratedConfidence(kind, strength);
        expect(confidence).toBeGreaterThanOrEqual(previous);
        expect(confidence >= 0 && confidence <= 1).toBe(true);
        previous = confidence;
      }
    }
  });

  it('names the scenarios and the seed it was fitted on', () => {
    expect(DIAGNOSIS_CALIBRATION.version).toContain(`${SCENARIOS_VERSION}/seed ${TRAINING_SEED}/`);
  });

  it('is exactly what the fit on the training scenarios gives (run `npx tsx bench/diagnosis-fit.ts` after changing a signature or the scenarios)', () => {
    const refit = fitScenarioCalibration();
    expect(refit.version).toBe(DIAGNOSIS_CALIBRATION.version);
    expect(refit.parameters).toEqual(DIAGNOSIS_CALIBRATION.parameters);
    expect(refit.samples).toEqual(DIAGNOSIS_CALIBRATION.samples);
  }, 600_000);
});
