import { describe, expect, it } from 'vitest';
import { changeProximity, forecastLoad, leakTrend, OOM_PATTERN, POOL_PATTERN, type PreparedSeries } from './signatures.js';

const T0 = Date.parse('2026-03-25T08:00:00Z');
const MINUTE = 60_000;

/** A prepared series of `n` points a minute apart, split at `split`. */
function prepared(values: readonly number[], split: number, role: PreparedSeries['role'] = 'heap_bytes'): PreparedSeries {
  return { id: 's', query: 'q', service: 'checkout', role, times: Float64Array.from(values, (_, index) => T0 + index * MINUTE), values: Float64Array.from(values), split, anomaly: null };
}

describe('leakTrend', () => {
  const n = 120;
  it('a steady linear growth across the onset is leak-like (consistency 1, trend close to R²)', () => {
    const trend = leakTrend(prepared(Array.from({ length: n }, (_, index) => 400e6 * (1 + (0.5 * index) / n) * (1 + 0.01 * Math.sin(index))), 100));
    expect(trend?.growth).toBeCloseTo((0.5 * 119) / 120 / 1.2479, 2); // relative to the mean level
    expect(trend?.consistency).toBe(1);
    expect(trend?.trend).toBeGreaterThan(0.9);
  });

  it('a step at the onset (a memory hog) is not: its baseline is flat', () => {
    const trend = leakTrend(prepared(Array.from({ length: n }, (_, index) => (index < 100 ? 400e6 : 700e6) * (1 + 0.005 * Math.sin(index))), 100));
    expect(trend?.consistency).toBe(0);
    expect(trend?.trend).toBe(0);
  });

  it('growth that stopped before the onset (a cache warming up) is not either', () => {
    const trend = leakTrend(prepared(Array.from({ length: n }, (_, index) => 400e6 * (1 + 0.5 * Math.min(1, index / 60)) * (1 + 0.005 * Math.sin(index))), 100));
    expect(trend?.trend).toBeLessThan(0.2);
  });

  it('needs 10 points', () => {
    expect(leakTrend(prepared([1, 2, 3], 2))).toBeNull();
  });
});

describe('changeProximity', () => {
  it('is 1 at or after the onset and decays with time constant τ before it', () => {
    expect(changeProximity(T0, T0, 15 * MINUTE)).toBe(1);
    expect(changeProximity(T0 + MINUTE, T0, 15 * MINUTE)).toBe(1);
    expect(changeProximity(T0 - 15 * MINUTE, T0, 15 * MINUTE)).toBeCloseTo(Math.exp(-1), 12);
  });
});

describe('forecastLoad', () => {
  it('extrapolates the trailing line and says when it crosses the capacity', () => {
    // 100 req/s rising 1 req/s per minute for 60 minutes: 160 at the end; capacity 200 is 40 min ahead.
    const series = prepared(Array.from({ length: 61 }, (_, index) => 100 + index), 0, 'request_rate');
    const forecast = forecastLoad(series, 200, 30 * MINUTE, 60 * MINUTE);
    expect(forecast?.current).toBeCloseTo(160, 6);
    expect(forecast?.atHorizon).toBeCloseTo(220, 6);
    expect(forecast?.crossingAtMs).toBeCloseTo(T0 + 100 * MINUTE, -1);
    expect(forecast?.growth).toBeCloseTo(30 / 130, 6);
  });

  it('says the crossing is now when the rate is over capacity, and gives none for a falling rate', () => {
    const rising = prepared(Array.from({ length: 61 }, (_, index) => 100 + index), 0, 'request_rate');
    expect(forecastLoad(rising, 150, 30 * MINUTE, 60 * MINUTE)?.crossingAtMs).toBe(T0 + 60 * MINUTE);
    const falling = prepared(Array.from({ length: 61 }, (_, index) => 200 - index), 0, 'request_rate');
    expect(forecastLoad(falling, 300, 30 * MINUTE, 60 * MINUTE)?.crossingAtMs).toBeNull();
  });
});

describe('log patterns', () => {
  it('recognise out-of-memory and pool-exhaustion lines, and not ordinary ones', () => {
    for (const line of ['java.lang.OutOfMemoryError: Java heap space', 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory', 'Memory cgroup out of memory: Killed process 4242 (java)', 'container OOMKilled']) expect(OOM_PATTERN.test(line), line).toBe(true);
    for (const line of ['HikariPool-1 - Connection is not available, request timed out after 30000ms.', 'FATAL: remaining connection slots are reserved for non-replication superuser connections', 'sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached', 'timeout acquiring connection from pool', 'pq: sorry, too many clients already']) expect(POOL_PATTERN.test(line), line).toBe(true);
    for (const line of ['GET /api/items 200 in 35 ms', 'connection pool started with 20 connections', 'heap usage 45 %']) {
      expect(OOM_PATTERN.test(line), line).toBe(false);
      expect(POOL_PATTERN.test(line), line).toBe(false);
    }
  });
});
