// Seeded pseudo-random numbers for tests and benchmarks: the same seed gives the same sequence on
// every machine and Node version, so generated inputs and the figures expected of them are stable.

/**
 * Deterministic pseudo-random numbers in [0, 1) from a 32-bit seed: mulberry32, Tommy Ettinger's
 * generator (public domain, https://gist.github.com/tommyettinger/46a874533244883189143505d203312c),
 * in the JavaScript form of bryc's PRNG collection (https://github.com/bryc/code/blob/master/jshash/PRNGs.md).
 * 32 bits of state (`seed >>> 0`), a period of 2^32; each number is a 32-bit output divided by 2^32.
 * Not for anything that needs unpredictability.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
