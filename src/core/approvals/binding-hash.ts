import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { InternalError } from '../errors.js';
import type { ApprovalBinding } from './approval.js';

type Serialize = (input: unknown) => string | undefined;

// The package is CommonJS (`module.exports = serialize`) but its typings declare a default export;
// under NodeNext TypeScript reads that as `.default`. Accept either shape.
const serialize: Serialize = (canonicalizeModule as unknown as { default?: Serialize }).default ?? (canonicalizeModule as unknown as Serialize);

/**
 * The RFC 8785 (JSON Canonicalization Scheme) form of `value`: object keys sorted by UTF-16 code
 * units, no whitespace, numbers in their shortest ECMAScript form (`1.0` → `1`, `-0` → `0`,
 * `1e21` → `1e+21`), strings escaped as `JSON.stringify` does. Properties whose value is
 * `undefined` are left out, as in JSON.
 *
 * @throws InternalError `INTERNAL` when `value` holds something JSON cannot represent (NaN,
 *   Infinity, a BigInt) or is `undefined` itself.
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = serialize(value);
  } catch (error) {
    throw new InternalError(`The value cannot be canonicalised as JSON (RFC 8785): ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
  }
  if (text === undefined) throw new InternalError('The value cannot be canonicalised as JSON (RFC 8785): it is undefined.');
  return text;
}

/**
 * The hash an approval is bound to: SHA-256 (lowercase hex, 64 characters) of the RFC 8785 canonical
 * JSON of `binding`, encoded as UTF-8. Two bindings have the same hash exactly when they are the same
 * JSON value (key order and number spelling do not matter); any change to the mission, the project,
 * an action's step, tool, arguments or target, or the policy digest changes it.
 *
 * @throws InternalError `INTERNAL` when the binding holds a value JSON cannot represent.
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
export function bindingHash(binding: ApprovalBinding): string {
  return createHash('sha256').update(canonicalJson(binding), 'utf8').digest('hex');
}
