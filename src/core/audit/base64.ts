/**
 * Strict standard base64 (RFC 4648 §4) for the audit log's text formats. Internal to `src/core/audit`;
 * not part of its public API.
 */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes strict standard base64: padded, no whitespace, canonical (unused trailing bits zero, so
 * re-encoding gives back the same text).
 *
 * @returns the bytes, or undefined when `text` is not strict base64.
 * @see RFC 4648 §4, §3.5 (canonical encoding)
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}

/** Standard padded base64 (RFC 4648 §4) of `bytes`. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
