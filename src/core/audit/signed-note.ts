/**
 * Signed notes (c2sp.org/signed-note@v1.0.0) with Ed25519 keys: the envelope of the audit log's
 * checkpoints. A note is a text ending in a newline, a blank line, and one or more signature lines
 * `— <key name> <base64(key ID || signature)>`. Key strings follow the Go `golang.org/x/mod/sumdb/note`
 * package, so keys and notes interoperate with Go tooling (e.g. witnesses).
 *
 * The text of a note MUST be ignored unless {@link verifyNote} accepts it.
 *
 * @see https://c2sp.org/signed-note
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';
import { decodeBase64, encodeBase64 } from './base64.js';

/** Signature type byte of Ed25519 (signed-note, "Signature types"). */
const ED25519 = 0x01;
const ED25519_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;
/** DER prefixes that wrap a raw Ed25519 key (RFC 8410) for node:crypto's import. */
const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SIGNATURE_PREFIX = '\u2014 ';
/** More signatures than this make a note malformed (the spec asks for at least 16; Go's note package allows 100). */
export const MAX_NOTE_SIGNATURES = 100;

/** A key that signs notes: its name, its 32-bit key ID, and the signing operation (e.g. Ed25519 in memory, or a KMS). */
export interface NoteSigner {
  /** Key name: non-empty, no Unicode spaces, no `+`. Conventionally the log's origin. */
  readonly name: string;
  /** uint32 key ID, first 4 bytes (big-endian) of SHA-256(name || 0x0A || type || public key). */
  readonly keyId: number;
  /** The signature over `message` (the note text's UTF-8 bytes), without the key ID. */
  sign(message: Uint8Array): Uint8Array;
}

/** A trusted key that checks note signatures: its name, its key ID and the check. */
export interface NoteVerifier {
  readonly name: string;
  /** uint32 key ID. */
  readonly keyId: number;
  /** True when `signature` (without the key ID) is a valid signature of `message` by this key. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** An in-memory Ed25519 note signer, which also knows its verifier key string. */
export interface Ed25519NoteSigner extends NoteSigner {
  /** `<name>+<hex key ID>+<base64(0x01 || public key)>`, to give to verifiers. */
  readonly verifierKey: string;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  /** uint32 key ID, the first 4 bytes of the decoded signature. */
  readonly keyId: number;
  /** The signature bytes after the key ID (64 for Ed25519). */
  readonly signature: Uint8Array;
}

/** A note split into its text and signatures, not verified. */
export interface ParsedNote {
  /** The note text, final newline included, blank separator line excluded. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/**
 * The outcome of {@link verifyNote}. Only an accepted note gives its `text`. `verified` lists the
 * signatures by the given verifiers that checked out, `unknown` those by other keys (ignored, as the
 * spec requires; e.g. witness cosignatures or a rotated key).
 */
export type NoteVerification =
  | { readonly ok: true; readonly text: string; readonly verified: readonly NoteSignature[]; readonly unknown: readonly NoteSignature[] }
  | { readonly ok: false; readonly reason: string; readonly verified: readonly NoteSignature[]; readonly unknown: readonly NoteSignature[] };

const encoder = new TextEncoder();
const WHITE_SPACE = /\p{White_Space}/u;
// ASCII control characters other than newline, and (in `u` mode, where pairs are one code point) lone
// UTF-16 surrogates, which have no UTF-8 encoding.
const FORBIDDEN_IN_NOTE = /[\u0000-\u0009\u000b-\u001f\ud800-\udfff]/u;

function hex8(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

/** A key name per signed-note: non-empty, no Unicode white space, no `+`, no control character. */
function isValidKeyName(name: string): boolean {
  return name.length > 0 && !WHITE_SPACE.test(name) && !name.includes('+') && !FORBIDDEN_IN_NOTE.test(name);
}

function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * The key ID the spec recommends: the first four bytes, big-endian, of
 * SHA-256(key name || 0x0A || signature type || public key).
 */
function keyIdOf(name: string, type: number, publicKey: Uint8Array): number {
  const digest = createHash('sha256').update(name, 'utf8').update(Uint8Array.of(0x0a, type)).update(publicKey).digest();
  return digest.readUInt32BE(0);
}

function keyError(message: string, details: Record<string, unknown> = {}): InputError {
  return new InputError('AUDIT_KEY_INVALID', message, [], { details });
}

function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(concat(SPKI_ED25519_PREFIX, raw)), format: 'der', type: 'spki' });
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - ED25519_KEY_SIZE));
}

function assertKeyName(name: string): void {
  if (typeof name !== 'string' || !isValidKeyName(name)) {
    throw keyError(`A note key name must be non-empty, without spaces or "+"; got ${JSON.stringify(name)}.`, { name });
  }
}

/**
 * The verifier key string of an Ed25519 public key: `<name>+<hex key ID>+<base64(0x01 || key)>`,
 * the key ID in 8 lowercase hex digits.
 *
 * @param name key name (non-empty, no spaces, no `+`), conventionally the log's origin.
 * @param publicKey the 32-byte Ed25519 public key (RFC 8032 encoding).
 * @throws InputError `AUDIT_KEY_INVALID` when the name or key is malformed.
 * @see c2sp.org/signed-note, "Verifier keys"
 */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  assertKeyName(name);
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_KEY_SIZE) {
    throw keyError(`An Ed25519 public key is ${ED25519_KEY_SIZE} bytes; got ${publicKey instanceof Uint8Array ? publicKey.length : typeof publicKey}.`);
  }
  return `${name}+${hex8(keyIdOf(name, ED25519, publicKey))}+${encodeBase64(concat(Uint8Array.of(ED25519), publicKey))}`;
}

/** Splits `<a>+<b>+<rest>` at its first `count - 1` plus signs (base64 may itself contain `+`). */
function splitPlus(text: string, count: number): string[] | undefined {
  const parts: string[] = [];
  let rest = text;
  for (let i = 1; i < count; i++) {
    const at = rest.indexOf('+');
    if (at < 0) return undefined;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

/**
 * Parses a verifier key string `<name>+<hex key ID>+<base64(0x01 || 32-byte Ed25519 public key)>`
 * and checks that the key ID is the one its name and key give.
 *
 * @returns a verifier for {@link verifyNote}.
 * @throws InputError `AUDIT_KEY_INVALID` when the string is malformed, the algorithm is not Ed25519
 *   (0x01) or the key ID does not match.
 * @see c2sp.org/signed-note, "Verifier keys"; Go `note.NewVerifier`
 */
export function parseVerifierKey(verifierKey: string): NoteVerifier {
  const expected = 'a verifier key <name>+<8 hex digits key ID>+<base64(0x01 || 32-byte Ed25519 public key)>';
  const parts = typeof verifierKey === 'string' ? splitPlus(verifierKey, 3) : undefined;
  if (parts === undefined) throw keyError(`Expected ${expected}.`);
  const [name, id, key64] = parts as [string, string, string];
  if (!isValidKeyName(name)) throw keyError(`Expected ${expected}; the key name ${JSON.stringify(name)} is empty or holds a space.`, { name });
  if (!/^[0-9a-f]{8}$/.test(id)) throw keyError(`Expected ${expected}; the key ID ${JSON.stringify(id)} is not 8 lowercase hex digits.`, { name });
  const key = decodeBase64(key64);
  if (key === undefined || key.length === 0) throw keyError(`Expected ${expected}; the key is not base64.`, { name });
  if (key[0] !== ED25519) throw keyError(`Verifier key ${name}: signature type 0x${key[0]!.toString(16).padStart(2, '0')} is not supported; only Ed25519 (0x01) is.`, { name });
  const raw = key.subarray(1);
  if (raw.length !== ED25519_KEY_SIZE) throw keyError(`Verifier key ${name}: an Ed25519 public key is ${ED25519_KEY_SIZE} bytes; got ${raw.length}.`, { name });
  const keyId = keyIdOf(name, ED25519, raw);
  if (hex8(keyId) !== id) throw keyError(`Verifier key ${name}: the key ID ${id} does not match the name and key (they give ${hex8(keyId)}).`, { name, keyId: id });
  let publicKey: KeyObject;
  try {
    publicKey = ed25519PublicKey(raw);
  } catch (error) {
    throw new InputError('AUDIT_KEY_INVALID', `Verifier key ${name}: the public key cannot be imported.`, [], { details: { name }, cause: error });
  }
  return {
    name,
    keyId,
    verify: (message, signature) => signature.length === ED25519_SIGNATURE_SIZE && verify(null, message, publicKey, signature),
  };
}

function ed25519Signer(name: string, privateKey: KeyObject): Ed25519NoteSigner {
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return {
    name,
    keyId: keyIdOf(name, ED25519, publicKey),
    verifierKey: formatVerifierKey(name, publicKey),
    sign: (message) => new Uint8Array(sign(null, message, privateKey)),
  };
}

/**
 * Parses a signer key string `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte Ed25519 seed)>`
 * (the format of Go's `note.GenerateKey`) and checks that the key ID matches the name and the public
 * key derived from the seed. Error messages never include the key text.
 *
 * @returns a signer for {@link signNote}, which also carries its verifier key string.
 * @throws InputError `AUDIT_KEY_INVALID` when the string is malformed, the algorithm is not Ed25519
 *   or the key ID does not match.
 * @see Go `golang.org/x/mod/sumdb/note.NewSigner`
 */
export function parseSignerKey(signerKey: string): Ed25519NoteSigner {
  const expected = 'a signer key PRIVATE+KEY+<name>+<8 hex digits key ID>+<base64(0x01 || 32-byte Ed25519 seed)>';
  const parts = typeof signerKey === 'string' ? splitPlus(signerKey, 5) : undefined;
  if (parts === undefined || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw keyError(`Expected ${expected}.`);
  const [, , name, id, seed64] = parts as [string, string, string, string, string];
  if (!isValidKeyName(name)) throw keyError(`Expected ${expected}; the key name is empty or holds a space.`);
  if (!/^[0-9a-f]{8}$/.test(id)) throw keyError(`Expected ${expected}; the key ID is not 8 lowercase hex digits.`, { name });
  const key = decodeBase64(seed64);
  if (key === undefined || key.length === 0) throw keyError(`Expected ${expected}; the key is not base64.`, { name });
  if (key[0] !== ED25519) throw keyError(`Signer key ${name}: only Ed25519 (0x01) keys are supported.`, { name });
  const seed = key.subarray(1);
  if (seed.length !== ED25519_KEY_SIZE) throw keyError(`Signer key ${name}: an Ed25519 seed is ${ED25519_KEY_SIZE} bytes.`, { name });
  const der = concat(PKCS8_ED25519_PREFIX, seed);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'pkcs8' });
  } catch {
    throw keyError(`Signer key ${name}: the seed cannot be imported as an Ed25519 key.`, { name });
  } finally {
    // Best effort: the seed lives on only inside the KeyObject.
    der.fill(0);
    key.fill(0);
  }
  const signer = ed25519Signer(name, privateKey);
  if (hex8(signer.keyId) !== id) throw keyError(`Signer key ${name}: the key ID ${id} does not match the name and key.`, { name, keyId: id });
  return signer;
}

/**
 * Generates a new Ed25519 note key, as Go's `note.GenerateKey` does.
 *
 * @param name key name (non-empty, no spaces, no `+`), conventionally the log's origin.
 * @returns `signerKey`, `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`: a secret, for
 *   {@link parseSignerKey}; and `verifierKey`, `<name>+<hex key ID>+<base64(0x01 || public key)>`,
 *   public, for {@link parseVerifierKey}.
 * @throws InputError `AUDIT_KEY_INVALID` when the name is malformed.
 * @see c2sp.org/signed-note, "Ed25519 signatures"
 */
export function generateSigner(name: string): { readonly signerKey: string; readonly verifierKey: string } {
  assertKeyName(name);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const raw = rawPublicKey(publicKey);
  const keyId = hex8(keyIdOf(name, ED25519, raw));
  const signerKey = `PRIVATE+KEY+${name}+${keyId}+${encodeBase64(concat(Uint8Array.of(ED25519), seed))}`;
  seed.fill(0);
  return { signerKey, verifierKey: formatVerifierKey(name, raw) };
}

/** Why `text` cannot be a note text, or undefined when it can. */
function noteTextProblem(text: string): string | undefined {
  if (text.length === 0) return 'the note text is empty';
  if (!text.endsWith('\n')) return 'the note text does not end with a newline';
  const bad = FORBIDDEN_IN_NOTE.exec(text);
  if (bad !== null) {
    const line = text.slice(0, bad.index).split('\n').length;
    return `line ${line} holds ${bad[0].length === 1 && bad[0] < ' ' ? `the control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}` : 'a lone UTF-16 surrogate (not valid Unicode)'}`;
  }
  return undefined;
}

/**
 * Signs a note text: returns `text`, a blank line, and one signature line
 * `— <name> <base64(key ID || signature)>` per signer, in order.
 *
 * @param text the note text: non-empty, ends with a newline, no ASCII control character other than
 *   newline, valid Unicode. Signed as its UTF-8 bytes. For a checkpoint, `formatCheckpoint`'s output.
 * @param signers one signer or several (e.g. the old and the new key while rotating).
 * @returns the signed note.
 * @throws InputError `AUDIT_NOTE_INVALID` when the text is malformed.
 * @throws InputError `AUDIT_KEY_INVALID` when a signer's name is malformed, its key ID is not a uint32,
 *   or no signer is given.
 * @see c2sp.org/signed-note, "Format" and "Signatures"
 */
export function signNote(text: string, signers: NoteSigner | readonly NoteSigner[]): string {
  const problem = typeof text === 'string' ? noteTextProblem(text) : 'the note text is not a string';
  if (problem !== undefined) throw new InputError('AUDIT_NOTE_INVALID', `Cannot sign the note: ${problem}.`, [], { details: { problem } });
  const list: readonly NoteSigner[] = Array.isArray(signers) ? signers : [signers as NoteSigner];
  if (list.length === 0) throw keyError('Cannot sign the note: no signer was given.');
  const message = encoder.encode(text);
  const lines = list.map((signer) => {
    assertKeyName(signer.name);
    if (!Number.isInteger(signer.keyId) || signer.keyId < 0 || signer.keyId > 0xffffffff) throw keyError(`Signer ${signer.name}: the key ID must be a uint32.`, { name: signer.name });
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, signer.keyId);
    return `${SIGNATURE_PREFIX}${signer.name} ${encodeBase64(concat(id, signer.sign(message)))}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

type NoteParse = { readonly ok: true; readonly note: ParsedNote } | { readonly ok: false; readonly reason: string };

function splitNote(input: string | Uint8Array): NoteParse {
  let note: string;
  if (typeof input === 'string') {
    note = input;
  } else {
    try {
      note = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
    } catch {
      return { ok: false, reason: 'the note is not valid UTF-8' };
    }
  }
  const bad = FORBIDDEN_IN_NOTE.exec(note);
  if (bad !== null) return { ok: false, reason: `the note holds a control character or invalid Unicode on line ${note.slice(0, bad.index).split('\n').length}` };
  // The text is separated from the signatures by the last empty line.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return { ok: false, reason: 'the note has no blank line before its signatures' };
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) return { ok: false, reason: 'the signature block is empty or does not end with a newline' };
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) return { ok: false, reason: `the note has ${lines.length} signatures, more than ${MAX_NOTE_SIGNATURES}` };
  const signatures: NoteSignature[] = [];
  for (const [i, line] of lines.entries()) {
    const where = `signature line ${i + 1}`;
    if (!line.startsWith(SIGNATURE_PREFIX)) return { ok: false, reason: `${where} does not start with an em dash (U+2014) and a space` };
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const sig64 = space < 0 ? '' : rest.slice(space + 1);
    if (!isValidKeyName(name)) return { ok: false, reason: `${where} has no valid key name` };
    const blob = decodeBase64(sig64);
    if (sig64 === '' || blob === undefined || blob.length < 5) return { ok: false, reason: `${where} (${name}) does not hold base64 of a key ID and a signature` };
    signatures.push({ name, keyId: new DataView(blob.buffer, blob.byteOffset).getUint32(0), signature: blob.subarray(4) });
  }
  return { ok: true, note: { text, signatures } };
}

/**
 * Splits a signed note into its text and signature lines, checking the syntax only: valid UTF-8, no
 * control character but newline, the text separated from the signatures by the last blank line,
 * signature lines `— <name> <base64(4-byte key ID || signature)>`, at most
 * {@link MAX_NOTE_SIGNATURES}. Does not verify anything: never trust the text without
 * {@link verifyNote}. Useful to show who signed a note.
 *
 * @param note the signed note, as text or UTF-8 bytes.
 * @throws InputError `AUDIT_NOTE_INVALID` when the note is malformed; the message says where.
 * @see c2sp.org/signed-note, "Format"
 */
export function parseNote(note: string | Uint8Array): ParsedNote {
  const parsed = splitNote(note);
  if (!parsed.ok) throw new InputError('AUDIT_NOTE_INVALID', `The signed note is malformed: ${parsed.reason}.`, [], { details: { reason: parsed.reason } });
  return parsed.note;
}

/**
 * Verifies a signed note against trusted keys, as the spec and Go's `note.Open` do: signatures from
 * keys not in `verifiers` (matched on name *and* key ID) are ignored and listed in `unknown`; a
 * signature from a known key MUST verify, or the whole note is rejected; at least one known key must
 * have signed. Repeated signatures by one key are checked once.
 *
 * @param note the signed note, as text or UTF-8 bytes (untrusted input).
 * @param verifiers the trusted keys ({@link parseVerifierKey}).
 * @returns `{ ok: true, text, verified, unknown }`, or `{ ok: false, reason, verified, unknown }` when
 *   the note is malformed, a known key's signature fails, or no known key signed. Never throws for a
 *   bad note.
 * @throws InputError `AUDIT_KEY_INVALID` when two verifiers share a name and key ID (ambiguous).
 * @see c2sp.org/signed-note, "Signatures"
 */
export function verifyNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): NoteVerification {
  const known = new Map<string, NoteVerifier>();
  for (const verifier of verifiers) {
    const id = `${verifier.name}+${hex8(verifier.keyId)}`;
    if (known.has(id)) throw keyError(`Two verifiers share the key name and ID ${id}; pass each key once.`, { key: id });
    known.set(id, verifier);
  }
  const parsed = splitNote(note);
  if (!parsed.ok) return { ok: false, reason: `the signed note is malformed: ${parsed.reason}`, verified: [], unknown: [] };
  const message = encoder.encode(parsed.note.text);
  const verified: NoteSignature[] = [];
  const unknown: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const signature of parsed.note.signatures) {
    const id = `${signature.name}+${hex8(signature.keyId)}`;
    const verifier = known.get(id);
    if (verifier === undefined) {
      unknown.push(signature);
      continue;
    }
    if (seen.has(id)) continue;
    seen.add(id);
    if (!verifier.verify(message, signature.signature)) {
      return { ok: false, reason: `the signature by ${signature.name} (key ID ${hex8(signature.keyId)}) does not verify`, verified, unknown };
    }
    verified.push(signature);
  }
  if (verified.length === 0) return { ok: false, reason: 'no signature is by a trusted key', verified, unknown };
  return { ok: true, text: parsed.note.text, verified, unknown };
}
