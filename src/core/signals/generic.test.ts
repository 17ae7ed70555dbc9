import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGenericMapping, signalsFromGeneric, type GenericMapping } from './generic.js';

function compile(mapping: GenericMapping) {
  const compiled = compileGenericMapping(mapping, 'intake.sources.grafana.mapping');
  if (compiled.mapping === null) throw new Error(JSON.stringify(compiled.issues));
  return compiled.mapping;
}

const grafana = compile({
  items: 'body.alerts',
  name: 'item.labels.alertname',
  status: "item.status == 'resolved' ? 'resolved' : 'firing'",
  fingerprint: 'item.fingerprint',
  labels: 'item.labels',
  annotations: "{'summary': item.annotations.summary}",
  startsAt: 'item.startsAt',
});

describe('generic JSON mapping', () => {
  it('maps each item to a signal', () => {
    const body = { alerts: [
      { status: 'firing', fingerprint: 'g1', labels: { alertname: 'DiskFull', host: 'db-1', count: 3 }, annotations: { summary: 'disk' }, startsAt: '2026-11-21T10:00:00Z' },
      { status: 'resolved', fingerprint: 'g2', labels: { alertname: 'CPU' }, annotations: { summary: 'cpu' }, startsAt: '2026-11-21T10:01:00Z' },
    ] };
    const { signals, issues } = signalsFromGeneric(grafana, body, 'grafana', 1);
    expect(issues).toEqual([]);
    expect(signals.map((s) => [s.name, s.status, s.fingerprint, s.labels, s.annotations.summary, s.startsAt])).toEqual([
      ['DiskFull', 'firing', 'g1', { alertname: 'DiskFull', host: 'db-1', count: '3' }, 'disk', Date.UTC(2026, 10, 21, 10)],
      ['CPU', 'resolved', 'g2', { alertname: 'CPU' }, 'cpu', Date.UTC(2026, 10, 21, 10, 1)],
    ]);
  });

  it('defaults: the body is the item, firing, received time, fingerprint of the labels', () => {
    const { signals } = signalsFromGeneric(compile({ name: 'body.event', labels: "{'host': body.host}" }), { event: 'Reboot', host: 'a' }, 'x', 42);
    expect(signals).toEqual([expect.objectContaining({ name: 'Reboot', status: 'firing', startsAt: 42, labels: { host: 'a', alertname: 'Reboot' } })]);
    expect(signals[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('names the item and the field that failed, and maps nothing then', () => {
    const { signals, issues } = signalsFromGeneric(grafana, { alerts: [{ status: 'firing', fingerprint: 'g1', labels: { alertname: 'A' }, annotations: { summary: 's' }, startsAt: 'noon' }, { status: 'firing' }] }, 'grafana', 1);
    expect(signals).toEqual([]);
    expect(issues.map((i) => [i.path, i.message.split(':')[0]])).toEqual([
      ['body[item 0]', 'mapping.startsAt did not give a time'],
      ['body[item 1]', 'mapping.name failed on this body'],
      ['body[item 1]', 'mapping.labels failed on this body'],
      ['body[item 1]', 'mapping.annotations failed on this body'],
      ['body[item 1]', 'mapping.fingerprint failed on this body'],
      ['body[item 1]', 'mapping.startsAt failed on this body'],
    ]);
  });

  it('refuses a mapping that does not compile, naming the field', () => {
    const compiled = compileGenericMapping({ name: 'item.title +', status: 'item.state' }, 'intake.sources.x.mapping');
    expect(compiled.mapping).toBeNull();
    expect(compiled.issues.map((i) => i.path)).toEqual(['intake.sources.x.mapping.name']);
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (body) => {
      const { signals, issues } = signalsFromGeneric(grafana, body, 'grafana', 1);
      expect(signals.length === 0 || issues.length === 0).toBe(true);
    }), { numRuns: 300 });
  });
});
