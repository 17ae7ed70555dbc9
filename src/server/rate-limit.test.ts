import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.js';

const T0 = 1_700_000_000_000;

describe('createRateLimiter', () => {
  it('lets a burst of capacity requests through, then refuses with the seconds until one more is allowed', () => {
    const limiter = createRateLimiter({ capacity: 3, refillPerSecond: 0.5 });
    expect([1, 2, 3].map(() => limiter.take('alice', T0).ok)).toEqual([true, true, true]);
    expect(limiter.take('alice', T0)).toEqual({ ok: false, retryAfterSeconds: 2 });
    expect(limiter.take('alice', T0 + 1000)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('alice', T0 + 2000)).toEqual({ ok: true });
    expect(limiter.take('alice', T0 + 2000)).toEqual({ ok: false, retryAfterSeconds: 2 });
  });

  it('refills at refillPerSecond up to capacity, never beyond', () => {
    const limiter = createRateLimiter({ capacity: 2, refillPerSecond: 10 });
    limiter.take('a', T0);
    limiter.take('a', T0);
    expect(limiter.take('a', T0 + 50).ok).toBe(false); // half a token back
    expect(limiter.take('a', T0 + 100).ok).toBe(true);
    const later = T0 + 3_600_000; // an hour idle gives back capacity, not 36000 tokens
    expect([1, 2, 3].map(() => limiter.take('a', later).ok)).toEqual([true, true, false]);
  });

  it('keeps one bucket per key', () => {
    const limiter = createRateLimiter({ capacity: 1, refillPerSecond: 1 });
    expect(limiter.take('alice', T0).ok).toBe(true);
    expect(limiter.take('alice', T0).ok).toBe(false);
    expect(limiter.take('bob', T0).ok).toBe(true);
  });

  it('a refused request takes nothing, and a clock going back does not add tokens', () => {
    const limiter = createRateLimiter({ capacity: 1, refillPerSecond: 1 });
    limiter.take('a', T0);
    for (let i = 0; i < 10; i += 1) expect(limiter.take('a', T0 + 100).ok).toBe(false);
    expect(limiter.take('a', T0 + 1000).ok).toBe(true);
    expect(limiter.take('a', T0 - 60_000).ok).toBe(false);
  });

  it('remembers at most maxKeys keys, forgetting the least recently used first', () => {
    const limiter = createRateLimiter({ capacity: 1, refillPerSecond: 0.001, maxKeys: 2 });
    limiter.take('a', T0);
    limiter.take('b', T0);
    expect(limiter.take('a', T0).ok).toBe(false); // a is now the most recently used
    limiter.take('c', T0); // evicts b
    expect(limiter.size).toBe(2);
    expect(limiter.take('a', T0).ok).toBe(false); // a kept its empty bucket
    expect(limiter.take('b', T0).ok).toBe(true); // b was forgotten: a full bucket again (evicting c)
    expect(limiter.size).toBe(2);
  });

  it('refuses options that cannot work', () => {
    expect(() => createRateLimiter({ capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => createRateLimiter({ capacity: 1.5, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => createRateLimiter({ capacity: 1, refillPerSecond: 0 })).toThrow(RangeError);
    expect(() => createRateLimiter({ capacity: 1, refillPerSecond: 1, maxKeys: 0 })).toThrow(RangeError);
  });
});
