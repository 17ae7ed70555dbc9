import { describe, expect, it } from 'vitest';
import { signalFromCloudEvent, type CloudEventInput } from './cloudevents.js';

const base: CloudEventInput = { id: 'A234-1234-1234', source: '/deploys/checkout', type: 'com.example.deploy.finished', specversion: '1.0', extensions: {} };

describe('signalFromCloudEvent', () => {
  it('names the event by type and labels it by its attributes and extensions', () => {
    const signal = signalFromCloudEvent({ ...base, subject: 'release-42', time: '2026-11-21T10:00:00Z', extensions: { service: 'checkout', attempt: 2, ok: true, nested: { no: 1 } }, data: { summary: 'deployed 42', annotations: { runbook_url: 'https://x', n: 3 } } }, 'deploys', 5);
    expect(signal).toEqual({
      source: 'deploys', kind: 'cloudevents', fingerprint: '/deploys/checkout#A234-1234-1234', status: 'firing', name: 'com.example.deploy.finished',
      labels: { type: 'com.example.deploy.finished', source: '/deploys/checkout', subject: 'release-42', service: 'checkout', attempt: '2', ok: 'true' },
      annotations: { runbook_url: 'https://x', n: '3', summary: 'deployed 42' },
      startsAt: Date.UTC(2026, 10, 21, 10), endsAt: null, generatorURL: null,
    });
  });

  it('uses a fingerprint extension and a resolved status when the sender gives them', () => {
    expect(signalFromCloudEvent({ ...base, extensions: { fingerprint: 'cond-7', status: 'resolved' } }, 'deploys', 5)).toMatchObject({ fingerprint: 'cond-7', status: 'resolved', startsAt: 5 });
    expect(signalFromCloudEvent({ ...base, data: { status: 'resolved' } }, 'deploys', 5).status).toBe('resolved');
  });

  it('takes the receive time when time is missing or not RFC 3339, and ignores non-JSON data', () => {
    const signal = signalFromCloudEvent({ ...base, time: 'noon', data: new Uint8Array([1, 2]) }, 'deploys', 77);
    expect(signal).toMatchObject({ startsAt: 77, annotations: {} });
  });
});
