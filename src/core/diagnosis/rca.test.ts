import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { confidencesFromScores, rankRootCauses, type MetricSeries, type RootCauseRanking } from './rca.js';
import { seededRandom } from '../../../test/support/random.js';

/** Approximately normal noise (sum of 12 uniforms − 6). */
function gaussian(next: () => number): number {
  let sum = 0;
  for (let index = 0; index < 12; index++) sum += next();
  return sum - 6;
}

const START = Date.parse('2026-03-25T10:00:00Z');
const STEP_MS = 15_000;
const NORMAL_ROWS = 80;
const ANOMALOUS_ROWS = 40;
const ONSET = START + NORMAL_ROWS * STEP_MS;
const TIMES = Array.from({ length: NORMAL_ROWS + ANOMALOUS_ROWS }, (_, row) => START + row * STEP_MS);

/** A series with level `normal` before the onset and `anomalous` after, plus noise of `spread`. */
function series(service: string | null, metric: string, seed: number, normal: number, anomalous: number, spread: number): MetricSeries {
  const next = seededRandom(seed);
  return { service, metric, timestamps: TIMES, values: TIMES.map((time) => (time < ONSET ? normal : anomalous) + spread * gaussian(next)) };
}

/**
 * A checkout estate: a CPU spike in `cart` (the root cause) slows its caller `frontend` (latency
 * up, weaker in robust units), while `catalog` and `payments` carry on as before.
 */
function cpuSpikeCase(): MetricSeries[] {
  return [
    series('cart', 'cpu', 1, 20, 85, 2),
    series('cart', 'mem', 2, 300, 302, 3),
    series('cart', 'latency_p90', 3, 40, 70, 5),
    series('frontend', 'cpu', 4, 35, 38, 3),
    series('frontend', 'latency_p90', 5, 120, 160, 10),
    series('frontend', 'mem', 6, 500, 501, 4),
    series('catalog', 'cpu', 7, 15, 15, 2),
    series('catalog', 'latency_p90', 8, 30, 30, 3),
    series('payments', 'cpu', 9, 10, 10, 1),
    series('payments', 'mem', 10, 200, 200, 2),
  ];
}

const serviceRanks = (ranking: RootCauseRanking): string[] => ranking.hypotheses.map((hypothesis) => hypothesis.service);

describe('rankRootCauses', () => {
  it('ranks the service with the CPU spike first and its caller second, with the spiking metric as evidence', () => {
    const ranking = rankRootCauses(cpuSpikeCase(), { onsetMs: ONSET });
    expect(serviceRanks(ranking).slice(0, 2)).toEqual(['cart', 'frontend']);
    const [top, second] = ranking.hypotheses;
    expect(top?.rank).toBe(1);
    expect(top?.evidence[0]?.metric).toBe('cpu');
    expect(top?.evidence[0]?.scaleKind).toBe('iqr');
    expect(top?.evidence[0]?.atMs).toBeGreaterThanOrEqual(ONSET);
    expect(top?.score).toBeGreaterThan(4 * (second?.score ?? Infinity));
    expect(top?.confidence).toBeGreaterThan(0.9);
    expect(ranking.hypotheses.reduce((sum, hypothesis) => sum + hypothesis.confidence, 0)).toBeCloseTo(1, 12);
    expect(ranking.normal).toEqual({ startMs: START, endMs: ONSET });
    expect(ranking.anomalous).toEqual({ startMs: ONSET, endMs: (TIMES.at(-1) as number) + 1 });
  });

  it('computes the score as BARO does: max over the anomalous period of (x − normal median) / normal IQR', () => {
    const normal = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]; // median 6, IQR 8.5 − 3.5 = 5 (linear interpolation)
    const times = [...normal.map((_, index) => index * 1000), 20_000, 21_000, 22_000];
    const ranking = rankRootCauses([{ service: 'a', metric: 'm', timestamps: times, values: [...normal, 16, 31, 21] }], { onsetMs: 20_000 });
    const evidence = ranking.hypotheses[0]?.evidence[0];
    expect(evidence).toMatchObject({ centre: 6, scale: 5, scaleKind: 'iqr', score: 5, value: 31, atMs: 21_000, normalSamples: 11, anomalousSamples: 3 });
  });

  it('gives the same ranking for an explicit normal and anomalous period as for the onset between them', () => {
    const byOnset = rankRootCauses(cpuSpikeCase(), { onsetMs: ONSET });
    const byPeriods = rankRootCauses(cpuSpikeCase(), { normal: { startMs: START, endMs: ONSET }, anomalous: { startMs: ONSET, endMs: ONSET + ANOMALOUS_ROWS * STEP_MS } });
    expect(byPeriods.hypotheses).toEqual(byOnset.hypotheses);
  });

  it('ignores samples outside both periods', () => {
    const cases = cpuSpikeCase();
    // The first 20 normal rows are left out: different counts, same top service.
    const ranking = rankRootCauses(cases, { normal: { startMs: START + 20 * STEP_MS, endMs: ONSET }, anomalous: { startMs: ONSET, endMs: ONSET + 10 * STEP_MS } });
    expect(ranking.hypotheses[0]?.evidence[0]).toMatchObject({ service: 'cart', metric: 'cpu', normalSamples: NORMAL_ROWS - 20, anomalousSamples: 10 });
  });

  it('skips a metric that is constant over the normal period and says so', () => {
    const cases = [...cpuSpikeCase(), { service: 'catalog', metric: 'replicas', timestamps: TIMES, values: TIMES.map((time) => (time < ONSET ? 3 : 9)) }];
    const ranking = rankRootCauses(cases, { onsetMs: ONSET });
    expect(ranking.skipped).toEqual([{ service: 'catalog', metric: 'replicas', reason: 'constant', normalSamples: NORMAL_ROWS, anomalousSamples: ANOMALOUS_ROWS }]);
    expect(serviceRanks(ranking)[0]).toBe('cart');
    expect(ranking.hypotheses.flatMap((hypothesis) => hypothesis.evidence).some((score) => score.metric === 'replicas')).toBe(false);
  });

  it('falls back to the standard deviation where the normal IQR is 0 but the metric is not constant', () => {
    // 70 of 80 normal samples are 100; ten are 101: IQR 0, population std 0.33.
    const values = TIMES.map((time, row) => (time < ONSET ? (row % 8 === 0 ? 101 : 100) : 102));
    const ranking = rankRootCauses([{ service: 'queue', metric: 'mem', timestamps: TIMES, values }], { onsetMs: ONSET });
    const evidence = ranking.hypotheses[0]?.evidence[0];
    expect(evidence?.scaleKind).toBe('std');
    expect(evidence?.centre).toBe(100);
    expect(evidence?.scale).toBeCloseTo(Math.sqrt(0.125 * 0.875), 12);
    expect(evidence?.score).toBeCloseTo(2 / Math.sqrt(0.125 * 0.875), 9);
  });

  it('measures a change against at least minRelativeScale of the normal median', () => {
    // Memory steady to a few bytes around 1 GB, then 2 MB more: 0.2 % of its level.
    const values = TIMES.map((time, row) => (time < ONSET ? 1e9 + (row % 5) : 1e9 + 2e6));
    const floored = rankRootCauses([{ service: 'queue', metric: 'mem', timestamps: TIMES, values }], { onsetMs: ONSET }).hypotheses[0]?.evidence[0];
    expect(floored).toMatchObject({ scaleKind: 'relative', scale: 1e6 + 2e-3 });
    expect(floored?.score).toBeCloseTo(2, 4);
    const raw = rankRootCauses([{ service: 'queue', metric: 'mem', timestamps: TIMES, values }], { onsetMs: ONSET }, { minRelativeScale: 0 }).hypotheses[0]?.evidence[0];
    expect(raw).toMatchObject({ scaleKind: 'iqr', scale: 2 });
    expect(raw?.score).toBeCloseTo(1e6 - 1, 6);
  });

  it('drops missing values instead of filling them, and skips a metric left with too few normal samples', () => {
    const base = cpuSpikeCase();
    const holes = base.map((one, index) => (index === 0 ? { ...one, values: one.values.map((value, row) => (row % 3 === 0 ? null : row % 3 === 1 && row > 100 ? Number.NaN : value)) } : one));
    const sparse: MetricSeries = { service: 'catalog', metric: 'errors', timestamps: TIMES, values: TIMES.map((time, row) => (time < ONSET && row >= 5 ? null : 1)) };
    const ranking = rankRootCauses([...holes, sparse], { onsetMs: ONSET });
    const cpu = ranking.hypotheses[0]?.evidence[0];
    expect(cpu).toMatchObject({ service: 'cart', metric: 'cpu' });
    const expectedNormal = TIMES.filter((time, row) => time < ONSET && row % 3 !== 0).length;
    expect(cpu?.normalSamples).toBe(expectedNormal);
    expect(cpu?.anomalousSamples).toBe(TIMES.filter((time, row) => time >= ONSET && row % 3 !== 0 && !(row % 3 === 1 && row > 100)).length);
    expect(Number.isFinite(cpu?.score)).toBe(true);
    expect(ranking.skipped).toContainEqual({ service: 'catalog', metric: 'errors', reason: 'too_few_samples', normalSamples: 5, anomalousSamples: ANOMALOUS_ROWS });
  });

  it('scores metrics of no service but never ranks them as a root cause', () => {
    const cases = [...cpuSpikeCase(), series(null, 'node_cpu', 11, 40, 95, 1), series('', 'cluster_pods', 12, 50, 80, 1)];
    const ranking = rankRootCauses(cases, { onsetMs: ONSET });
    expect(serviceRanks(ranking)[0]).toBe('cart');
    expect(serviceRanks(ranking)).not.toContain('');
    expect(ranking.unattributed.map((score) => score.metric).sort()).toEqual(['cluster_pods', 'node_cpu']);
    expect((ranking.unattributed[0]?.score ?? 0) >= (ranking.unattributed[1]?.score ?? 0)).toBe(true);
    expect(ranking.unattributed.every((score) => score.service === null && score.score > 10)).toBe(true);
  });

  it('is not confident when nothing changed', () => {
    const quiet = ['a', 'b', 'c', 'd', 'e'].map((service, index) => series(service, 'cpu', 100 + index, 50, 50, 3));
    const ranking = rankRootCauses(quiet, { onsetMs: ONSET });
    expect(ranking.hypotheses).toHaveLength(5);
    expect(Math.max(...ranking.hypotheses.map((hypothesis) => hypothesis.confidence))).toBeLessThan(0.5);
  });

  it('ranks the root cause first with the NSigma baseline too', () => {
    const ranking = rankRootCauses(cpuSpikeCase(), { onsetMs: ONSET }, { method: 'nsigma' });
    expect(ranking.method).toBe('nsigma');
    expect(serviceRanks(ranking)[0]).toBe('cart');
    expect(ranking.hypotheses[0]?.evidence[0]?.scaleKind).toBe('std');
  });

  it('keeps at most evidencePerService metrics per service, highest first', () => {
    const ranking = rankRootCauses(cpuSpikeCase(), { onsetMs: ONSET }, { evidencePerService: 2 });
    for (const hypothesis of ranking.hypotheses) {
      expect(hypothesis.evidence.length).toBeLessThanOrEqual(2);
      expect(hypothesis.evidence[0]?.score).toBe(hypothesis.score);
      expect([...hypothesis.evidence].sort((a, b) => b.score - a.score)).toEqual(hypothesis.evidence);
    }
  });

  it('is deterministic: any order of series and of samples gives the same ranking', () => {
    const cases = cpuSpikeCase();
    const expected = rankRootCauses(cases, { onsetMs: ONSET });
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: cases.length, maxLength: cases.length }), fc.nat(), (keys, rotation) => {
        const order = cases.map((_, index) => index).sort((a, b) => (keys[a] as number) - (keys[b] as number) || a - b);
        const shuffled = order.map((index) => {
          const one = cases[index] as MetricSeries;
          const shift = rotation % one.timestamps.length;
          return { ...one, timestamps: [...one.timestamps.slice(shift), ...one.timestamps.slice(0, shift)], values: [...one.values.slice(shift), ...one.values.slice(0, shift)] };
        });
        expect(rankRootCauses(shuffled, { onsetMs: ONSET })).toEqual(expected);
      }),
      { numRuns: 50, seed: 5 },
    );
  });

  it('breaks ties by service name', () => {
    const flat = (service: string): MetricSeries => ({ service, metric: 'cpu', timestamps: TIMES, values: TIMES.map((time, row) => (time < ONSET ? row % 4 : 10)) });
    const ranking = rankRootCauses([flat('b'), flat('c'), flat('a')], { onsetMs: ONSET });
    expect(serviceRanks(ranking)).toEqual(['a', 'b', 'c']);
    expect(ranking.hypotheses.map((hypothesis) => hypothesis.confidence)).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });

  it('refuses malformed input with INPUT_INVALID naming each problem', () => {
    const catchError = (run: () => unknown): InputError => {
      try {
        run();
      } catch (error) {
        if (error instanceof InputError) return error;
        throw error;
      }
      throw new Error('expected an InputError');
    };
    const short: MetricSeries = { service: 'a', metric: 'cpu', timestamps: [1, 2, 3], values: [1, 2] };
    const duplicate = [series('a', 'cpu', 1, 1, 1, 1), series('a', 'cpu', 2, 1, 1, 1)];
    expect(catchError(() => rankRootCauses([], { onsetMs: ONSET })).code).toBe('INPUT_INVALID');
    expect(catchError(() => rankRootCauses([short], { onsetMs: ONSET })).issues.map((issue) => issue.path)).toEqual(['series.0.values']);
    expect(catchError(() => rankRootCauses(duplicate, { onsetMs: ONSET })).issues.map((issue) => issue.path)).toEqual(['series.1']);
    expect(catchError(() => rankRootCauses(cpuSpikeCase(), { onsetMs: Number.NaN })).issues.map((issue) => issue.path)).toEqual(['window.onsetMs']);
    const overlap = { normal: { startMs: 0, endMs: 10 }, anomalous: { startMs: 5, endMs: 20 } };
    expect(catchError(() => rankRootCauses(cpuSpikeCase(), overlap)).issues.map((issue) => issue.path)).toEqual(['window']);
    expect(catchError(() => rankRootCauses(cpuSpikeCase(), { onsetMs: ONSET }, { temperature: 0, minNormalSamples: 1 })).issues.map((issue) => issue.path)).toEqual(['temperature', 'minNormalSamples']);
  });
});

describe('confidencesFromScores', () => {
  it('is a softmax over log scores: with temperature 0.5, the share of squared scores, scores up to 1 counting as 1', () => {
    const closeTo = (actual: number[], expected: number[]): void => {
      expect(actual).toHaveLength(expected.length);
      expected.forEach((value, index) => expect(actual[index]).toBeCloseTo(value, 12));
    };
    closeTo(confidencesFromScores([3, 1, 1], 0.5), [9 / 11, 1 / 11, 1 / 11]);
    closeTo(confidencesFromScores([-4, 0.5, 1], 1), [1 / 3, 1 / 3, 1 / 3]);
    expect(confidencesFromScores([], 0.5)).toEqual([]);
  });

  it('stays in 0..1, sums to 1, keeps the order of the scores and does not overflow', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e12, noNaN: true }), { minLength: 1, maxLength: 30 }), fc.double({ min: 0.01, max: 10, noNaN: true }), (scores, temperature) => {
        const confidences = confidencesFromScores(scores, temperature);
        expect(confidences.every((value) => value >= 0 && value <= 1)).toBe(true);
        expect(confidences.reduce((sum, value) => sum + value, 0)).toBeCloseTo(1, 9);
        for (let i = 0; i < scores.length; i++) {
          for (let j = 0; j < scores.length; j++) {
            if ((scores[i] as number) > (scores[j] as number)) expect(confidences[i]).toBeGreaterThanOrEqual(confidences[j] as number);
          }
        }
      }),
      { seed: 11 },
    );
  });
});

describe('rankRootCauses on a real Sock Shop case (test/fixtures/rca, RCAEval RE1 user-cpu/1, trimmed)', () => {
  /** Reads one fixture CSV into rows of numbers and its header. */
  function readCsv(name: string): { header: string[]; rows: number[][] } {
    const text = readFileSync(fileURLToPath(new URL(`../../../test/fixtures/rca/${name}`, import.meta.url)), 'utf8');
    const [head, ...lines] = text.trim().split('\n');
    return { header: (head ?? '').split(','), rows: lines.map((line) => line.split(',').map(Number)) };
  }

  it('ranks user (the service the CPU fault was injected into) first', () => {
    const normal = readCsv('sockshop-user-cpu-1-normal.csv');
    const anomalous = readCsv('sockshop-user-cpu-1-anomalous.csv');
    const rows = [...normal.rows, ...anomalous.rows];
    const cases = normal.header.slice(1).map((column, index): MetricSeries => {
      const split = column.indexOf('_');
      return { service: column.slice(0, split), metric: column.slice(split + 1), timestamps: rows.map((row) => (row[0] as number) * 1000), values: rows.map((row) => row[index + 1] as number) };
    });
    const onsetMs = (anomalous.rows[0]?.[0] as number) * 1000;
    const ranking = rankRootCauses(cases, { onsetMs });
    expect(ranking.hypotheses[0]).toMatchObject({ service: 'user', rank: 1 });
    expect(ranking.hypotheses[0]?.evidence[0]).toMatchObject({ metric: 'cpu', scaleKind: 'iqr' });
    expect(ranking.hypotheses[0]?.confidence).toBeGreaterThan(0.9);
    // queue-master's memory barely moves in the normal period (IQR 4 KiB of 267 MB): measured against
    // 0.1 % of its median instead, its 0.4 MB step is unremarkable (it would score 104 against the IQR).
    const queue = ranking.hypotheses.find((hypothesis) => hypothesis.service === 'queue-master');
    expect(queue?.evidence[0]).toMatchObject({ metric: 'mem', scaleKind: 'relative' });
    expect(queue?.evidence[0]?.scale).toBeCloseTo(0.001 * (queue?.evidence[0]?.centre ?? 0), 6);
    expect(queue?.score).toBeLessThan(5);
    const unfloored = rankRootCauses(cases, { onsetMs }, { minRelativeScale: 0 }).hypotheses.find((hypothesis) => hypothesis.service === 'queue-master');
    expect(unfloored?.evidence[0]).toMatchObject({ scaleKind: 'iqr', scale: 4096 });
    expect(unfloored?.score).toBeCloseTo(104, 6);
    expect(ranking.skipped.map((skip) => `${skip.service ?? ''}_${skip.metric}:${skip.reason}`)).toEqual(['catalogue-db_mem:constant', 'shipping_lat_50:constant']);
  });
});
