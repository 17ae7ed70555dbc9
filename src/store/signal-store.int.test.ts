import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IncidentSettings } from '../core/incidents/incident.js';
import type { Signal } from '../core/signals/signal.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../../test/support/postgres.js';
import { createDatabase, type DatabaseHandle } from './database.js';
import { PgSignalStore, type IntakeInput } from './signal-store.js';

const settings: IncidentSettings = { groupBy: ['service'], reopenWindowMs: 60_000, flapping: { maxTransitions: 4, windowMs: 600_000 }, maxAlerts: 100 };

let db: MigratedTestDatabase;
let store: PgSignalStore;
const extra: DatabaseHandle[] = [];

function signal(overrides: Partial<Signal> = {}): Signal {
  return {
    source: 'alertmanager', kind: 'alertmanager', fingerprint: 'f1', status: 'firing', name: 'HighErrorRate',
    labels: { alertname: 'HighErrorRate', service: 'checkout' }, annotations: { summary: 'errors' }, startsAt: 1000, endsAt: null, generatorURL: null,
    ...overrides,
  };
}

function intake(signals: Signal[], receivedAt = 10_000): IntakeInput {
  return { source: 'alertmanager', project: 'shop', kind: 'alertmanager', contentType: 'application/json', body: new TextEncoder().encode(JSON.stringify(signals)), principal: 'am', receivedAt, signals };
}

beforeEach(async () => {
  db = await createMigratedTestDatabase('store_signals', 4);
  store = new PgSignalStore(db.handle.db);
});

afterEach(async () => {
  await Promise.all(extra.splice(0).map((h) => h.close()));
  await db.close();
});

describe('PgSignalStore.intake', () => {
  it('stores the body, its signals and the incident they open, join and resolve', async () => {
    const first = await store.intake(intake([signal(), signal({ fingerprint: 'f2' }), signal({ fingerprint: 'f3', labels: { alertname: 'HighErrorRate', service: 'payments' } })]), settings);
    expect(first.signals.map((s) => s.events)).toEqual([['opened'], ['joined'], ['opened']]);
    expect(first.incidents).toHaveLength(2);
    const checkout = first.incidents.find((i) => i.events[0] === 'opened' && i.events[1] === 'joined')!;
    expect(checkout).toMatchObject({ status: 'open', missionId: null, missionsStarted: 0 });
    const stored = (await store.getIncident(checkout.id))!;
    expect(stored).toMatchObject({ title: 'HighErrorRate (service=checkout)', project: 'shop', status: 'open', openedAt: 10_000 });
    expect(stored.state.alerts.map((a) => a.fingerprint)).toEqual(['f1', 'f2']);

    const body = await db.handle.db.selectFrom('interlock.signal_intakes').selectAll().where('id', '=', first.intakeId).executeTakeFirstOrThrow();
    expect(body).toMatchObject({ signal_count: 3, principal: 'am', body_sha256: first.bodySha256 });

    const resolved = await store.intake(intake([signal({ status: 'resolved' }), signal({ fingerprint: 'f2', status: 'resolved' })], 20_000), settings);
    expect(resolved.incidents).toEqual([{ id: checkout.id, events: ['changed', 'changed', 'resolved'], status: 'resolved', flapping: false, missionId: null, missionsStarted: 0 }]);
    const signals = await store.signalsOf(checkout.id, 100);
    expect(signals.map((s) => [s.fingerprint, s.status, s.events])).toEqual([['f1', 'firing', ['opened']], ['f2', 'firing', ['joined']], ['f1', 'resolved', ['changed']], ['f2', 'resolved', ['changed', 'resolved']]]);
    expect(signals[0]).toMatchObject({ labels: { alertname: 'HighErrorRate', service: 'checkout' }, annotations: { summary: 'errors' }, startsAt: 1000, receivedAt: 10_000 });
  });

  it('keeps a resolved signal with no incident, grouped nowhere', async () => {
    const result = await store.intake(intake([signal({ status: 'resolved' })]), settings);
    expect(result).toMatchObject({ signals: [{ incidentId: null, events: ['ignored'] }], incidents: [] });
  });

  it('groups concurrent intakes from several connections into one incident', async () => {
    const stores = [store, ...Array.from({ length: 3 }, () => {
      const handle = createDatabase({ url: db.url, poolSize: 2 });
      extra.push(handle);
      return new PgSignalStore(handle.db);
    })];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % stores.length]!.intake(intake([signal({ fingerprint: `f${i % 10}` })], 10_000 + i), settings)));
    const ids = new Set(results.flatMap((r) => r.incidents.map((i) => i.id)));
    expect(ids.size).toBe(1);
    const [incident] = await store.listIncidents({ limit: 10 });
    expect(incident!.state.alerts).toHaveLength(10);
    expect(incident!.state.alerts.reduce((n, a) => n + a.received, 0)).toBe(40);
    expect(results.flatMap((r) => r.signals.flatMap((s) => s.events)).filter((e) => e === 'opened')).toHaveLength(1);
  });

  it('tracks missions, lists what has none, and resolves a quiet flapping incident', async () => {
    const opened = await store.intake(intake([signal()]), settings);
    const id = opened.incidents[0]!.id;
    expect((await store.openWithoutMission(10)).map((i) => i.id)).toEqual([id]);
    await store.setMission(id, '00000000-0000-4000-8000-000000000001');
    await store.setMission(id, '00000000-0000-4000-8000-000000000001');
    expect(await store.getIncident(id)).toMatchObject({ missionId: '00000000-0000-4000-8000-000000000001', missionsStarted: 1 });
    expect(await store.openWithoutMission(10)).toEqual([]);

    for (let i = 1; i <= 5; i++) await store.intake(intake([signal({ status: i % 2 === 1 ? 'resolved' : 'firing' })], 10_000 + i * 1000), settings);
    const flapping = (await store.getIncident(id))!;
    expect(flapping).toMatchObject({ status: 'open', flapping: true });
    expect(await store.sweepFlapping(15_000 + 599_999, settings)).toEqual([]);
    expect(await store.sweepFlapping(15_000 + 600_000, settings)).toEqual([id]);
    expect(await store.getIncident(id)).toMatchObject({ status: 'resolved', flapping: false, resolvedAt: 615_000 });
  });
});
