import { describe, expect, it } from 'vitest';
import { evaluateCheck } from './prometheus-check.js';

const at = (value: number | 'NaN' | '+Inf' | '-Inf', labels: Record<string, string> = {}) => ({ labels, values: [[1_700_000_000_000, value] as [number, typeof value]] });

describe('evaluateCheck', () => {
  it('passes when every series is strictly inside the bounds', () => {
    expect(evaluateCheck([at(0.01, { service: 'a' }), at(0.02, { service: 'b' })], { below: 0.05, ifEmpty: 'fail' })).toEqual({ ok: true, observed: '2 series, all below 0.05: {service="a"} 0.01, {service="b"} 0.02' });
    expect(evaluateCheck([at(5)], { above: 1, below: 10, ifEmpty: 'fail' }).ok).toBe(true);
  });

  it('fails on a value at or beyond a bound, NaN, or an infinity beyond it, naming the series', () => {
    expect(evaluateCheck([at(0.05, { service: 'a' }), at(0.01, { service: 'b' })], { below: 0.05, ifEmpty: 'fail' })).toEqual({ ok: false, observed: '1 of 2 series not below 0.05: {service="a"} 0.05' });
    expect(evaluateCheck([at('NaN')], { below: 1, ifEmpty: 'fail' }).ok).toBe(false);
    expect(evaluateCheck([at('+Inf')], { below: 1, ifEmpty: 'fail' }).ok).toBe(false);
    expect(evaluateCheck([at('+Inf')], { above: 1, ifEmpty: 'fail' }).ok).toBe(true);
    expect(evaluateCheck([at(0)], { above: 0, ifEmpty: 'fail' }).ok).toBe(false);
  });

  it('reads an empty result as ifEmpty says: no data is no proof by default', () => {
    expect(evaluateCheck([], { below: 1, ifEmpty: 'fail' })).toMatchObject({ ok: false, observed: expect.stringContaining('no data') });
    expect(evaluateCheck([], { below: 1, ifEmpty: 'pass' }).ok).toBe(true);
  });

  it('takes the last sample of a series and leaves __name__ out of the label text', () => {
    const series = { labels: { __name__: 'up', job: 'x' }, values: [[1, 0], [2, 1]] as Array<[number, number]> };
    expect(evaluateCheck([series], { above: 0.5, ifEmpty: 'fail' })).toEqual({ ok: true, observed: '1 series, all above 0.5: {job="x"} 1' });
  });
});
