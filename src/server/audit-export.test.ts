import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './audit-export.js';

describe('retryDelayMs', () => {
  const retry = { initialMs: 1000, maxMs: 60_000 };

  it('doubles from initialMs per failure, up to maxMs', () => {
    expect([1, 2, 3, 4, 6, 7, 8, 30].map((failures) => retryDelayMs(failures, retry, () => 1))).toEqual([1000, 2000, 4000, 8000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('jitters within the upper half of each delay', () => {
    expect(retryDelayMs(1, retry, () => 0)).toBe(500);
    expect(retryDelayMs(3, retry, () => 0.5)).toBe(3000);
    expect(retryDelayMs(40, retry, () => 0)).toBe(30_000);
  });
});
