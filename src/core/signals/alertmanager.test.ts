import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toIssues } from '../validation.js';
import { AlertmanagerWebhookSchema, signalsFromAlertmanager } from './alertmanager.js';
import { labelsFingerprint } from './fingerprint.js';
import { parseRfc3339 } from './time.js';

const FIXTURES = new URL('../../../test/fixtures/payloads/alertmanager-webhook/', import.meta.url).pathname;

function fixture(path: string): unknown {
  return JSON.parse(readFileSync(join(FIXTURES, path), 'utf8'));
}

function parse(body: unknown) {
  const result = AlertmanagerWebhookSchema.safeParse(body, { reportInput: true });
  return result.success ? { ok: true as const, notification: signalsFromAlertmanager(result.data, 'alertmanager') } : { ok: false as const, issues: toIssues(result.error, 'body') };
}

describe('labelsFingerprint', () => {
  it("equals Alertmanager's fingerprint of the label set", () => {
    // From an Alertmanager 0.25 notification: fingerprint d8e9f447d514bf1e for these labels.
    expect(labelsFingerprint({ alertname: 'DiskAlmostFull', host: 'web-1', instance: '127.0.0.1:19100', job: 'feas-metrics', service: 'checkout', severity: 'critical' })).toBe('d8e9f447d514bf1e');
    // (prom2teams' fixtures all carry one made-up fingerprint, so they are no reference.)
    expect(labelsFingerprint({})).toBe('cbf29ce484222325');
  });

  it('does not depend on the order labels were written in', () => {
    fc.assert(fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.string()), (labels) => {
      const reversed = Object.fromEntries(Object.entries(labels).reverse());
      expect(labelsFingerprint(reversed)).toBe(labelsFingerprint(labels));
    }));
  });
});

describe('parseRfc3339', () => {
  it.each([
    ['2026-11-21T09:41:09.272Z', Date.UTC(2026, 10, 21, 9, 41, 9, 272)],
    ['2017-05-09T07:01:37.803000Z', Date.UTC(2017, 4, 9, 7, 1, 37, 803)],
    ['2018-03-28T10:45:18.123456789-05:00', Date.UTC(2018, 2, 28, 15, 45, 18, 123)],
    ['2018-03-28T10:45:18+01:30', Date.UTC(2018, 2, 28, 9, 15, 18)],
    ['0001-01-01T00:00:00Z', -62_135_596_800_000],
  ])('%s', (text, ms) => {
    expect(parseRfc3339(text)).toBe(ms);
  });

  it.each(['2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-21T24:00:00Z', '2026-11-21', 'yesterday', '2026-11-21T09:41:09.1234567891Z'])('refuses %s', (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });
});

describe('the Alertmanager webhook, on every recorded payload', () => {
  const files = ['prometheus-msteams', 'prom2teams'].flatMap((dir) => readdirSync(join(FIXTURES, dir)).filter((f) => f.endsWith('.json')).map((f) => `${dir}/${f}`));

  it.each(files.filter((f) => !f.includes('without_mandatory_field')))('%s: accepted, one signal per alert with a fingerprint', (file) => {
    const body = fixture(file) as { alerts: Array<{ fingerprint?: string; labels: Record<string, string>; status?: string }>; status: string };
    const parsed = parse(body);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const { signals } = parsed.notification;
    expect(signals).toHaveLength(body.alerts.length);
    signals.forEach((signal, i) => {
      const alert = body.alerts[i]!;
      expect(signal.fingerprint).toBe(alert.fingerprint ?? labelsFingerprint(alert.labels));
      expect(signal.status).toBe(alert.status ?? body.status);
      expect(signal.name).toBe(alert.labels.alertname);
      expect(Number.isSafeInteger(signal.startsAt)).toBe(true);
    });
  });

  it("computes the fingerprint of an alert that has none, as Alertmanager would", () => {
    const parsed = parse(fixture('prom2teams/without_fingerprint.json'));
    expect(parsed.ok && parsed.notification.signals[0]).toMatchObject({
      status: 'resolved',
      fingerprint: labelsFingerprint({ alertname: 'DiskSpace', device: 'rootfs', fstype: 'rootfs', instance: 'cs30.evilcorp', mountpoint: '/', severity: 'severe' }),
      startsAt: Date.UTC(2017, 4, 9, 7, 1, 37, 803),
      endsAt: Date.UTC(2017, 4, 9, 7, 8, 37, 818),
    });
  });

  it('refuses a notification without status and an alert without alertname, naming both', () => {
    const parsed = parse(fixture('prom2teams/without_mandatory_field.json'));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.issues.map((i) => i.path).sort()).toEqual(['body.alerts.0.labels.alertname', 'body.status']);
  });

  it('names a bad timestamp, version, status and fingerprint', () => {
    const body = { version: '3', status: 'burning', alerts: [{ labels: { alertname: 'X' }, startsAt: 'yesterday', fingerprint: 'XYZ' }] };
    const parsed = parse(body);
    expect(!parsed.ok && parsed.issues.map((i) => i.path).sort()).toEqual(['body.alerts.0.fingerprint', 'body.alerts.0.startsAt', 'body.status', 'body.version']);
  });

  it('takes a firing alert with Go zero endsAt as having no end', () => {
    const parsed = parse({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'A' }, startsAt: '2026-11-21T09:41:09.272Z', endsAt: '0001-01-01T00:00:00Z' }] });
    expect(parsed.ok && parsed.notification.signals[0]!.endsAt).toBeNull();
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const parsed = parse(value);
      if (!parsed.ok) expect(parsed.issues.length).toBeGreaterThan(0);
    }), { numRuns: 500 });
  });
});
