/**
 * Which subtree hashes the audit store keeps beside the leaves, and how proofs are computed from them.
 *
 * The store keeps, for every level that is a multiple of {@link NODE_LEVEL_STEP} (4, 8, 12, ...),
 * the hash of each complete, aligned perfect subtree: node (level L, index j) is MTH of leaves
 * [j·2^L, (j+1)·2^L). A node is written when its last leaf is appended, from its 16 children one
 * stored level down (leaves for level 4). That costs about n/15 extra rows, and any subtree hash an
 * RFC 9162 proof needs is computed from at most 8 stored hashes per perfect piece, so an inclusion
 * or consistency proof reads O(log² n) rows (a few hundred for 10^9 leaves) instead of n.
 *
 * Level 0 in a {@link NodeKey} means a leaf hash (`audit_entries.leaf_hash`).
 *
 * @see RFC 9162 §2.1 (subtree hashes); the same idea as transparency-dev "tiles" (c2sp.org/tlog-tiles),
 *   with 16-wide strata instead of 256-wide tiles.
 */
import { HASH_SIZE, nodeHash, rootFromLeafHashes, type LeafRange } from './merkle.js';

/** Stored levels are the multiples of this step: each stored node has 2^4 = 16 children. */
export const NODE_LEVEL_STEP = 4;

const FANOUT = 2 ** NODE_LEVEL_STEP;

/** A stored hash: level 0 is a leaf hash, levels 4, 8, ... are stored subtree nodes. */
export interface NodeKey {
  readonly level: number;
  readonly idx: number;
}

/** A lookup of stored hashes by key; throws or returns a 32-byte hash. */
export type NodeLookup = (key: NodeKey) => Uint8Array;

function isAlignedPowerOfTwo(start: number, n: number): boolean {
  let size = 1;
  while (size < n) size *= 2;
  return size === n && start % n === 0;
}

function log2(n: number): number {
  let level = 0;
  for (let v = n; v > 1; v /= 2) level += 1;
  return level;
}

function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH of the aligned perfect subtree of 2^level leaves starting at `start`, from stored hashes. */
function perfectHash(start: number, level: number, lookup: NodeLookup): Uint8Array {
  const stored = level - (level % NODE_LEVEL_STEP);
  const width = 2 ** stored;
  const count = 2 ** (level - stored);
  const first = start / width;
  if (count === 1) return lookup({ level: stored, idx: first });
  return rootFromLeafHashes(Array.from({ length: count }, (_, i) => lookup({ level: stored, idx: first + i })));
}

/**
 * MTH(D[start:end]) computed from stored hashes: the range is split as RFC 9162 §2.1.1 splits it
 * until each piece is an aligned perfect subtree, whose hash comes from the stored level at or below
 * it. Every leaf of the range must exist (the store only holds complete nodes).
 *
 * @param range [start, end), `0 <= start < end`.
 * @param lookup the stored hash of a key; called only for keys {@link rangeHashKeys} lists.
 * @returns 32 bytes.
 */
export function rangeHash(range: LeafRange, lookup: NodeLookup): Uint8Array {
  const { start, end } = range;
  const n = end - start;
  if (isAlignedPowerOfTwo(start, n)) return perfectHash(start, log2(n), lookup);
  const k = splitPoint(n);
  return nodeHash(rangeHash({ start, end: start + k }, lookup), rangeHash({ start: start + k, end }, lookup));
}

/**
 * The stored hashes {@link rangeHash} reads for each of `ranges`, without duplicates, so a store can
 * fetch them in one query per level before computing.
 */
export function rangeHashKeys(ranges: readonly LeafRange[]): NodeKey[] {
  const seen = new Map<string, NodeKey>();
  const zeroHash = new Uint8Array(HASH_SIZE);
  const record: NodeLookup = (key) => {
    seen.set(`${key.level}:${key.idx}`, key);
    return zeroHash;
  };
  for (const range of ranges) rangeHash(range, record);
  return [...seen.values()];
}

/**
 * The stored nodes (levels 4, 8, ...) that appending leaves [from, to) completes, lowest level
 * first, so each node's children (one stored level down) are complete before it.
 */
export function completedNodes(from: number, to: number): NodeKey[] {
  const nodes: NodeKey[] = [];
  for (let level = NODE_LEVEL_STEP, width = FANOUT; width <= to; level += NODE_LEVEL_STEP, width *= FANOUT) {
    // Node j is completed by leaf (j+1)·width - 1, which must lie in [from, to).
    for (let j = Math.floor(from / width); (j + 1) * width <= to; j++) nodes.push({ level, idx: j });
  }
  return nodes;
}

/** The 16 keys one stored level down whose hashes make node `key` (level >= 4). */
export function nodeChildren(key: NodeKey): NodeKey[] {
  return Array.from({ length: FANOUT }, (_, i) => ({ level: key.level - NODE_LEVEL_STEP, idx: key.idx * FANOUT + i }));
}

/** The hash of a stored node from its 16 children's hashes, in order. */
export function nodeFromChildren(children: readonly Uint8Array[]): Uint8Array {
  return rootFromLeafHashes(children);
}
