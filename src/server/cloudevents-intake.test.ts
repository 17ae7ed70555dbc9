import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCloudEventsRequest } from './cloudevents-intake.js';

const FIXTURES = new URL('../../test/fixtures/cloudevents/', import.meta.url).pathname;

interface Scenario {
  readonly name: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly attributes: Record<string, string>;
  readonly data: unknown;
}

/** The scenarios of the conformance feature file, with each Examples row substituted. */
function scenarios(): Scenario[] {
  const feature = readFileSync(`${FIXTURES}http-protocol-binding.feature`, 'utf8');
  return feature.split(/\n\s*Scenario Outline: /).slice(1).flatMap((block) => {
    const title = block.split('\n', 1)[0]!;
    const [request, rest] = block.split('"""').slice(1, 3).length === 2 ? [block.split('"""')[1]!, block.split('"""').slice(2).join('"""')] : ['', ''];
    const data = JSON.parse(block.split('"""')[3]!) as unknown;
    const table = rest.split('Then the attributes are:')[1]!.split('And the data')[0]!;
    const attributes = Object.fromEntries(table.split('\n').map((line) => line.split('|').map((cell) => cell.trim())).filter((cells) => cells.length === 4 && cells[1] !== 'key').map((cells) => [cells[1]!, cells[2]!]));
    const examples = block.split('Examples:')[1]!.split('\n').map((line) => line.split('|').map((cell) => cell.trim())).filter((cells) => cells.length === 3 && cells[1] !== 'contentType').map((cells) => cells[1]!);
    return examples.map((contentType) => {
      const text = request.replaceAll('<contentType>', contentType).split('\n').map((line) => line.replace(/^ {8}/, ''));
      const blank = text.findIndex((line, i) => i > 1 && line.trim() === '');
      const headers = Object.fromEntries(text.slice(2, blank).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      return { name: `${title} ${contentType}`, headers, body: text.slice(blank + 1).join('\n'), attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, v.replaceAll('<contentType>', contentType)])), data };
    });
  });
}

describe('parseCloudEventsRequest on the CloudEvents conformance scenarios', () => {
  const cases = scenarios();
  it('found the scenarios', () => {
    expect(cases.length).toBe(4);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, scenario) => {
    const parsed = parseCloudEventsRequest(scenario.headers, Buffer.from(scenario.body));
    expect(parsed.issues).toEqual([]);
    const [event] = parsed.events;
    const { datacontenttype, ...attributes } = scenario.attributes;
    expect({ id: event!.id, specversion: event!.specversion, type: event!.type, source: event!.source, time: event!.time }).toEqual(attributes);
    expect(event!.data).toEqual(scenario.data);
    expect(datacontenttype).toBeDefined();
  });
});

describe('parseCloudEventsRequest', () => {
  it('reads every minimal 1.0 event in structured mode', () => {
    const documents = parseAllDocuments(readFileSync(`${FIXTURES}v1_minimum.yaml`, 'utf8')).map((doc) => doc.toJS() as { ContextAttributes: Record<string, unknown>; Data: string });
    expect(documents.length).toBeGreaterThanOrEqual(5);
    for (const doc of documents) {
      const event = { ...doc.ContextAttributes, specversion: '1.0', data: doc.Data };
      const parsed = parseCloudEventsRequest({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify(event)));
      expect(parsed.issues).toEqual([]);
      expect(parsed.events[0]).toMatchObject({ id: doc.ContextAttributes.id, time: undefined });
    }
  });

  it('reads a batch, and names the attribute of the event that is wrong', () => {
    const ok = { specversion: '1.0', id: 'a', source: '/s', type: 't', service: 'checkout' };
    const batch = parseCloudEventsRequest({ 'content-type': 'application/cloudevents-batch+json' }, Buffer.from(JSON.stringify([ok, { ...ok, id: 'b' }])));
    expect(batch.events.map((e) => [e.id, e.extensions.service])).toEqual([['a', 'checkout'], ['b', 'checkout']]);
    const bad = parseCloudEventsRequest({ 'content-type': 'application/cloudevents-batch+json' }, Buffer.from(JSON.stringify([ok, { specversion: '0.3', source: '/s', type: 't', time: 'noon', Bad_Name: 1 }])));
    expect(bad.issues.map((i) => i.path).sort()).toEqual(['body[1].Bad_Name', 'body[1].id', 'body[1].specversion', 'body[1].time']);
  });

  it('names the missing ce- headers in binary mode, and a request with no event at all', () => {
    const missing = parseCloudEventsRequest({ 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-source': '/s' }, Buffer.from('{}'));
    expect(missing.issues.map((i) => i.path).sort()).toEqual(['headers.ce-id', 'headers.ce-type']);
    expect(parseCloudEventsRequest({ 'content-type': 'application/json' }, Buffer.from('{}')).issues[0]!.path).toBe('headers.content-type');
    expect(parseCloudEventsRequest({ 'content-type': 'application/cloudevents+json' }, Buffer.from('{not json')).issues[0]).toMatchObject({ path: 'body', message: 'is not JSON' });
  });
});
