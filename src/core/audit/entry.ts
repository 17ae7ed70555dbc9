/**
 * The audit entry: one record of what the governed loop did, the leaf data of the audit log's Merkle
 * tree. Its bytes are the UTF-8 of its RFC 8785 canonical JSON, so the same entry always has the same
 * leaf hash, whatever the key order it was built with.
 */
import { canonicalJson } from '../approvals/binding-hash.js';
import { InputError, isInterlockError } from '../errors.js';

/** The current (and only) envelope version. */
export const AUDIT_ENTRY_SCHEMA_VERSION = 1;

/**
 * What the loop records, one kind per event: signal intake, evidence, model input and output, the
 * plan, policy decisions, approvals, tool calls and results, compensation, verification, escalation,
 * closing, stage transitions, changes to kill switches, policy and configuration, and the ticket a
 * finished mission opened or updated.
 */
export const AUDIT_ENTRY_KINDS = [
  'signal.received',
  'evidence.queried',
  'model.prompt',
  'model.output',
  'plan.proposed',
  'policy.decided',
  'approval.requested',
  'approval.voted',
  'approval.decided',
  'approval.consumed',
  'tool.called',
  'tool.result',
  'compensation.ran',
  'verification.checked',
  'mission.escalated',
  'mission.closed',
  'stage.transition',
  'kill_switch.changed',
  'policy.changed',
  'config.changed',
  'ticket.opened',
  'ticket.updated',
  'mcp.tool.pinned',
  'mcp.tool.changed',
  'mcp.tool.reviewed',
  'mcp.elicitation',
  'agent.handoff',
  'agent.verdict',
] as const;

/** See {@link AUDIT_ENTRY_KINDS}. */
export type AuditEntryKind = (typeof AUDIT_ENTRY_KINDS)[number];

/** One audit entry (envelope version 1). */
export interface AuditEntry {
  readonly schemaVersion: typeof AUDIT_ENTRY_SCHEMA_VERSION;
  readonly kind: AuditEntryKind;
  /** Who acted: a principal name, or the engine's own name for what it does by itself. Non-empty. */
  readonly actor: string;
  /** The mission the entry belongs to; null for global events (policy, kill switch, configuration). */
  readonly missionId: string | null;
  /** When it happened, whole ms since the Unix epoch. */
  readonly at: number;
  /** The kind's facts, a JSON object. Values under secret-looking keys are redacted when encoded. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Words that make a key a secret's key (one word of the key, any case). */
const SECRET_WORDS = new Set(['password', 'passwd', 'pass', 'passphrase', 'secret', 'token', 'authorization', 'credential', 'credentials', 'cookie', 'apikey', 'privatekey', 'accesskey', 'secretkey']);
/** Word pairs that do (`apiKey`, `api_key`, `private-key`, `clientSecret` is already covered). */
const SECRET_PAIRS = new Set(['api key', 'private key', 'access key', 'secret key']);

/**
 * True when `key` names a secret: one of its words (split at camelCase humps, `_`, `-`, `.` and
 * spaces) is `password`, `pass`, `secret`, `token`, `authorization`, `credential(s)`, `cookie`…, or two
 * adjacent words are `api key`, `private key`, `access key`. Whole words only, so `maxTokens`,
 * `bypass` and `passengers` are kept, while `accessToken`, `db_password` and `X-Api-Key` are not.
 */
export function isSecretKey(key: string): boolean {
  const words = key.split(/[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])/).filter((w) => w !== '').map((w) => w.toLowerCase());
  return words.some((word, i) => SECRET_WORDS.has(word) || (i > 0 && SECRET_PAIRS.has(`${words[i - 1]} ${word}`)));
}

/** The value that replaces a secret. */
export const REDACTED = '[REDACTED]';

const ENTRY_FIELDS = new Set(['schemaVersion', 'kind', 'actor', 'missionId', 'at', 'data']);
const KINDS: ReadonlySet<string> = new Set(AUDIT_ENTRY_KINDS);

function entryError(field: string, message: string, expected: string, received: string): InputError {
  return new InputError('AUDIT_ENTRY_INVALID', `The audit entry's ${field} ${message}: expected ${expected}.`, [{ path: field, message, expected, received }]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function redact(value: unknown, ancestors: Set<object>, path: string): unknown {
  let current = value;
  // What JSON serialises: an object's toJSON() result (e.g. a Date's ISO string), not the object.
  if (isObject(current) && typeof (current as { toJSON?: unknown }).toJSON === 'function') current = (current as { toJSON: (key: string) => unknown }).toJSON('');
  if (!isObject(current)) return current;
  if (ancestors.has(current)) throw entryError(path || 'value', 'refers to itself', 'a tree of JSON values (no cycles)', 'a cycle');
  ancestors.add(current);
  try {
    if (Array.isArray(current)) return current.map((item, i) => redact(item, ancestors, `${path}.${i}`));
    // Object.fromEntries defines properties, so a "__proto__" key stays a plain key.
    return Object.fromEntries(
      Object.entries(current).map(([key, item]) => [key, isSecretKey(key) ? REDACTED : redact(item, ancestors, path === '' ? key : `${path}.${key}`)]),
    );
  } finally {
    ancestors.delete(current);
  }
}

/**
 * A copy of `value` in which the value of every object key for which {@link isSecretKey} holds, at
 * any depth (inside arrays too), is replaced by `"[REDACTED]"`, whatever it was (a string, a number,
 * an object). Objects with `toJSON` (a Date) are replaced by its result first, as JSON would.
 * `value` itself is not changed. Run by {@link encodeEntry} on `data`; call it yourself to show or
 * store the same redacted form.
 *
 * @throws InputError `AUDIT_ENTRY_INVALID` when `value` contains a cycle.
 */
export function redactSecrets(value: Readonly<Record<string, unknown>>): Record<string, unknown>;
export function redactSecrets(value: unknown): unknown;
export function redactSecrets(value: unknown): unknown {
  return redact(value, new Set(), '');
}

/**
 * The bytes of an audit entry as it enters the log: the UTF-8 encoding of the RFC 8785 canonical
 * JSON (keys sorted, no whitespace, shortest numbers) of the entry, with `data` passed through
 * {@link redactSecrets} first, so no secret under a secret-looking key is ever hashed or stored.
 * Its leaf hash is `leafHash(encodeEntry(entry))` (RFC 9162 §2.1.1).
 *
 * @returns UTF-8 bytes; equal for equal entries, whatever their key order.
 * @throws InputError `AUDIT_ENTRY_INVALID` naming the field when `schemaVersion` is not 1, `kind` is
 *   not in {@link AUDIT_ENTRY_KINDS}, `actor` is not a non-empty string, `missionId` is neither a
 *   non-empty string nor null, `at` is not a safe integer >= 0, `data` is not an object (an array is
 *   not), a field is unknown, or a value in `data` has no JSON form (NaN, Infinity, a BigInt, a cycle).
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
export function encodeEntry(entry: AuditEntry): Uint8Array {
  if (!isObject(entry)) throw entryError('entry', 'is not an object', 'an audit entry object', typeof entry);
  for (const key of Object.keys(entry)) {
    if (!ENTRY_FIELDS.has(key)) throw entryError(key, 'is not an audit entry field', [...ENTRY_FIELDS].join(', '), JSON.stringify(key));
  }
  const { schemaVersion, kind, actor, missionId, at, data } = entry as unknown as Record<string, unknown>;
  if (schemaVersion !== AUDIT_ENTRY_SCHEMA_VERSION) throw entryError('schemaVersion', 'is not supported', String(AUDIT_ENTRY_SCHEMA_VERSION), String(schemaVersion));
  if (typeof kind !== 'string' || !KINDS.has(kind)) throw entryError('kind', 'is not an audit entry kind', `one of ${AUDIT_ENTRY_KINDS.join(', ')}`, JSON.stringify(kind) ?? 'undefined');
  if (typeof actor !== 'string' || actor.length === 0) throw entryError('actor', 'is empty or not a string', 'a principal or component name', JSON.stringify(actor) ?? 'undefined');
  if (missionId !== null && (typeof missionId !== 'string' || missionId.length === 0)) throw entryError('missionId', 'is not a mission ID', 'a non-empty string or null', JSON.stringify(missionId) ?? 'undefined');
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) throw entryError('at', 'is not a time', 'whole ms since the Unix epoch', String(at));
  if (!isObject(data) || Array.isArray(data)) throw entryError('data', 'is not an object', 'a JSON object', Array.isArray(data) ? 'an array' : String(data));
  const envelope = { schemaVersion, kind, actor, missionId, at, data: redactSecrets(data) };
  let text: string;
  try {
    text = canonicalJson(envelope);
  } catch (error) {
    if (!isInterlockError(error)) throw error;
    throw new InputError('AUDIT_ENTRY_INVALID', `The audit entry's data has a value JSON cannot represent (NaN, Infinity, a BigInt): ${error.message}`, [], { cause: error });
  }
  return new TextEncoder().encode(text);
}
