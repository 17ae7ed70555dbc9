/**
 * Per-client rate limits at the HTTP edge: one token bucket per key (a principal's name, or the
 * client address before authentication), in memory, bounded in size. Pure: the caller passes the
 * time, so tests drive it with a fake clock.
 */

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Requests a key may make in a burst: the bucket's size. An integer >= 1. */
  readonly capacity: number;
  /** Requests a key regains per second, up to `capacity`. > 0. */
  readonly refillPerSecond: number;
  /**
   * Keys remembered at most; beyond it the least recently used is forgotten (and starts again with a
   * full bucket), so memory stays bounded whatever the number of clients. @default 10000
   */
  readonly maxKeys?: number;
}

/** The answer of {@link RateLimiter.take}: go ahead, or wait `retryAfterSeconds` (an integer >= 1, for `Retry-After`). */
export type RateLimitResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

/** Token buckets by key; see {@link createRateLimiter}. */
export interface RateLimiter {
  /** Takes one request from `key`'s bucket at `now` (ms since the epoch, or any monotonic ms clock). */
  take(key: string, now: number): RateLimitResult;
  /** Keys remembered now (at most `maxKeys`). */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, ms. */
  updatedAt: number;
}

/**
 * A token-bucket rate limiter by key: each key starts with `capacity` tokens, a request takes one,
 * and tokens come back at `refillPerSecond` up to `capacity`. A refused request takes nothing.
 * Least-recently-used keys beyond `maxKeys` are evicted (a `Map` in use order).
 * @throws RangeError for a capacity that is not an integer >= 1, a refill rate not > 0, or a
 *   `maxKeys` that is not an integer >= 1 (a programming error: the configuration schema checks them).
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { capacity, refillPerSecond } = options;
  const maxKeys = options.maxKeys ?? 10_000;
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${String(capacity)}`);
  if (!(refillPerSecond > 0) || !Number.isFinite(refillPerSecond)) throw new RangeError(`refillPerSecond must be > 0, got ${String(refillPerSecond)}`);
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be an integer >= 1, got ${String(maxKeys)}`);
  const buckets = new Map<string, Bucket>();

  return {
    take(key, now) {
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        bucket = { tokens: capacity, updatedAt: now };
      } else {
        buckets.delete(key); // re-inserted below: the Map's order is the use order
        const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;
        bucket.tokens = Math.min(capacity, bucket.tokens + elapsedSeconds * refillPerSecond);
        bucket.updatedAt = Math.max(bucket.updatedAt, now);
      }
      buckets.set(key, bucket);
      while (buckets.size > maxKeys) {
        const oldest = buckets.keys().next();
        if (oldest.done === true) break;
        buckets.delete(oldest.value);
      }
      if (bucket.tokens >= 1 - 1e-9) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerSecond)) };
    },
    get size() {
      return buckets.size;
    },
  };
}
