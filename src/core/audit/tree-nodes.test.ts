import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MerkleAccumulator, compactRange, consistencyProof, consistencyProofRanges, inclusionProof, inclusionProofRanges, leafHash, rootFromLeafHashes } from './merkle.js';
import { NODE_LEVEL_STEP, completedNodes, nodeChildren, nodeFromChildren, rangeHash, rangeHashKeys, type NodeKey } from './tree-nodes.js';

const key = (k: NodeKey): string => `${k.level}:${k.idx}`;

/** A store of leaves and nodes filled the way PgAuditLog.append fills it: batch by batch, nodes from children. */
function buildStore(size: number, batches: readonly number[]): { leaves: Uint8Array[]; nodes: Map<string, Uint8Array> } {
  const leaves = Array.from({ length: size }, (_, i) => leafHash(new TextEncoder().encode(`entry ${i}`)));
  const nodes = new Map<string, Uint8Array>();
  leaves.forEach((hash, i) => nodes.set(key({ level: 0, idx: i }), hash));
  let from = 0;
  for (let b = 0; from < size; b++) {
    const to = Math.min(size, from + Math.max(1, batches[b % batches.length] ?? 1));
    for (const node of completedNodes(from, to)) {
      expect(nodes.has(key(node))).toBe(false);
      nodes.set(key(node), nodeFromChildren(nodeChildren(node).map((child) => nodes.get(key(child))!)));
    }
    from = to;
  }
  return { leaves, nodes };
}

describe('stored subtree nodes', () => {
  it('stores exactly the complete aligned subtrees at levels 4, 8, ... whatever the batch sizes', () => {
    const { leaves, nodes } = buildStore(5000, [1, 7, 300, 16, 4096]);
    for (const level of [4, 8, 12]) {
      const width = 2 ** level;
      for (let j = 0; (j + 1) * width <= leaves.length; j++) {
        expect(nodes.get(key({ level, idx: j }))).toEqual(rootFromLeafHashes(leaves.slice(j * width, (j + 1) * width)));
      }
      expect(nodes.has(key({ level, idx: Math.floor(leaves.length / width) }))).toBe(false);
    }
    expect(NODE_LEVEL_STEP).toBe(4);
  });

  it('gives the same inclusion and consistency proofs as the leaves themselves', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2100 }), fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 5 }), fc.nat(), fc.nat(), (size, batches, a, b) => {
        const { leaves, nodes } = buildStore(size, batches);
        const lookup = (k: NodeKey): Uint8Array => {
          const hash = nodes.get(key(k));
          if (hash === undefined) throw new Error(`missing ${key(k)}`);
          return hash;
        };
        const index = a % size;
        expect(inclusionProofRanges(index, size).map((r) => rangeHash(r, lookup))).toEqual(inclusionProof(index, leaves));
        const m = 1 + (b % size);
        expect(consistencyProofRanges(m, size).map((r) => rangeHash(r, lookup))).toEqual(consistencyProof(m, leaves));
        // The keys listed up front are exactly the ones read.
        const listed = new Set(rangeHashKeys(inclusionProofRanges(index, size)).map(key));
        const read = new Set<string>();
        inclusionProofRanges(index, size).forEach((r) => rangeHash(r, (k) => (read.add(key(k)), lookup(k))));
        expect(read).toEqual(listed);
      }),
      { numRuns: 60 },
    );
  });

  it('reads O(log² n) stored hashes for a proof in a large tree', () => {
    const size = 1_000_003;
    const keys = rangeHashKeys([...inclusionProofRanges(123_456, size), ...consistencyProofRanges(999_999, size)]);
    expect(keys.length).toBeLessThan(400);
    expect(keys.every((k) => k.level % NODE_LEVEL_STEP === 0)).toBe(true);
  });
});

describe('MerkleAccumulator.resume', () => {
  it('continues a tree from its compact range', () => {
    const leaves = Array.from({ length: 777 }, (_, i) => leafHash(new Uint8Array([i % 256, i >> 8])));
    for (const size of [0, 1, 2, 3, 64, 255, 500]) {
      const acc = MerkleAccumulator.resume(size, compactRange(size).map((r) => rootFromLeafHashes(leaves.slice(r.start, r.end))));
      expect(acc.root()).toEqual(rootFromLeafHashes(leaves.slice(0, size)));
      for (const leaf of leaves.slice(size)) acc.append(leaf);
      expect(acc.root()).toEqual(rootFromLeafHashes(leaves));
    }
  });

  it('refuses a compact range of the wrong length', () => {
    expect(() => MerkleAccumulator.resume(3, [new Uint8Array(32)])).toThrow(/2 compact-range hashes; got 1/);
  });
});
