import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  MerkleAccumulator,
  nodeHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
  type ProofVerification,
} from './merkle.js';
import { codeOf } from '../../../test/support/errors.js';

const VECTORS = new URL('../../../test/vectors/merkle/', import.meta.url);
const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const b64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);


function reasonOf(result: ProofVerification): string | undefined {
  return result.ok ? undefined : result.reason;
}

// ---------------------------------------------------------------------------------------------
// RFC 6962 reference tree (test/vectors/merkle/rfc6962_reference_tree.json)
// ---------------------------------------------------------------------------------------------

interface ReferenceTree {
  leafInputsHex: string[];
  nodeHashesByLevel: string[][];
  rootHashBySize: Record<string, string>;
  inclusionProofs: { leafIndex: number; treeSize: number; leafHash: string; root: string; proof: string[] }[];
  consistencyProofs: { size1: number; size2: number; root1: string; root2: string; proof: string[] }[];
}

const reference = JSON.parse(readFileSync(new URL('rfc6962_reference_tree.json', VECTORS), 'utf8')) as ReferenceTree;
const referenceLeaves = reference.leafInputsHex.map((h) => leafHash(hex(h)));

describe('RFC 6962 reference tree', () => {
  it('hashes the empty tree to SHA-256("")', () => {
    expect(toHex(emptyRoot())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(rootFromLeafHashes([])).toEqual(emptyRoot());
    expect(new MerkleAccumulator().root()).toEqual(emptyRoot());
  });

  it('hashes every leaf as SHA-256(0x00 || d) and every node as SHA-256(0x01 || l || r), level by level', () => {
    expect(referenceLeaves.map(toHex)).toEqual(reference.nodeHashesByLevel[0]);
    for (let level = 1; level < reference.nodeHashesByLevel.length; level++) {
      const below = reference.nodeHashesByLevel[level - 1]!.map(hex);
      const computed = reference.nodeHashesByLevel[level]!.map((_, i) => toHex(nodeHash(below[2 * i]!, below[2 * i + 1]!)));
      expect(computed, `level ${level}`).toEqual(reference.nodeHashesByLevel[level]);
    }
  });

  it('reproduces the root of every size 0..8, recursively and incrementally', () => {
    const accumulator = new MerkleAccumulator();
    for (let size = 0; size <= 8; size++) {
      const expected = reference.rootHashBySize[String(size)];
      expect(toHex(rootFromLeafHashes(referenceLeaves.slice(0, size))), `MTH of ${size}`).toBe(expected);
      expect(accumulator.size).toBe(size);
      expect(toHex(accumulator.root()), `accumulator at ${size}`).toBe(expected);
      if (size < 8) accumulator.append(referenceLeaves[size]!);
    }
    expect(Object.keys(reference.rootHashBySize)).toHaveLength(9);
  });

  it.each(reference.inclusionProofs)('generates and verifies the inclusion proof of leaf $leafIndex in a tree of $treeSize', (p) => {
    const leaves = referenceLeaves.slice(0, p.treeSize);
    expect(toHex(leaves[p.leafIndex]!)).toBe(p.leafHash);
    expect(inclusionProof(p.leafIndex, leaves).map(toHex)).toEqual(p.proof);
    expect(verifyInclusion(p.leafIndex, p.treeSize, hex(p.leafHash), p.proof.map(hex), hex(p.root))).toEqual({ ok: true });
  });

  it.each(reference.consistencyProofs)('generates and verifies the consistency proof from $size1 to $size2', (p) => {
    const leaves = referenceLeaves.slice(0, p.size2);
    expect(toHex(rootFromLeafHashes(leaves.slice(0, p.size1)))).toBe(p.root1);
    expect(toHex(rootFromLeafHashes(leaves))).toBe(p.root2);
    expect(consistencyProof(p.size1, leaves).map(toHex)).toEqual(p.proof);
    expect(verifyConsistency(p.size1, p.size2, hex(p.root1), hex(p.root2), p.proof.map(hex))).toEqual({ ok: true });
  });
});

// ---------------------------------------------------------------------------------------------
// transparency-dev/merkle testdata (test/vectors/merkle/transparency-dev)
// ---------------------------------------------------------------------------------------------

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function loadVectors<T>(dir: string): { file: string; vector: T }[] {
  const root = new URL(`transparency-dev/${dir}/`, VECTORS);
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ file: `${dir}/${file}`, vector: JSON.parse(readFileSync(new URL(file, root), 'utf8')) as T }));
}

const inclusionVectors = loadVectors<InclusionVector>('inclusion');
const consistencyVectors = loadVectors<ConsistencyVector>('consistency');

/**
 * The one vector Interlock decides against on purpose: equal sizes (1, 1), an empty proof and equal
 * roots that are 12-byte placeholders ("don't care 2"). The Go reference treats roots as opaque when the
 * sizes are equal; Interlock rejects every hash that is not 32 bytes.
 */
const NOT_32_BYTES_BY_DESIGN = 'consistency/additional/sizes-are-equal-one-and-proof-is-empty.json';

const runInclusion = (v: InclusionVector): ProofVerification => verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root));
const runConsistency = (v: ConsistencyVector): ProofVerification => verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), (v.proof ?? []).map(b64));

describe('transparency-dev/merkle inclusion vectors', () => {
  it('holds all 98 inclusion vectors: 6 valid, 92 invalid', () => {
    expect(inclusionVectors).toHaveLength(98);
    expect(inclusionVectors.filter(({ vector }) => !vector.wantErr)).toHaveLength(6);
  });

  it.each(inclusionVectors)('$file', ({ vector }) => {
    const result = runInclusion(vector);
    expect(result.ok, `${vector.desc}: ${reasonOf(result) ?? 'accepted'}`).toBe(!vector.wantErr);
  });
});

describe('transparency-dev/merkle consistency vectors', () => {
  it('holds all 98 consistency vectors: 6 valid, 92 invalid', () => {
    expect(consistencyVectors).toHaveLength(98);
    expect(consistencyVectors.filter(({ vector }) => !vector.wantErr)).toHaveLength(6);
  });

  it.each(consistencyVectors.filter(({ file }) => file !== NOT_32_BYTES_BY_DESIGN))('$file', ({ vector }) => {
    const result = runConsistency(vector);
    expect(result.ok, `${vector.desc}: ${reasonOf(result) ?? 'accepted'}`).toBe(!vector.wantErr);
  });

  it(`rejects ${NOT_32_BYTES_BY_DESIGN} for its 12-byte roots, and accepts the same case with 32-byte roots`, () => {
    const vector = consistencyVectors.find(({ file }) => file === NOT_32_BYTES_BY_DESIGN)!.vector;
    expect(b64(vector.root1)).toHaveLength(12);
    expect(reasonOf(runConsistency(vector))).toMatch(/root1 is 12 bytes, expected a 32-byte SHA-256 hash/);
    const root = leafHash(utf8('one leaf'));
    expect(verifyConsistency(1, 1, root, new Uint8Array(root), [])).toEqual({ ok: true });
  });

  it('accepts 11 of the 196 vectors and rejects the other 185 (every wantErr=true among them)', () => {
    const outcomes = [...inclusionVectors.map(({ file, vector }) => ({ file, vector, result: runInclusion(vector) })), ...consistencyVectors.map(({ file, vector }) => ({ file, vector, result: runConsistency(vector) }))];
    expect(outcomes.filter((o) => o.result.ok)).toHaveLength(11);
    expect(outcomes.filter((o) => !o.result.ok)).toHaveLength(185);
    expect(outcomes.filter((o) => o.vector.wantErr && o.result.ok).map((o) => o.file)).toEqual([]);
    expect(outcomes.filter((o) => !o.vector.wantErr && !o.result.ok).map((o) => o.file)).toEqual([NOT_32_BYTES_BY_DESIGN]);
  });
});

// ---------------------------------------------------------------------------------------------
// Generated trees (fast-check)
// ---------------------------------------------------------------------------------------------

/** `size` distinct leaf hashes, different for each salt. */
function makeLeaves(size: number, salt: string): Uint8Array[] {
  return Array.from({ length: size }, (_, i) => leafHash(utf8(`${salt}/${i}`)));
}

/** The root of every prefix: roots[m] = MTH(D[0:m]), for m = 0..n. */
function prefixRoots(leaves: readonly Uint8Array[]): Uint8Array[] {
  const accumulator = new MerkleAccumulator();
  const roots = [accumulator.root()];
  for (const leaf of leaves) {
    accumulator.append(leaf);
    roots.push(accumulator.root());
  }
  return roots;
}

/** A copy of `bytes` with the byte at `at` XORed with `mask` (1..255): a single-byte change. */
function flipped(bytes: Uint8Array, at: number, mask: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at % copy.length]! ^= mask;
  return copy;
}

const tree = (maxSize: number) => fc.record({ size: fc.integer({ min: 1, max: maxSize }), salt: fc.string({ maxLength: 6 }) });

describe('generated trees', () => {
  it('the accumulator equals the recursive MTH at every size', () => {
    fc.assert(
      fc.property(tree(300), ({ size, salt }) => {
        const leaves = makeLeaves(size, salt);
        const roots = prefixRoots(leaves);
        for (let m = 0; m <= size; m++) expect(toHex(roots[m]!), `size ${m}`).toBe(toHex(rootFromLeafHashes(leaves.slice(0, m))));
      }),
      { numRuns: 15 },
    );
  });

  it('verifies the inclusion proof of every leaf, with at most ceil(log2 n) hashes', () => {
    fc.assert(
      fc.property(tree(300), ({ size, salt }) => {
        const leaves = makeLeaves(size, salt);
        const root = rootFromLeafHashes(leaves);
        for (let index = 0; index < size; index++) {
          const proof = inclusionProof(index, leaves);
          expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(size)));
          expect(verifyInclusion(index, size, leaves[index]!, proof, root), `leaf ${index} of ${size}`).toEqual({ ok: true });
        }
      }),
      { numRuns: 15 },
    );
  });

  it('verifies the consistency proof from every size m <= n', () => {
    fc.assert(
      fc.property(tree(300), ({ size, salt }) => {
        const leaves = makeLeaves(size, salt);
        const roots = prefixRoots(leaves);
        for (let m = 1; m <= size; m++) {
          const proof = consistencyProof(m, leaves);
          expect(verifyConsistency(m, size, roots[m]!, roots[size]!, proof), `${m} -> ${size}`).toEqual({ ok: true });
        }
      }),
      { numRuns: 15 },
    );
  });

  it('rejects an inclusion proof after any single-byte change to the leaf, a proof element or the root', () => {
    fc.assert(
      fc.property(
        tree(300),
        fc.nat(),
        fc.constantFrom('leaf', 'proof', 'root'),
        fc.nat(),
        fc.nat({ max: 31 }),
        fc.integer({ min: 1, max: 255 }),
        ({ size, salt }, indexSeed, target, elementSeed, at, mask) => {
          const leaves = makeLeaves(size, salt);
          const index = indexSeed % size;
          const root = rootFromLeafHashes(leaves);
          const proof = inclusionProof(index, leaves);
          let leaf = leaves[index]!;
          let tamperedRoot = root;
          if (target === 'leaf') leaf = flipped(leaf, at, mask);
          else if (target === 'root') tamperedRoot = flipped(root, at, mask);
          else if (proof.length > 0) {
            const i = elementSeed % proof.length;
            proof[i] = flipped(proof[i]!, at, mask);
          } else {
            tamperedRoot = flipped(root, at, mask); // a one-leaf tree has an empty proof
          }
          expect(verifyInclusion(index, size, leaf, proof, tamperedRoot).ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects a consistency proof after any single-byte change to either root or a proof element', () => {
    fc.assert(
      fc.property(
        tree(300),
        fc.nat(),
        fc.constantFrom('root1', 'root2', 'proof'),
        fc.nat(),
        fc.nat({ max: 31 }),
        fc.integer({ min: 1, max: 255 }),
        ({ size, salt }, mSeed, target, elementSeed, at, mask) => {
          const leaves = makeLeaves(size, salt);
          const m = 1 + (mSeed % size);
          let root1 = rootFromLeafHashes(leaves.slice(0, m));
          let root2 = rootFromLeafHashes(leaves);
          const proof = consistencyProof(m, leaves);
          if (target === 'root1') root1 = flipped(root1, at, mask);
          else if (target === 'root2' || proof.length === 0) root2 = flipped(root2, at, mask);
          else {
            const i = elementSeed % proof.length;
            proof[i] = flipped(proof[i]!, at, mask);
          }
          expect(verifyConsistency(m, size, root1, root2, proof).ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  // The size itself is not authenticated by an inclusion proof (a proof for leaf 0 of 5 has the shape
  // of one for leaf 0 of 6 and recomputes the same root); the signed checkpoint binds size and root.
  it('rejects a valid proof presented for another index, or against the root of another size', () => {
    fc.assert(
      fc.property(tree(64), fc.nat(), fc.integer({ min: 1, max: 64 }), ({ size, salt }, indexSeed, otherSize) => {
        const leaves = makeLeaves(Math.max(size, otherSize), salt);
        const index = indexSeed % size;
        const proof = inclusionProof(index, leaves.slice(0, size));
        const root = rootFromLeafHashes(leaves.slice(0, size));
        if (size > 1) expect(verifyInclusion((index + 1) % size, size, leaves[index]!, proof, root).ok).toBe(false);
        if (otherSize !== size && index < otherSize) {
          expect(verifyInclusion(index, otherSize, leaves[index]!, proof, rootFromLeafHashes(leaves.slice(0, otherSize))).ok).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('streaming', () => {
  it('gives the same root as the whole list at sizes around powers of two, for 100,003 leaves', () => {
    const leaves = makeLeaves(100_003, 'stream');
    const checkpoints = new Set([1, 2, 3, 65_535, 65_536, 65_537, 100_003]);
    const accumulator = new MerkleAccumulator();
    for (const leaf of leaves) {
      accumulator.append(leaf);
      if (checkpoints.has(accumulator.size)) expect(toHex(accumulator.root()), `size ${accumulator.size}`).toBe(toHex(rootFromLeafHashes(leaves.slice(0, accumulator.size))));
    }
    expect(accumulator.size).toBe(100_003);
  });

  it('copies appended hashes, so a caller reusing its buffer cannot change the root', () => {
    const buffer = new Uint8Array(leafHash(utf8('a')));
    const accumulator = new MerkleAccumulator();
    accumulator.append(buffer);
    buffer.fill(0);
    expect(accumulator.root()).toEqual(leafHash(utf8('a')));
  });
});

describe('ownership', () => {
  it('never returns one of the caller\'s leaf hash arrays as a root or proof element', () => {
    const leaves = makeLeaves(3, 'own');
    const root1 = rootFromLeafHashes(leaves.slice(0, 1));
    const proof = inclusionProof(0, leaves);
    const consistency = consistencyProof(1, leaves);
    for (const output of [root1, ...proof, ...consistency]) expect(leaves.some((leaf) => leaf === output)).toBe(false);
    root1.fill(0);
    proof[0]!.fill(0);
    expect(rootFromLeafHashes(leaves.slice(0, 1))).toEqual(leafHash(utf8('own/0')));
    expect(leaves[1]).toEqual(leafHash(utf8('own/1')));
  });
});

describe('misuse', () => {
  const leaves = makeLeaves(5, 'misuse');

  it('throws AUDIT_PROOF_RANGE for an inclusion proof outside the tree', () => {
    expect(codeOf(() => inclusionProof(5, leaves))).toBe('AUDIT_PROOF_RANGE');
    expect(codeOf(() => inclusionProof(-1, leaves))).toBe('AUDIT_PROOF_RANGE');
    expect(codeOf(() => inclusionProof(1.5, leaves))).toBe('AUDIT_PROOF_RANGE');
    expect(codeOf(() => inclusionProof(0, []))).toBe('AUDIT_PROOF_RANGE');
  });

  it('throws AUDIT_PROOF_RANGE for a consistency proof from 0 or beyond the tree', () => {
    expect(codeOf(() => consistencyProof(0, leaves))).toBe('AUDIT_PROOF_RANGE');
    expect(codeOf(() => consistencyProof(6, leaves))).toBe('AUDIT_PROOF_RANGE');
    expect(codeOf(() => consistencyProof(1, []))).toBe('AUDIT_PROOF_RANGE');
    expect(consistencyProof(5, leaves)).toEqual([]);
  });

  it('throws AUDIT_HASH_INVALID for a hash that is not 32 bytes', () => {
    const short = new Uint8Array(31);
    expect(codeOf(() => nodeHash(short, leaves[0]!))).toBe('AUDIT_HASH_INVALID');
    expect(codeOf(() => nodeHash(leaves[0]!, new Uint8Array(33)))).toBe('AUDIT_HASH_INVALID');
    expect(codeOf(() => new MerkleAccumulator().append(short))).toBe('AUDIT_HASH_INVALID');
    expect(codeOf(() => rootFromLeafHashes([leaves[0]!, short]))).toBe('AUDIT_HASH_INVALID');
    expect(codeOf(() => inclusionProof(0, [leaves[0]!, short]))).toBe('AUDIT_HASH_INVALID');
  });

  it('verifiers answer a value, never throw, for impossible arguments', () => {
    const root = rootFromLeafHashes(leaves);
    for (const [index, size] of [[Number.NaN, 5], [-1, 5], [0, 2 ** 53], [0.5, 5], [5, 5], [0, 0]] as const) {
      expect(verifyInclusion(index, size, leaves[0]!, [], root).ok, `${index}/${size}`).toBe(false);
    }
    expect(verifyConsistency(Number.NaN, 5, root, root, []).ok).toBe(false);
    expect(verifyConsistency(0, 0, emptyRoot(), emptyRoot(), [])).toEqual({ ok: true });
    expect(reasonOf(verifyConsistency(0, 0, root, root, []))).toMatch(/empty tree/);
    expect(reasonOf(verifyConsistency(0, 5, emptyRoot(), root, []))).toMatch(/0 < m/);
  });
});
