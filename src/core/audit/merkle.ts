/**
 * The Merkle tree of the audit log: RFC 6962 §2.1 / RFC 9162 §2.1 hashing over SHA-256, proof
 * generation (PATH and SUBPROOF) and the verification algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.
 *
 * Every hash is 32 bytes. Leaf indexes and tree sizes are non-negative safe integers
 * (at most `Number.MAX_SAFE_INTEGER`); the algorithms use arithmetic, not 32-bit bitwise operators, so
 * they are exact over that whole range. Generators throw on misuse; verifiers never throw: a proof that
 * does not verify is a value, `{ ok: false, reason }`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9162#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc6962#section-2.1
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';

/** Size of every tree hash in bytes (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** The outcome of checking a proof: accepted, or rejected with a reason a person can act on. */
export type ProofVerification = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const ACCEPTED: ProofVerification = Object.freeze({ ok: true });

function rejected(reason: string): ProofVerification {
  return { ok: false, reason };
}

function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  // A plain Uint8Array (not a Buffer), so results compare equal to hashes built anywhere else.
  return new Uint8Array(hash.digest());
}

/** HASH(0x01 || left || right) without argument checks, for the inner loops. */
function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isTreeSize(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function isPowerOfTwo(value: number): boolean {
  let v = value;
  while (v > 1 && v % 2 === 0) v /= 2;
  return v === 1;
}

/** The largest power of two smaller than `n` (RFC 9162 §2.1.1's `k`); `n` must be at least 2. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function assertHash(hash: Uint8Array, what: string): void {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    const received = hash instanceof Uint8Array ? `${hash.length} bytes` : typeof hash;
    throw new InputError('AUDIT_HASH_INVALID', `${what} must be a ${HASH_SIZE}-byte SHA-256 hash; got ${received}.`, [], {
      details: { what, expectedBytes: HASH_SIZE, received },
    });
  }
}

function assertLeafHashes(leafHashes: readonly Uint8Array[]): void {
  for (let i = 0; i < leafHashes.length; i++) assertHash(leafHashes[i]!, `leafHashes[${i}]`);
}

/** The first hash that is not 32 bytes, described for a rejection reason; undefined when all are. */
function badHash(named: ReadonlyArray<readonly [string, Uint8Array]>): string | undefined {
  for (const [name, hash] of named) {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
      return `${name} is ${hash instanceof Uint8Array ? `${hash.length} bytes` : 'not a byte array'}, expected a ${HASH_SIZE}-byte SHA-256 hash`;
    }
  }
  return undefined;
}

/**
 * The leaf hash of one log entry: SHA-256(0x00 || entry), where `entry` is the entry's exact bytes
 * (for audit entries, the output of `encodeEntry` in `./entry.ts`). The 0x00 prefix keeps leaves and inner nodes
 * apart (second-preimage resistance).
 *
 * @param entry the entry bytes, any length (0 included).
 * @returns 32 bytes.
 * @see RFC 9162 §2.1.1 (MTH of one entry); RFC 6962 §2.1
 */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, entry);
}

/**
 * The hash of an inner node: SHA-256(0x01 || left || right).
 *
 * @param left the left child's hash, 32 bytes.
 * @param right the right child's hash, 32 bytes.
 * @returns 32 bytes.
 * @throws InputError `AUDIT_HASH_INVALID` when a child is not 32 bytes.
 * @see RFC 9162 §2.1.1; RFC 6962 §2.1
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  assertHash(left, 'left');
  assertHash(right, 'right');
  return hashChildren(left, right);
}

/**
 * The root of the empty tree: SHA-256 of the empty string
 * (`e3b0c442…7852b855`). A new array on each call.
 *
 * @see RFC 9162 §2.1.1 ("The hash of an empty list is the hash of an empty string")
 */
export function emptyRoot(): Uint8Array {
  return sha256();
}

/** MTH(D[start:end]) over leaf hashes, by the recursive definition; `end > start`. May alias a leaf. */
function subtreeHash(leafHashes: readonly Uint8Array[], start: number, end: number): Uint8Array {
  const n = end - start;
  if (n === 1) return leafHashes[start]!;
  const k = splitPoint(n);
  return hashChildren(subtreeHash(leafHashes, start, start + k), subtreeHash(leafHashes, start + k, end));
}

/** {@link subtreeHash} as a new array, never one of the caller's leaf hashes. */
function subtreeRoot(leafHashes: readonly Uint8Array[], start: number, end: number): Uint8Array {
  return end - start === 1 ? new Uint8Array(leafHashes[start]!) : subtreeHash(leafHashes, start, end);
}

/**
 * The Merkle Tree Hash (root) of a list of leaf hashes: MTH({}) = SHA-256(""), MTH({d0}) = the leaf
 * hash, and for n > 1, with k the largest power of two smaller than n,
 * MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
 *
 * Holds every leaf hash in memory; to compute the root of a log streamed from storage, use
 * {@link MerkleAccumulator}.
 *
 * @param leafHashes leaf hashes ({@link leafHash}), 32 bytes each, in log order.
 * @returns the 32-byte root, a new array.
 * @throws InputError `AUDIT_HASH_INVALID` when a leaf hash is not 32 bytes.
 * @see RFC 9162 §2.1.1; RFC 6962 §2.1
 */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  assertLeafHashes(leafHashes);
  if (leafHashes.length === 0) return emptyRoot();
  return subtreeRoot(leafHashes, 0, leafHashes.length);
}

/**
 * The root of a growing log, kept in O(log n) memory: the roots of the perfect subtrees the leaves
 * appended so far decompose into (one per set bit of the size, largest first; a compact range
 * [0, size)). Append leaf hashes one at a time as they stream from storage and read {@link root} at
 * any size, e.g. to check 1,000,000 entries against a checkpoint without holding them all.
 *
 * `append` costs amortised O(1) hashes (at most log2 n); `root` costs at most log2 n hashes.
 * Equal, leaf for leaf, to {@link rootFromLeafHashes}.
 *
 * @see RFC 9162 §2.1.1 (the tree shape); transparency-dev/merkle `compact.Range`
 */
export class MerkleAccumulator {
  #size = 0;
  /** Roots of the perfect subtrees covering [0, size), left to right, sizes strictly decreasing. */
  readonly #subtrees: Uint8Array[] = [];

  /**
   * An accumulator that continues the tree of `size` leaves from the hashes of its compact range
   * ({@link compactRange}(size), largest subtree first), e.g. read from stored subtree hashes, so a new
   * checkpoint costs the new leaves and O(log n) hashes instead of every leaf.
   *
   * @param size leaves already in the tree.
   * @param subtrees MTH of each range of `compactRange(size)`, in that order, 32 bytes each; copied.
   * @throws InputError `AUDIT_PROOF_RANGE` when `size` is not a tree size, `AUDIT_HASH_INVALID` when
   *   the number of hashes is not the number of set bits of `size` or one is not 32 bytes.
   */
  static resume(size: number, subtrees: readonly Uint8Array[]): MerkleAccumulator {
    assertIndex(size, 'size', 0, Number.MAX_SAFE_INTEGER, 'at least 0');
    const expected = compactRange(size).length;
    if (subtrees.length !== expected) {
      throw new InputError('AUDIT_HASH_INVALID', `A tree of ${size} leaves has ${expected} compact-range hashes; got ${subtrees.length}.`, [], { details: { size, expected, received: subtrees.length } });
    }
    subtrees.forEach((hash, i) => assertHash(hash, `subtrees[${i}]`));
    const acc = new MerkleAccumulator();
    acc.#size = size;
    acc.#subtrees.push(...subtrees.map((hash) => new Uint8Array(hash)));
    return acc;
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends the next leaf hash (the leaf at index {@link size}).
   *
   * @param hash the leaf hash ({@link leafHash}), 32 bytes; copied.
   * @throws InputError `AUDIT_HASH_INVALID` when `hash` is not 32 bytes.
   */
  append(hash: Uint8Array): void {
    assertHash(hash, 'leaf hash');
    this.#subtrees.push(new Uint8Array(hash));
    // Each trailing 1 bit of the old size is a perfect subtree the new leaf completes: merge it.
    for (let s = this.#size; s % 2 === 1; s = (s - 1) / 2) {
      const right = this.#subtrees.pop()!;
      const left = this.#subtrees.pop()!;
      this.#subtrees.push(hashChildren(left, right));
    }
    this.#size += 1;
  }

  /**
   * The root of the tree of the {@link size} leaves appended so far: the subtree roots folded from the
   * right, which is MTH(D[size]) (SHA-256("") when empty).
   *
   * @returns 32 bytes, a new array.
   * @see RFC 9162 §2.1.1
   */
  root(): Uint8Array {
    const last = this.#subtrees.length - 1;
    if (last < 0) return emptyRoot();
    let root = this.#subtrees[last]!;
    for (let i = last - 1; i >= 0; i--) root = hashChildren(this.#subtrees[i]!, root);
    return last === 0 ? new Uint8Array(root) : root;
  }
}

/** A range of leaf indices [start, end), `start < end`: the subtree whose hash is MTH(D[start:end]). */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The subtrees whose hashes make up the inclusion proof PATH(index, D[size]), in proof order (from
 * the leaf's level upwards), without computing them: {@link inclusionProof} over leaves in memory, or
 * a store that keeps subtree hashes (see `./tree-nodes.ts`). Arguments are not checked: `0 <= index < size`.
 *
 * @see RFC 9162 §2.1.3.1
 */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  const ranges: LeafRange[] = [];
  // PATH(m, D[start:end]) descends to the leaf; the siblings are collected top-down, then reversed.
  let m = index;
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      ranges.push({ start: start + k, end });
      end = start + k;
    } else {
      ranges.push({ start, end: start + k });
      start += k;
      m -= k;
    }
  }
  return ranges.reverse();
}

/**
 * The subtrees whose hashes make up the consistency proof PROOF(m, D[n]) = SUBPROOF(m, D[n], true),
 * in proof order, without computing them (see {@link inclusionProofRanges}). Arguments are not
 * checked: `1 <= m <= n`.
 *
 * @see RFC 9162 §2.1.4.1
 */
export function consistencyProofRanges(m: number, n: number): LeafRange[] {
  const ranges: LeafRange[] = [];
  // SUBPROOF(m, D[start:end], b), unrolled: each step adds one subtree and descends into one half.
  let rel = m;
  let start = 0;
  let end = n;
  let complete = true; // b: whether the subtree [start, end) is itself a root the verifier already has.
  while (rel !== end - start) {
    const k = splitPoint(end - start);
    if (rel <= k) {
      ranges.push({ start: start + k, end });
      end = start + k;
    } else {
      ranges.push({ start, end: start + k });
      start += k;
      rel -= k;
      complete = false;
    }
  }
  if (!complete) ranges.push({ start, end });
  return ranges.reverse();
}

/**
 * The compact range of [0, size): the perfect, aligned subtrees the first `size` leaves decompose
 * into, one per set bit of `size`, largest first. Their hashes folded from the right give MTH(D[size]),
 * and {@link MerkleAccumulator.resume} continues a tree from them.
 *
 * @see transparency-dev/merkle `compact.Range`
 */
export function compactRange(size: number): LeafRange[] {
  const ranges: LeafRange[] = [];
  let start = 0;
  let rest = size;
  while (rest > 0) {
    let k = 1;
    while (k * 2 <= rest) k *= 2;
    ranges.push({ start, end: start + k });
    start += k;
    rest -= k;
  }
  return ranges;
}

function assertIndex(value: number, name: string, min: number, max: number, rule: string): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InputError('AUDIT_PROOF_RANGE', `${name} must be an integer ${rule}; got ${String(value)}.`, [], {
      details: { [name]: value, min, max },
    });
  }
}

/**
 * The inclusion proof (audit path) for leaf `index` in the tree of `leafHashes`: the sibling subtree
 * roots from the leaf up to the root, PATH(m, D[n]) of RFC 9162 §2.1.3.1. Empty for a one-leaf tree.
 * Check it with {@link verifyInclusion}. Costs about n hashes (subtree roots are recomputed from the
 * leaves), so it suits trees held in memory; a store that keeps subtree hashes serves proofs in
 * O(log n).
 *
 * @param index 0-based leaf index.
 * @param leafHashes every leaf hash of the tree, 32 bytes each; the tree size is their count.
 * @returns the proof, 32-byte hashes ordered from the leaf's level upwards.
 * @throws InputError `AUDIT_PROOF_RANGE` when `index` is not an integer in [0, leafHashes.length).
 * @throws InputError `AUDIT_HASH_INVALID` when a leaf hash is not 32 bytes.
 * @see RFC 9162 §2.1.3.1; RFC 6962 §2.1.1
 */
export function inclusionProof(index: number, leafHashes: readonly Uint8Array[]): Uint8Array[] {
  const size = leafHashes.length;
  if (size === 0) {
    throw new InputError('AUDIT_PROOF_RANGE', `The tree is empty, so it has no leaf ${String(index)} to prove (index < tree size is required).`, [], { details: { index, size } });
  }
  assertIndex(index, 'index', 0, size - 1, `in [0, ${size}) (index < tree size)`);
  assertLeafHashes(leafHashes);
  return inclusionProofRanges(index, size).map((range) => subtreeRoot(leafHashes, range.start, range.end));
}

/**
 * The consistency proof between the tree of the first `m` leaves and the tree of all `leafHashes`:
 * PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1. It proves that the larger tree
 * extends the smaller one (the log is append-only). Empty when m = n. Check it with
 * {@link verifyConsistency}. Costs about n hashes, like {@link inclusionProof}.
 *
 * @param m the older tree size, 1 <= m <= n.
 * @param leafHashes every leaf hash of the newer tree, 32 bytes each; n is their count.
 * @returns the proof, 32-byte hashes.
 * @throws InputError `AUDIT_PROOF_RANGE` when `m` is not an integer in [1, n] (RFC 9162 defines
 *   no proof from the empty tree).
 * @throws InputError `AUDIT_HASH_INVALID` when a leaf hash is not 32 bytes.
 * @see RFC 9162 §2.1.4.1; RFC 6962 §2.1.2
 */
export function consistencyProof(m: number, leafHashes: readonly Uint8Array[]): Uint8Array[] {
  const n = leafHashes.length;
  if (n === 0) {
    throw new InputError('AUDIT_PROOF_RANGE', `There is no consistency proof within the empty tree (0 < m <= n is required); got m ${String(m)}.`, [], { details: { m, n } });
  }
  assertIndex(m, 'm', 1, n, `in [1, ${n}] (0 < old size <= new size)`);
  assertLeafHashes(leafHashes);
  return consistencyProofRanges(m, n).map((range) => subtreeRoot(leafHashes, range.start, range.end));
}

/**
 * Checks an inclusion proof: that the leaf with hash `leafHash` is at `index` in the tree of `size`
 * leaves whose root is `root`. Exactly the algorithm of RFC 9162 §2.1.3.2 (fn/sn bit walk), after
 * checking that every hash is 32 bytes. The proof binds the leaf to `root`; it does not prove that
 * `size` is the tree's size (proofs for some sizes share their shape), so take `size` and `root` together
 * from one verified checkpoint.
 *
 * @param index 0-based leaf index.
 * @param size tree size in leaves.
 * @param leafHash the leaf's hash ({@link leafHash}), 32 bytes.
 * @param proof the audit path, 32-byte hashes from the leaf's level upwards.
 * @param root the tree's root, 32 bytes (e.g. from a verified checkpoint).
 * @returns `{ ok: true }`, or `{ ok: false, reason }` for any wrong index, size, hash length, proof
 *   length, proof element or root. Never throws.
 * @see RFC 9162 §2.1.3.2
 */
export function verifyInclusion(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): ProofVerification {
  if (!isTreeSize(index) || !isTreeSize(size)) return rejected(`index (${String(index)}) and size (${String(size)}) must be non-negative safe integers`);
  // Step 1.
  if (index >= size) return rejected(`index ${index} is not less than the tree size ${size}`);
  const bad = badHash([['leaf hash', leafHash], ['root', root], ...proof.map((p, i) => [`proof[${i}]`, p] as const)]);
  if (bad !== undefined) return rejected(bad);
  // Steps 2 and 3.
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  // Step 4.
  for (const p of proof) {
    if (sn === 0) return rejected(`the proof has ${proof.length} hashes, more than the path from leaf ${index} in a tree of ${size}`);
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  if (sn !== 0) return rejected(`the proof has ${proof.length} hashes, fewer than the path from leaf ${index} in a tree of ${size}`);
  if (!equalBytes(r, root)) return rejected('the root computed from the leaf and the proof differs from the given root');
  return ACCEPTED;
}

/**
 * Checks a consistency proof: that the tree of `m` leaves with root `root1` is a prefix of the tree
 * of `n` leaves with root `root2`. For 0 < m < n, exactly the algorithm of RFC 9162 §2.1.4.2
 * (fn/sn bit walk). Outside it:
 * - m = n: accepted only with an empty proof and root1 = root2 (for m = n = 0, also equal to
 *   SHA-256(""), the only root an empty tree has);
 * - m = 0 < n: rejected, as RFC 9162 requires 0 < m (every tree extends the empty one; there is
 *   nothing to prove) and transparency-dev/merkle's vectors expect;
 * - m > n: rejected.
 * Every hash (both roots and every proof element) must be 32 bytes.
 *
 * @param m the older tree size in leaves.
 * @param n the newer tree size in leaves.
 * @param root1 the older tree's root, 32 bytes.
 * @param root2 the newer tree's root, 32 bytes.
 * @param proof the consistency proof, 32-byte hashes.
 * @returns `{ ok: true }`, or `{ ok: false, reason }`. Never throws.
 * @see RFC 9162 §2.1.4.2
 */
export function verifyConsistency(m: number, n: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): ProofVerification {
  if (!isTreeSize(m) || !isTreeSize(n)) return rejected(`the sizes (${String(m)}, ${String(n)}) must be non-negative safe integers`);
  const bad = badHash([['root1', root1], ['root2', root2], ...proof.map((p, i) => [`proof[${i}]`, p] as const)]);
  if (bad !== undefined) return rejected(bad);
  if (m > n) return rejected(`the old size ${m} is larger than the new size ${n}`);
  if (m === n) {
    if (proof.length > 0) return rejected(`the sizes are equal (${m}) but the proof is not empty`);
    if (!equalBytes(root1, root2)) return rejected(`the sizes are equal (${m}) but the roots differ`);
    if (m === 0 && !equalBytes(root1, emptyRoot())) return rejected('the root of the empty tree must be SHA-256("")');
    return ACCEPTED;
  }
  if (m === 0) return rejected('there is no consistency proof from the empty tree (RFC 9162 §2.1.4.2 requires 0 < m)');
  // Step 1.
  if (proof.length === 0) return rejected(`the proof is empty but the sizes differ (${m} < ${n})`);
  // Step 2.
  const path = isPowerOfTwo(m) ? [root1, ...proof] : proof;
  // Step 3.
  let fn = m - 1;
  let sn = n - 1;
  // Step 4.
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return rejected(`the proof has ${proof.length} hashes, more than a proof from ${m} to ${n} has`);
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  if (sn !== 0) return rejected(`the proof has ${proof.length} hashes, fewer than a proof from ${m} to ${n} has`);
  if (!equalBytes(fr, root1)) return rejected('the old root computed from the proof differs from root1');
  if (!equalBytes(sr, root2)) return rejected('the new root computed from the proof differs from root2');
  return ACCEPTED;
}
