import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type InterlockError } from '../errors.js';
import {
  formatVerifierKey,
  generateSigner,
  MAX_NOTE_SIGNATURES,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyNote,
  type NoteVerification,
} from './signed-note.js';
import { codeOf } from '../../../test/support/errors.js';

interface SignedNoteVectors {
  vectors: { verifierKey: string; note: string; signedText: string; valid: boolean }[];
}

const vectors = JSON.parse(readFileSync(new URL('../../../test/vectors/merkle/c2sp/signed_note_vectors.json', import.meta.url), 'utf8')) as SignedNoteVectors;
const example = vectors.vectors[0]!;


const reasonOf = (result: NoteVerification): string | undefined => (result.ok ? undefined : result.reason);
const b64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

describe('the c2sp.org/signed-note example', () => {
  it('holds one valid vector', () => {
    expect(vectors.vectors).toHaveLength(1);
    expect(example.valid).toBe(true);
  });

  it('verifies with its verifier key and gives back the signed text', () => {
    const verifier = parseVerifierKey(example.verifierKey);
    expect(verifier.name).toBe('example.com/foo');
    expect(verifier.keyId).toBe(0x530d903a);
    const result = verifyNote(example.note, [verifier]);
    expect(result).toMatchObject({ ok: true, text: example.signedText, unknown: [] });
    expect(result.verified.map((s) => [s.name, s.keyId, s.signature.length])).toEqual([['example.com/foo', 0x530d903a, 64]]);
  });

  it('is rejected when any byte of the message changes', () => {
    const verifier = parseVerifierKey(example.verifierKey);
    const bytes = new TextEncoder().encode(example.note);
    const textLength = new TextEncoder().encode(example.signedText).length;
    for (let i = 0; i < textLength; i++) {
      const tampered = new Uint8Array(bytes);
      tampered[i]! ^= 0x01;
      expect(verifyNote(tampered, [verifier]).ok, `byte ${i}`).toBe(false);
    }
  });

  it('is rejected when any byte of the signature (key ID or Ed25519 signature) changes', () => {
    const verifier = parseVerifierKey(example.verifierKey);
    const line = example.note.slice(example.note.lastIndexOf('\u2014'));
    const sig = b64(line.slice(line.lastIndexOf(' ') + 1).trimEnd());
    expect(sig).toHaveLength(68);
    for (let i = 0; i < sig.length; i++) {
      const tampered = new Uint8Array(sig);
      tampered[i]! ^= 0x80;
      const note = `${example.signedText}\n\u2014 example.com/foo ${Buffer.from(tampered).toString('base64')}\n`;
      const result = verifyNote(note, [verifier]);
      expect(result.ok, `byte ${i}`).toBe(false);
      // A changed key ID is another key: ignored, so no trusted signature is left.
      expect(reasonOf(result)).toBe(i < 4 ? 'no signature is by a trusted key' : 'the signature by example.com/foo (key ID 530d903a) does not verify');
    }
  });

  it('computes the same verifier key from the raw public key', () => {
    const raw = b64(example.verifierKey.split('+')[2]!).subarray(1);
    expect(formatVerifierKey('example.com/foo', raw)).toBe(example.verifierKey);
  });
});

describe('note syntax (c2sp.org/signed-note, "Format")', () => {
  it('separates the text at the last blank line, so the text may hold blank lines', () => {
    // The opening example of signed-note.md (CC BY 4.0); its key is not published, so only its syntax is checked.
    const note = 'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n';
    const parsed = parseNote(note);
    expect(parsed.text).toBe('Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n');
    expect(parsed.signatures.map((s) => [s.name, s.keyId.toString(16), s.signature.length])).toEqual([['quasimodo.example/salvatore', '367ba04b', 64]]);
  });

  it('reads several signature lines (the c2sp.org/tlog-cosignature example)', () => {
    const note = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n';
    const parsed = parseNote(note);
    expect(parsed.signatures.map((s) => s.name)).toEqual(['example.com/behind-the-sofa', 'witness.example.com/w1']);
    expect(parsed.signatures.map((s) => s.signature.length)).toEqual([64, 72]); // the cosignature carries an 8-byte timestamp
  });

  const signer = parseSignerKey(generateSigner('example.com/log').signerKey);
  const signed = signNote('hello\n', signer);
  const malformed: [string, string, RegExp][] = [
    ['no blank line', 'hello\n\u2014 example.com/log AAAAAAA=\n', /no blank line/],
    ['no final newline', signed.slice(0, -1), /does not end with a newline/],
    ['no signature', 'hello\n\n', /signature block is empty/],
    ['a hyphen instead of an em dash', signed.replace('\u2014', '-'), /em dash/],
    ['a carriage return', signed.replace('hello', 'hel\rlo'), /control character/],
    ['a signature too short for a key ID', 'hello\n\n\u2014 example.com/log AAAA\n', /base64 of a key ID/],
    ['a signature that is not base64', 'hello\n\n\u2014 example.com/log not*base64\n', /base64 of a key ID/],
    ['a key name with a plus', signed.replace('\u2014 example.com/log', '\u2014 example.com+log'), /no valid key name/],
  ];

  it.each(malformed)('rejects a note with %s', (_, note, reason) => {
    expect(reasonOf(verifyNote(note, [parseVerifierKey(signer.verifierKey)]))).toMatch(reason);
    expect(codeOf(() => parseNote(note))).toBe('AUDIT_NOTE_INVALID');
  });

  it('rejects invalid UTF-8', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode(signed)]);
    bytes[1] = 0xff;
    expect(reasonOf(verifyNote(bytes, [parseVerifierKey(signer.verifierKey)]))).toMatch(/not valid UTF-8/);
  });

  it(`accepts ${MAX_NOTE_SIGNATURES} signatures and rejects more`, () => {
    const unknownLine = `\u2014 other.example/key ${Buffer.alloc(68, 7).toString('base64')}\n`;
    const verifiers = [parseVerifierKey(signer.verifierKey)];
    expect(verifyNote(signed + unknownLine.repeat(MAX_NOTE_SIGNATURES - 1), verifiers).ok).toBe(true);
    expect(reasonOf(verifyNote(signed + unknownLine.repeat(MAX_NOTE_SIGNATURES), verifiers))).toMatch(/more than 100/);
  });
});

describe('keys', () => {
  it('generates Go-format keys whose parts agree', () => {
    const { signerKey, verifierKey } = generateSigner('interlock.example/audit');
    // base64 of 33 bytes (0x01 and a 32-byte seed or public key) is 44 characters, unpadded.
    const skey = /^PRIVATE\+KEY\+interlock\.example\/audit\+([0-9a-f]{8})\+([A-Za-z0-9+/]{44})$/.exec(signerKey);
    const vkey = /^interlock\.example\/audit\+([0-9a-f]{8})\+([A-Za-z0-9+/]{44})$/.exec(verifierKey);
    expect(skey, signerKey.slice(0, 40)).not.toBeNull();
    expect(vkey, verifierKey).not.toBeNull();
    expect(skey![1]).toBe(vkey![1]);
    expect([b64(skey![2]!)[0], b64(vkey![2]!)[0]]).toEqual([0x01, 0x01]);
    expect(skey![2]).not.toBe(vkey![2]);
    const signer = parseSignerKey(signerKey);
    const verifier = parseVerifierKey(verifierKey);
    expect(signer.verifierKey).toBe(verifierKey);
    expect([signer.name, signer.keyId]).toEqual([verifier.name, verifier.keyId]);
  });

  it('imports a raw Ed25519 seed exactly (RFC 8032 §7.1, TEST 1)', () => {
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const publicKey = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
    const keyId = createHash('sha256').update('rfc8032.example/test1\n\x01', 'latin1').update(publicKey).digest().subarray(0, 4).toString('hex');
    const signer = parseSignerKey(`PRIVATE+KEY+rfc8032.example/test1+${keyId}+${Buffer.from([0x01, ...seed]).toString('base64')}`);
    expect(signer.verifierKey).toBe(`rfc8032.example/test1+${keyId}+${Buffer.from([0x01, ...publicKey]).toString('base64')}`);
    expect(Buffer.from(signer.sign(new Uint8Array(0))).toString('hex')).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('derives the key ID as SHA-256(name || 0x0A || 0x01 || public key)[:4]', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const raw = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
    const expected = createHash('sha256').update('a.example/k\n\x01', 'latin1').update(raw).digest().subarray(0, 4).toString('hex');
    expect(formatVerifierKey('a.example/k', raw).split('+')[1]).toBe(expected);
    expect(parseVerifierKey(formatVerifierKey('a.example/k', raw)).keyId.toString(16).padStart(8, '0')).toBe(expected);
  });

  it('rejects malformed verifier keys with AUDIT_KEY_INVALID', () => {
    const [name, id, key] = example.verifierKey.split('+') as [string, string, string];
    const otherId = (Number.parseInt(id, 16) ^ 1).toString(16).padStart(8, '0');
    const ed25519Key = b64(key);
    const wrongType = Buffer.from([0x02, ...ed25519Key.subarray(1)]).toString('base64');
    for (const bad of ['', name, `${name}+${id}`, `${name}+${otherId}+${key}`, `${name}+${id.toUpperCase()}+${key}`, `+${id}+${key}`, `a b+${id}+${key}`, `${name}+${id}+${key.slice(0, -4)}`, `${name}+${id}+${wrongType}`, `${name}+${id}+${key} `]) {
      expect(codeOf(() => parseVerifierKey(bad)), JSON.stringify(bad)).toBe('AUDIT_KEY_INVALID');
    }
  });

  it('rejects malformed signer keys with AUDIT_KEY_INVALID, never echoing the key', () => {
    const { signerKey } = generateSigner('a.example/k');
    const parts = signerKey.split('+');
    const seed = signerKey.slice(signerKey.indexOf('+', 'PRIVATE+KEY+a.example/k+'.length) + 1);
    const otherId = (Number.parseInt(parts[3]!, 16) ^ 1).toString(16).padStart(8, '0');
    for (const bad of [signerKey.replace('PRIVATE', 'PUBLIC'), signerKey.replace('a.example/k', 'b.example/k'), `PRIVATE+KEY+a.example/k+${otherId}+${seed}`, `PRIVATE+KEY+a.example/k+${parts[3]!}+${seed.slice(0, -4)}`]) {
      let message = '';
      try {
        parseSignerKey(bad);
      } catch (error) {
        expect((error as InterlockError).code).toBe('AUDIT_KEY_INVALID');
        message = (error as Error).message + JSON.stringify((error as InterlockError).details);
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(seed.slice(0, 20));
    }
  });

  it('rejects key names that are empty or hold a space or a plus', () => {
    for (const name of ['', 'a b', 'a+b', 'a\u00a0b', 'a\nb']) expect(codeOf(() => generateSigner(name)), JSON.stringify(name)).toBe('AUDIT_KEY_INVALID');
  });

  it('refuses two verifiers with the same name and key ID', () => {
    const verifier = parseVerifierKey(example.verifierKey);
    expect(codeOf(() => verifyNote(example.note, [verifier, parseVerifierKey(example.verifierKey)]))).toBe('AUDIT_KEY_INVALID');
  });
});

describe('signing and verifying', () => {
  const log = generateSigner('interlock.example/audit');
  const other = generateSigner('interlock.example/audit');
  const witness = generateSigner('witness.example/w1');

  it('round-trips generate → sign → verify', () => {
    const signer = parseSignerKey(log.signerKey);
    const note = signNote('interlock.example/audit\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n', signer);
    expect(note).toMatch(/\n\n\u2014 interlock\.example\/audit [A-Za-z0-9+/]{91}=\n$/);
    const result = verifyNote(note, [parseVerifierKey(log.verifierKey)]);
    expect(result).toMatchObject({ ok: true, text: 'interlock.example/audit\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' });
    expect(result.verified.map((s) => s.keyId)).toEqual([signer.keyId]);
  });

  it('reports a note signed by another key (same name, other key ID) as unverified', () => {
    const note = signNote('hello\n', parseSignerKey(other.signerKey));
    const result = verifyNote(note, [parseVerifierKey(log.verifierKey)]);
    expect(result).toMatchObject({ ok: false, reason: 'no signature is by a trusted key', verified: [] });
    expect(result.unknown.map((s) => s.keyId)).toEqual([parseVerifierKey(other.verifierKey).keyId]);
  });

  it('verifies the trusted signature among others and lists the rest as unknown', () => {
    const note = signNote('hello\n', [parseSignerKey(witness.signerKey), parseSignerKey(log.signerKey)]);
    const result = verifyNote(note, [parseVerifierKey(log.verifierKey)]);
    expect(result.ok).toBe(true);
    expect(result.verified.map((s) => s.name)).toEqual(['interlock.example/audit']);
    expect(result.unknown.map((s) => s.name)).toEqual(['witness.example/w1']);
    const both = verifyNote(note, [parseVerifierKey(log.verifierKey), parseVerifierKey(witness.verifierKey)]);
    expect(both.verified.map((s) => s.name)).toEqual(['witness.example/w1', 'interlock.example/audit']);
  });

  it('rejects the whole note when a trusted key signature fails, even beside a valid one', () => {
    const good = signNote('hello\n', parseSignerKey(log.signerKey));
    const forged = signNote('other\n', parseSignerKey(witness.signerKey));
    const note = good + forged.slice(forged.indexOf('\u2014'));
    const result = verifyNote(note, [parseVerifierKey(log.verifierKey), parseVerifierKey(witness.verifierKey)]);
    expect(reasonOf(result)).toMatch(/signature by witness\.example\/w1 .* does not verify/);
    expect('text' in result).toBe(false);
  });

  it('refuses to sign a text that is not a note text', () => {
    const signer = parseSignerKey(log.signerKey);
    for (const text of ['', 'no newline', 'tab\there\n', 'lone \ud800 surrogate\n']) expect(codeOf(() => signNote(text, signer)), JSON.stringify(text)).toBe('AUDIT_NOTE_INVALID');
    expect(codeOf(() => signNote('hello\n', []))).toBe('AUDIT_KEY_INVALID');
  });

  it('signs non-ASCII text as UTF-8', () => {
    const note = signNote('ed è subito sera.\n', parseSignerKey(log.signerKey));
    expect(verifyNote(new TextEncoder().encode(note), [parseVerifierKey(log.verifierKey)])).toMatchObject({ ok: true, text: 'ed è subito sera.\n' });
  });
});
