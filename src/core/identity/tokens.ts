/**
 * API tokens: `il_<token ID as 32 hex digits>_<secret, 43 base64url characters (256 bits)>`. The token
 * is shown once when created; Interlock keeps only its SHA-256. The ID part lets the server find the
 * token's record without comparing secrets in the database; the secret is then checked by comparing
 * hashes in constant time. See docs/security.md.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Every API token starts with this, so secret scanners and people can recognise one. */
export const TOKEN_PREFIX = 'il_';

const TOKEN = /^il_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

/** An API token's record as stored and listed: never the secret, never its hash. */
export interface ApiToken {
  /** UUID; also embedded in the token itself. */
  readonly id: string;
  readonly principalId: string;
  readonly principalName: string;
  /** What the token is for, e.g. `ci pipeline`; null when none was given. */
  readonly label: string | null;
  /** ms since the Unix epoch. */
  readonly createdAt: number;
  /** After this instant the token no longer authenticates; null for no expiry. */
  readonly expiresAt: number | null;
  /** When it was revoked; a revoked token never authenticates again. */
  readonly revokedAt: number | null;
  /** Last successful authentication, to the minute; null when never used. */
  readonly lastUsedAt: number | null;
}

/**
 * The token text for token `id` (a UUID) and `secret` (32 random bytes).
 * @throws RangeError when `secret` is not 32 bytes or `id` is not a UUID.
 */
export function formatToken(id: string, secret: Uint8Array): string {
  const hex = id.replaceAll('-', '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError('token ID must be a UUID');
  if (secret.length !== 32) throw new RangeError('token secret must be 32 bytes');
  return `${TOKEN_PREFIX}${hex}_${Buffer.from(secret).toString('base64url')}`;
}

/** The token ID (a UUID) inside `token`, or undefined when `token` is not shaped like an API token. */
export function tokenId(token: string): string | undefined {
  const match = TOKEN.exec(token);
  const hex = match?.[1];
  if (hex === undefined) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** SHA-256 of the whole token text (UTF-8), as stored: 32 bytes. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** True when `token` hashes to `storedHash`; compares the hashes in constant time. */
export function tokenMatches(token: string, storedHash: Uint8Array): boolean {
  const presented = hashToken(token);
  return storedHash.length === presented.length && timingSafeEqual(presented, storedHash);
}
