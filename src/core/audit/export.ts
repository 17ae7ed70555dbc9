/**
 * The audit log as a SIEM sees it: one record per audit entry, as a JSON Lines line or as a
 * CloudEvent. Pure mapping, no I/O; the exporter (`src/server/audit-export.ts`) delivers the results.
 */
import { canonicalJson } from '../approvals/binding-hash.js';
import { encodeBase64 } from './base64.js';
import type { AuditEntry } from './entry.js';

/** One stored audit entry to export: its leaf index, the entry, and its 32-byte leaf hash. */
export interface AuditExportRecord {
  /** 0-based leaf index in the log. */
  readonly index: number;
  readonly entry: AuditEntry;
  /** `leafHash(encodeEntry(entry))` (RFC 9162 §2.1.1), 32 bytes. */
  readonly leafHash: Uint8Array;
}

/**
 * What every export format carries for one entry: `{ index, leafHash, entry }`, with the leaf hash in
 * standard padded base64 (RFC 4648 §4). The RFC 8785 canonical JSON of `entry` is exactly the bytes
 * that were hashed, so a receiver can recompute `leafHash` as SHA-256(0x00 || those bytes).
 */
export interface AuditExportData {
  readonly index: number;
  readonly leafHash: string;
  readonly entry: AuditEntry;
}

/** The `data` of an exported entry (see {@link AuditExportData}). */
function auditExportData(record: AuditExportRecord): AuditExportData {
  return { index: record.index, leafHash: encodeBase64(record.leafHash), entry: record.entry };
}

/**
 * The JSON Lines line of an entry: the RFC 8785 canonical JSON of {@link auditExportData} (keys
 * sorted, no whitespace), then `\n`:
 * `{"entry":{"actor":"engine",...},"index":7,"leafHash":"l7Bp..."}\n`.
 *
 * @see https://jsonlines.org/
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
export function formatAuditExportLine(record: AuditExportRecord): string {
  return `${canonicalJson(auditExportData(record))}\n`;
}

/**
 * The `index` and `leafHash` (base64) of a JSON Lines line written by {@link formatAuditExportLine}
 * (without its `\n`), or undefined when the line is not JSON, has no whole-number `index` >= 0, or
 * no string `leafHash`.
 */
export function parseAuditExportLine(line: string): { readonly index: number; readonly leafHash: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const { index, leafHash } = (parsed ?? {}) as { index?: unknown; leafHash?: unknown };
  return typeof index === 'number' && Number.isSafeInteger(index) && index >= 0 && typeof leafHash === 'string' ? { index, leafHash } : undefined;
}

/** Prefix of the CloudEvents `type` of audit entries: `io.interlock.audit.<kind>`. */
const AUDIT_EVENT_TYPE_PREFIX = 'io.interlock.audit.';

/** Characters kept as they are in the namespace-specific string of a URN (RFC 8141 pchar and `/`). */
const URN_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

/**
 * The CloudEvents `source` of a log: `urn:interlock:audit:<origin>`, the origin (the first line of
 * its checkpoints) with every character a URN does not allow as-is (`%`, `?`, `#`, `"`, `<`, ...)
 * percent-encoded, e.g. `urn:interlock:audit:example.com/interlock/audit`.
 *
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md#source-1
 * @see https://www.rfc-editor.org/rfc/rfc8141#section-2
 */
export function auditEventSource(origin: string): string {
  const encoded = [...origin].map((char) => (URN_SAFE.test(char) ? char : [...new TextEncoder().encode(char)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''))).join('');
  return `urn:interlock:audit:${encoded}`;
}

/**
 * The attributes and data of an audit entry's CloudEvent (CloudEvents 1.0), as a plain object in the
 * JSON event format:
 * - `id`: `<origin>:<index>`, unique within the source, so a receiver drops a redelivered event;
 * - `source`: {@link auditEventSource}; `specversion`: `1.0`;
 * - `type`: `io.interlock.audit.<kind>` (e.g. `io.interlock.audit.tool.called`);
 * - `time`: `entry.at` as an RFC 3339 UTC timestamp with ms; `subject`: the mission ID, absent for
 *   entries of no mission;
 * - `datacontenttype`: `application/json`; `data`: {@link auditExportData};
 * - extension `interlockindex`: the index as a decimal String (a CloudEvents Integer is 32-bit and
 *   the log may outgrow it; `data.index` is the number).
 *
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
export function auditCloudEvent(record: AuditExportRecord, origin: string): AuditCloudEvent {
  const { entry } = record;
  return {
    specversion: '1.0',
    id: `${origin}:${record.index}`,
    source: auditEventSource(origin),
    type: `${AUDIT_EVENT_TYPE_PREFIX}${entry.kind}`,
    time: new Date(entry.at).toISOString(),
    ...(entry.missionId === null ? {} : { subject: entry.missionId }),
    datacontenttype: 'application/json',
    interlockindex: String(record.index),
    data: auditExportData(record),
  };
}

/** An audit entry's CloudEvent in the JSON event format (see {@link auditCloudEvent}). */
export interface AuditCloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  /** RFC 3339, UTC, ms. */
  readonly time: string;
  /** The mission ID; absent for entries of no mission. */
  readonly subject?: string;
  readonly datacontenttype: 'application/json';
  /** The leaf index, decimal. */
  readonly interlockindex: string;
  readonly data: AuditExportData;
}
