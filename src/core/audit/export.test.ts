import { CloudEvent } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../approvals/binding-hash.js';
import { encodeEntry, type AuditEntry } from './entry.js';
import { auditCloudEvent, auditEventSource, formatAuditExportLine, parseAuditExportLine } from './export.js';
import { leafHash } from './merkle.js';

const entry: AuditEntry = {
  schemaVersion: 1,
  kind: 'tool.called',
  actor: 'agent:triage',
  missionId: '5f2b1c9e-8a4d-4f3e-9b1a-2c3d4e5f6a7b',
  at: 1_700_000_000_123,
  data: { tool: 'nginx.reload', args: { host: 'web-1' } },
};
const record = { index: 41, entry, leafHash: leafHash(encodeEntry(entry)) };

describe('formatAuditExportLine', () => {
  it('is one line of RFC 8785 JSON: entry, index, base64 leaf hash', () => {
    const line = formatAuditExportLine(record);
    expect(line).toBe(`{"entry":${new TextDecoder().decode(encodeEntry(entry))},"index":41,"leafHash":"${Buffer.from(record.leafHash).toString('base64')}"}\n`);
    expect(line.indexOf('\n')).toBe(line.length - 1);
  });

  it('lets a receiver recompute the leaf hash from the line alone', () => {
    const parsed = JSON.parse(formatAuditExportLine(record)) as { entry: unknown; leafHash: string };
    const bytes = new TextEncoder().encode(canonicalJson(parsed.entry));
    expect(Buffer.from(leafHash(bytes)).toString('base64')).toBe(parsed.leafHash);
  });

  it('keeps a line free of raw newlines even when the data holds some', () => {
    const line = formatAuditExportLine({ ...record, entry: { ...entry, data: { note: 'two\nlines\r\n' } } });
    expect(line.split('\n')).toHaveLength(2);
  });
});

describe('parseAuditExportLine', () => {
  it('reads the index and leaf hash of an export line', () => {
    expect(parseAuditExportLine(formatAuditExportLine(record).trimEnd())).toEqual({ index: 41, leafHash: Buffer.from(record.leafHash).toString('base64') });
  });

  it('is undefined for a line that is cut short, not JSON, or has no whole-number index or no leaf hash', () => {
    const line = formatAuditExportLine(record);
    expect(parseAuditExportLine(line.slice(0, 30))).toBeUndefined();
    expect(parseAuditExportLine('')).toBeUndefined();
    expect(parseAuditExportLine('null')).toBeUndefined();
    expect(parseAuditExportLine('{"index":-1,"leafHash":"x"}')).toBeUndefined();
    expect(parseAuditExportLine('{"index":1.5,"leafHash":"x"}')).toBeUndefined();
    expect(parseAuditExportLine('{"index":"3","leafHash":"x"}')).toBeUndefined();
    expect(parseAuditExportLine('{"index":3}')).toBeUndefined();
  });
});

describe('auditCloudEvent', () => {
  it('maps an entry to CloudEvents 1.0 attributes a receiver can dedupe, route and order by', () => {
    expect(auditCloudEvent(record, 'example.com/interlock/audit')).toEqual({
      specversion: '1.0',
      id: 'example.com/interlock/audit:41',
      source: 'urn:interlock:audit:example.com/interlock/audit',
      type: 'io.interlock.audit.tool.called',
      time: '2023-11-14T22:13:20.123Z',
      subject: '5f2b1c9e-8a4d-4f3e-9b1a-2c3d4e5f6a7b',
      datacontenttype: 'application/json',
      interlockindex: '41',
      data: { index: 41, leafHash: Buffer.from(record.leafHash).toString('base64'), entry },
    });
  });

  it('has no subject for an entry of no mission', () => {
    const event = auditCloudEvent({ ...record, entry: { ...entry, kind: 'kill_switch.changed', missionId: null } }, 'interlock/audit');
    expect(event).not.toHaveProperty('subject');
    expect(event.type).toBe('io.interlock.audit.kill_switch.changed');
  });

  it('passes the CloudEvents SDK validation, and its JSON form keeps every attribute', () => {
    const event = new CloudEvent({ ...auditCloudEvent(record, 'interlock/audit') });
    expect(event.validate()).toBe(true);
    expect(JSON.parse(JSON.stringify(event))).toEqual(JSON.parse(JSON.stringify(auditCloudEvent(record, 'interlock/audit'))));
  });
});

describe('auditEventSource', () => {
  it('percent-encodes the characters a URN does not allow, and keeps the rest', () => {
    expect(auditEventSource('interlock/audit')).toBe('urn:interlock:audit:interlock/audit');
    expect(auditEventSource('a%b?c#d"e<f>g\\h^i`j{k|l}m[n]o')).toBe('urn:interlock:audit:a%25b%3Fc%23d%22e%3Cf%3Eg%5Ch%5Ei%60j%7Bk%7Cl%7Dm%5Bn%5Do');
    expect(auditEventSource("x:y@z!$&'()*+,;=-._~")).toBe("urn:interlock:audit:x:y@z!$&'()*+,;=-._~");
  });
});
