import { Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ExpositionParseError, parseGauge } from './exposition.js';

describe('parseGauge', () => {
  it('reads the gauge from what prom-client serves, skipping metrics that share its prefix', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ service: 'payments', version: '2.1.0' });
    new Gauge({ name: 'db_pool_max', help: 'Pool size.', registers: [registry] }).set(12);
    new Gauge({ name: 'db_pool_max_seen', help: 'Another metric with the same prefix.', registers: [registry] }).set(99);
    new Histogram({ name: 'db_pool_acquire_seconds', help: 'Acquire time.', registers: [registry], buckets: [0.005, 1] }).observe(0.2);
    const text = await registry.metrics();
    expect(parseGauge(text, 'db_pool_max')).toEqual([{ labels: { service: 'payments', version: '2.1.0' }, value: 12 }]);
    expect(parseGauge(text, 'db_pool_active')).toEqual([]);
  });

  it('reads escapes, spaces, a trailing comma, no labels, special values and a timestamp', () => {
    const text = [
      '# HELP m A gauge.',
      '# TYPE m gauge',
      'm{path="C:\\\\dir",quote="say \\"hi\\"",line="a\\nb",} 1.5e3 1700000000000',
      'm { a = "x" } +Inf',
      'm -Inf',
      'm NaN',
      '  m{a="y"} -0.25',
      '',
    ].join('\n');
    const samples = parseGauge(text, 'm');
    expect(samples.map((s) => s.labels)).toEqual([{ path: 'C:\\dir', quote: 'say "hi"', line: 'a\nb' }, { a: 'x' }, {}, {}, { a: 'y' }]);
    expect(samples.map((s) => s.value)).toEqual([1500, Infinity, -Infinity, Number.NaN, -0.25]);
  });

  it.each([
    ['a value that is not a number', 'm{a="x"} twelve'],
    ['no value', 'm{a="x"}'],
    ['an unquoted label value', 'm{a=x} 1'],
    ['an unclosed label value', 'm{a="x} 1'],
    ['an unknown escape', 'm{a="\\t"} 1'],
    ['a label given twice', 'm{a="x",a="y"} 1'],
    ['a bad label name', 'm{1a="x"} 1'],
    ['a missing comma', 'm{a="x" b="y"} 1'],
    ['a timestamp that is not an integer', 'm 1 12.5'],
    ['text after the timestamp', 'm 1 12 extra'],
    ['a TYPE other than gauge', '# TYPE m counter\nm 1'],
  ])('refuses %s, naming the line', (_, text) => {
    expect(() => parseGauge(`# HELP other x\nother 1\n${text}\n`, 'm')).toThrow(ExpositionParseError);
    expect(() => parseGauge(`x 1\n${text}`, 'm')).toThrow(/^line \d+:/);
  });

  it('ignores malformed lines of other metrics', () => {
    expect(parseGauge('other{broken 1\nm 2\n', 'm')).toEqual([{ labels: {}, value: 2 }]);
  });
});
