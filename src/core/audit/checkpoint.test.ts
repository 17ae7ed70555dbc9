import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { formatCheckpoint, parseCheckpoint } from './checkpoint.js';
import { consistencyProof, inclusionProof, leafHash, MerkleAccumulator, verifyConsistency, verifyInclusion } from './merkle.js';
import { generateSigner, parseNote, parseSignerKey, parseVerifierKey, signNote, verifyNote } from './signed-note.js';

interface SignedNoteVectors {
  checkpointExample_unverifiable_no_public_key: string;
}

const vectors = JSON.parse(readFileSync(new URL('../../../test/vectors/merkle/c2sp/signed_note_vectors.json', import.meta.url), 'utf8')) as SignedNoteVectors;

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

const root = (text: string): Uint8Array => leafHash(new TextEncoder().encode(text));

describe('the c2sp.org/tlog-checkpoint examples', () => {
  it('parses the tlog-checkpoint.md example and formats it back byte for byte', () => {
    const note = parseNote(vectors.checkpointExample_unverifiable_no_public_key);
    expect(note.signatures.map((s) => s.name)).toEqual(['example.com/behind-the-sofa']);
    const checkpoint = parseCheckpoint(note.text);
    expect(checkpoint.origin).toBe('example.com/behind-the-sofa');
    expect(checkpoint.size).toBe(20852163);
    expect(Buffer.from(checkpoint.rootHash).toString('base64')).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    expect(checkpoint.rootHash).toHaveLength(32);
    expect(checkpoint.extensions).toEqual([]);
    expect(formatCheckpoint(checkpoint)).toBe(note.text);
  });

  it('parses the tlog-witness.md example checkpoint', () => {
    const checkpoint = parseCheckpoint('example.com/behind-the-sofa\n14\n/CcKVZM9n65aH7jLaIZuUB4/MSlEFQ4+ldwUC21rDHM=\n');
    expect([checkpoint.origin, checkpoint.size]).toEqual(['example.com/behind-the-sofa', 14]);
  });
});

describe('parseCheckpoint', () => {
  const good = 'log.example/a\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

  it('keeps extension lines and accepts the empty tree', () => {
    expect(parseCheckpoint(`${good}ext one\next two\n`).extensions).toEqual(['ext one', 'ext two']);
    expect(parseCheckpoint('log.example/a\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n').size).toBe(0);
  });

  const cases: [string, string, string, RegExp][] = [
    ['an empty origin', '\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n', 'line 1', /line 1 \(origin\) is empty/],
    ['a leading zero', 'log.example/a\n042\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n', 'line 2', /line 2 \(tree size\) is not a tree size.*"042"/],
    ['a signed size', 'log.example/a\n+42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n', 'line 2', /line 2 \(tree size\)/],
    ['a negative size', 'log.example/a\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n', 'line 2', /line 2 \(tree size\)/],
    ['an exponent', 'log.example/a\n1e3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n', 'line 2', /line 2 \(tree size\)/],
    ['a size with a space', 'log.example/a\n 42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n', 'line 2', /line 2 \(tree size\)/],
    ['a size above 2^53 - 1', 'log.example/a\n9007199254740992\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n', 'line 2', /line 2 \(tree size\) is too large/],
    ['a root that is not base64', 'log.example/a\n42\nnot base64!\n', 'line 3', /line 3 \(root hash\) is not base64/],
    ['unpadded base64', 'log.example/a\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n', 'line 3', /line 3 \(root hash\) is not base64/],
    ['non-canonical base64', 'log.example/a\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n', 'line 3', /line 3 \(root hash\) is not base64/],
    ['a 31-byte root', 'log.example/a\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n', 'line 3', /line 3 \(root hash\) is not a SHA-256 root.*31 bytes/],
    ['an empty extension line (a signed note passed whole)', `${good}\n\u2014 log.example/a AAAAAAA=\n`, 'line 4', /line 4 \(extension\) is empty.*verifyNote/],
    ['two lines', 'log.example/a\n42\n', 'line 3', /line 3 \(root hash\) is missing/],
    ['no final newline', good.slice(0, -1), 'line 3', /line 3 .*does not end with a newline/],
    ['a carriage return', good.replace('log.example/a', 'log.example/a\r'), 'line 1', /line 1 \(origin\) holds a control character/],
  ];

  it.each(cases)('rejects %s, naming the line', (_, text, line, message) => {
    const error = errorOf(() => parseCheckpoint(text));
    expect(error.code).toBe('AUDIT_CHECKPOINT_INVALID');
    expect(error.message).toMatch(message);
    expect(error.issues[0]?.path).toBe(line);
  });
});

describe('formatCheckpoint', () => {
  it('writes origin, decimal size and base64 root, each ending in a newline', () => {
    const rootHash = root('x');
    expect(formatCheckpoint({ origin: 'log.example/a', size: 7, rootHash })).toBe(`log.example/a\n7\n${Buffer.from(rootHash).toString('base64')}\n`);
    expect(formatCheckpoint({ origin: 'log.example/a', size: 7, rootHash, extensions: ['e'] })).toMatch(/=\ne\n$/);
  });

  it('refuses what would not parse back', () => {
    const rootHash = root('x');
    for (const input of [
      { origin: '', size: 1, rootHash },
      { origin: 'a\nb', size: 1, rootHash },
      { origin: 'a', size: -1, rootHash },
      { origin: 'a', size: 1.5, rootHash },
      { origin: 'a', size: 2 ** 53, rootHash },
      { origin: 'a', size: 1, rootHash: rootHash.subarray(1) },
      { origin: 'a', size: 1, rootHash, extensions: [''] },
      { origin: 'a', size: 1, rootHash, extensions: ['two\nlines'] },
    ]) {
      expect(errorOf(() => formatCheckpoint(input)).code, JSON.stringify({ ...input, rootHash: input.rootHash.length })).toBe('AUDIT_CHECKPOINT_INVALID');
    }
  });

  it('round-trips through parseCheckpoint', () => {
    const line = fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }).filter((s) => !/[\u0000-\u001f]/.test(s));
    fc.assert(
      fc.property(line, fc.maxSafeNat(), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(line, { maxLength: 3 }), (origin, size, rootHash, extensions) => {
        const parsed = parseCheckpoint(formatCheckpoint({ origin, size, rootHash, extensions }));
        expect(parsed).toEqual({ origin, size, rootHash, extensions });
      }),
    );
  });
});

describe('a signed checkpoint of the audit log', () => {
  const key = generateSigner('interlock.example/audit');
  const signer = parseSignerKey(key.signerKey);
  const verifier = parseVerifierKey(key.verifierKey);

  it('round-trips generate → format → sign → verify → parse, and its root checks proofs', () => {
    const leaves = Array.from({ length: 11 }, (_, i) => root(`entry ${i}`));
    const accumulator = new MerkleAccumulator();
    leaves.slice(0, 6).forEach((leaf) => accumulator.append(leaf));
    const older = signNote(formatCheckpoint({ origin: signer.name, size: accumulator.size, rootHash: accumulator.root() }), signer);
    leaves.slice(6).forEach((leaf) => accumulator.append(leaf));
    const newer = signNote(formatCheckpoint({ origin: signer.name, size: accumulator.size, rootHash: accumulator.root() }), signer);

    const open = (note: string) => {
      const result = verifyNote(note, [verifier]);
      if (!result.ok) throw new Error(result.reason);
      return parseCheckpoint(result.text);
    };
    const [first, second] = [open(older), open(newer)];
    expect([first.size, second.size]).toEqual([6, 11]);
    expect(verifyInclusion(3, second.size, leaves[3]!, inclusionProof(3, leaves), second.rootHash)).toEqual({ ok: true });
    expect(verifyConsistency(first.size, second.size, first.rootHash, second.rootHash, consistencyProof(6, leaves))).toEqual({ ok: true });
  });

  it('reports a checkpoint signed by another key as unverified and gives no text', () => {
    const stranger = parseSignerKey(generateSigner('interlock.example/audit').signerKey);
    const note = signNote(formatCheckpoint({ origin: 'interlock.example/audit', size: 1, rootHash: root('a') }), stranger);
    const result = verifyNote(note, [verifier]);
    expect(result).toMatchObject({ ok: false, reason: 'no signature is by a trusted key', verified: [] });
    expect(result.unknown).toHaveLength(1);
    expect('text' in result).toBe(false);
  });

  it('rejects a signed checkpoint whose size or root was changed', () => {
    const body = formatCheckpoint({ origin: 'interlock.example/audit', size: 5, rootHash: root('a') });
    const note = signNote(body, signer);
    expect(verifyNote(note.replace('\n5\n', '\n6\n'), [verifier]).ok).toBe(false);
    const other = Buffer.from(root('b')).toString('base64');
    expect(verifyNote(note.replace(Buffer.from(root('a')).toString('base64'), other), [verifier]).ok).toBe(false);
  });
});
