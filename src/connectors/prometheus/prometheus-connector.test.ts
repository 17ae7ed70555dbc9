import { describe, expect, it } from 'vitest';
import { ConnectorError, InterlockError } from '../../core/errors.js';
import { ToolCatalog } from '../../core/tools/catalog.js';
import type { HttpApiResponse } from '../shared/http-client.js';
import { PrometheusConfigSchema, type PrometheusConfig } from './prometheus-config.js';
import { createPrometheusConnector, MAX_QUERY_LENGTH } from './prometheus-connector.js';
import { normalizeQueryData, parseDuration, QueryResponse, QueryResult, readPrometheusResponse, SeriesResponse } from './prometheus-results.js';
import { connectorErrorOf, recordedResponse } from '../../../test/support/connectors.js';

const HOUR = 3_600_000;
const config = (overrides: Record<string, unknown> = {}): PrometheusConfig =>
  PrometheusConfigSchema.parse({ enabled: true, url: 'http://127.0.0.1:1', maxRangeMs: 6 * HOUR, maxPoints: 100, ...overrides });
const catalog = new ToolCatalog(createPrometheusConnector(config()));
const issues = (tool: string, args: unknown) => {
  const result = catalog.validateArgs(tool, args, 'steps.0');
  return result.ok ? [] : result.issues;
};
const T0 = Date.parse('2026-05-01T12:00:00Z');

describe('prometheus connector: arguments are checked before any request', () => {
  it('accepts a query with RFC 3339 or ms times and a step in seconds or as a duration', () => {
    expect(issues('prometheus.query', { query: 'up', time: '2026-05-01T12:00:00+02:00' })).toEqual([]);
    expect(issues('prometheus.query', { query: 'up', time: T0 })).toEqual([]);
    expect(issues('prometheus.query_range', { query: 'up', start: T0 - HOUR, end: T0, step: 60 })).toEqual([]);
    expect(issues('prometheus.query_range', { query: 'up', start: '2026-05-01T11:00:00Z', end: '2026-05-01T12:00:00Z', step: '1m' })).toEqual([]);
  });

  it('refuses an empty or over-long query, naming the field', () => {
    expect(issues('prometheus.query', { query: '  ' })).toMatchObject([{ path: 'steps.0.args.query', message: 'a PromQL expression, not empty' }]);
    expect(issues('prometheus.query', { query: 'x'.repeat(MAX_QUERY_LENGTH + 1) })).toMatchObject([{ path: 'steps.0.args.query' }]);
    expect(issues('prometheus.series', { match: [] })).toMatchObject([{ path: 'steps.0.args.match' }]);
  });

  it('refuses times that are not RFC 3339 or ms, and seconds given as ms', () => {
    expect(issues('prometheus.query', { query: 'up', time: '2026-05-01 12:00' })).toMatchObject([{ path: 'steps.0.args.time' }]);
    const seconds = issues('prometheus.query', { query: 'up', time: Math.floor(T0 / 1000) });
    expect(seconds).toMatchObject([{ path: 'steps.0.args.time' }]);
    expect(JSON.stringify(seconds)).toContain('looks like seconds');
  });

  it('refuses a range longer than maxRangeMs, naming start', () => {
    expect(issues('prometheus.query_range', { query: 'up', start: T0 - 7 * HOUR, end: T0, step: '10m' })).toMatchObject([
      { path: 'steps.0.args.start', message: expect.stringContaining('longer than connectors.prometheus.maxRangeMs (21600000 ms)') },
    ]);
    expect(issues('prometheus.series', { match: ['up'], start: T0 - 7 * HOUR, end: T0 })).toMatchObject([{ path: 'steps.0.args.start' }]);
    expect(issues('prometheus.series', { match: ['up'], start: T0 })).toMatchObject([{ path: 'steps.0.args.end' }]);
  });

  it('refuses an end before the start, naming end', () => {
    expect(issues('prometheus.query_range', { query: 'up', start: T0, end: T0 - 1000, step: 15 })).toMatchObject([{ path: 'steps.0.args.end', message: 'is before start' }]);
  });

  it('refuses a step giving more than maxPoints points per series, naming step and the smallest step that fits', () => {
    // One hour at 15 s is 241 points; maxPoints is 100, so the step must be at least 3600/99 s.
    expect(issues('prometheus.query_range', { query: 'up', start: T0 - HOUR, end: T0, step: '15s' })).toMatchObject([
      { path: 'steps.0.args.step', message: expect.stringContaining('gives 241 points per series, more than connectors.prometheus.maxPoints (100); use a step of at least 37s') },
    ]);
    expect(issues('prometheus.query_range', { query: 'up', start: T0 - HOUR, end: T0, step: 37 })).toEqual([]);
  });

  it('refuses a check without a bound, or with bounds no value could pass', () => {
    expect(issues('prometheus.check', { query: 'up' })).toMatchObject([{ path: 'steps.0.args.below', message: expect.stringContaining('give below, above, or both') }]);
    expect(issues('prometheus.check', { query: 'up', below: 1, above: 2 })).toMatchObject([{ path: 'steps.0.args.above' }]);
    expect(issues('prometheus.check', { query: 'up', below: 0.05 })).toEqual([]);
  });

  it('refuses a step that is neither seconds nor a Prometheus duration', () => {
    for (const step of ['15x', '1m15', '', 0, -5]) expect(issues('prometheus.query_range', { query: 'up', start: T0 - HOUR, end: T0, step }), String(step)).toMatchObject([{ path: 'steps.0.args.step' }]);
  });

  it('describes every tool as a read with JSON Schemas, for GET /v1/tools and MCP', () => {
    const described = catalog.describe();
    expect(described.map((tool) => [tool.name, tool.risk, tool.idempotent, tool.permission])).toEqual([
      ['prometheus.alerts', 'read', true, 'prometheus:read'],
      ['prometheus.check', 'read', true, 'prometheus:read'],
      ['prometheus.query', 'read', true, 'prometheus:read'],
      ['prometheus.query_range', 'read', true, 'prometheus:read'],
      ['prometheus.series', 'read', true, 'prometheus:read'],
    ]);
    const range = described.find((tool) => tool.name === 'prometheus.query_range')!;
    expect(range.inputSchema).toMatchObject({ required: ['query', 'start', 'end', 'step'], additionalProperties: false });
  });

  it('parses Prometheus durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1w2d')).toBe(9 * 86_400_000);
    expect(parseDuration('30m1h')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });

  it('refuses to start when the variable holding the token is unset, naming the key', () => {
    let error: unknown;
    try {
      createPrometheusConnector(config({ bearerTokenEnv: 'PROMETHEUS_TOKEN' }));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InterlockError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', details: { issues: [{ path: 'connectors.prometheus.bearerTokenEnv' }] } });
  });
});

describe('prometheus connector: results are normalised from what Prometheus sends', () => {
  const caps = { maxSeries: 100, maxSamples: 10_000 };
  const query = (name: string) => readPrometheusResponse(recordedResponse(name), QueryResponse, '/api/v1/query');

  it('turns an instant vector into labelled series of [ms, number]', () => {
    const body = query('query-vector');
    const result = normalizeQueryData(body.data, body.warnings ?? [], caps);
    expect(result).toMatchObject({ resultType: 'vector', truncated: false, omitted: { series: 0, samples: 0 }, warnings: [] });
    const checkout = result.series.find((series) => series.labels.service === 'checkout');
    expect(checkout?.labels).toMatchObject({ __name__: 'demo_queue_depth', job: 'test' });
    expect(checkout?.values).toHaveLength(1);
    const [ms, value] = checkout!.values[0]!;
    expect(value).toBe(42);
    expect(Number.isInteger(ms)).toBe(true);
    expect(ms).toBe(Math.round((body.data.result as Array<{ value: [number, string] }>)[0]!.value[0] * 1000));
    expect(QueryResult.safeParse(result).success).toBe(true);
  });

  it('keeps NaN and ±Inf as explicit strings that survive JSON', () => {
    const body = query('query-nan-inf');
    const result = normalizeQueryData(body.data, [], caps);
    const byKind = Object.fromEntries(result.series.map((series) => [series.labels.kind, series.values[0]?.[1]]));
    expect(byKind).toEqual({ nan: 'NaN', inf: '+Inf', ninf: '-Inf' });
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    expect(QueryResult.safeParse(result).success).toBe(true);
  });

  it('returns a scalar as one unlabelled series and a string as a warning', () => {
    const scalar = query('query-scalar');
    expect(normalizeQueryData(scalar.data, [], caps)).toMatchObject({ resultType: 'scalar', series: [{ labels: {}, values: [[expect.any(Number), 45]] }] });
    const text = query('query-string');
    expect(normalizeQueryData(text.data, [], caps)).toMatchObject({ resultType: 'string', series: [], warnings: ['The query returned the string "hello", not samples.'] });
  });

  it('returns a whole range result when it is within the caps', () => {
    const body = query('query-range');
    const result = normalizeQueryData(body.data, [], caps);
    expect(result.resultType).toBe('matrix');
    expect(result.series.map((series) => series.labels.route)).toEqual(['/a', '/b', '/c', '/d', '/e']);
    for (const series of result.series) {
      expect(series.values.length).toBeGreaterThan(1);
      const times = series.values.map(([ms]) => ms);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(series.values.every(([, value]) => typeof value === 'number')).toBe(true);
    }
    expect(result).toMatchObject({ truncated: false, omitted: { series: 0, samples: 0 } });
  });

  it('cuts a result to maxSeries and says how much it left out', () => {
    const body = query('query-range');
    const full = normalizeQueryData(body.data, [], caps);
    const result = normalizeQueryData(body.data, [], { maxSeries: 2, maxSamples: 10_000 });
    expect(result.series).toEqual(full.series.slice(0, 2));
    const left = full.series.slice(2);
    expect(result).toMatchObject({ truncated: true, omitted: { series: left.length, samples: left.reduce((sum, series) => sum + series.values.length, 0) } });
  });

  it('cuts a result to maxSamples, the crossing series keeping its earliest samples', () => {
    const body = query('query-range');
    const full = normalizeQueryData(body.data, [], caps);
    const perSeries = full.series[0]!.values.length;
    const total = full.series.reduce((sum, series) => sum + series.values.length, 0);
    const result = normalizeQueryData(body.data, [], { maxSeries: 100, maxSamples: perSeries + 2 });
    expect(result.series).toHaveLength(2);
    expect(result.series[0]).toEqual(full.series[0]);
    expect(result.series[1]!.values).toEqual(full.series[1]!.values.slice(0, 2));
    expect(result.truncated).toBe(true);
    expect(result.omitted).toEqual({ series: full.series.length - 2, samples: total - perSeries - 2 });
    expect(result.series.reduce((sum, series) => sum + series.values.length, 0)).toBe(perSeries + 2);
  });

  it('reads a series answer', () => {
    const body = readPrometheusResponse(recordedResponse('series'), SeriesResponse, '/api/v1/series');
    expect(body.data.map((labels) => labels.service).sort()).toEqual(['billing', 'checkout']);
  });
});

describe('prometheus connector: errors say whose fault and whether to retry', () => {
  const failure = (response: HttpApiResponse): ConnectorError => connectorErrorOf(() => readPrometheusResponse(response, QueryResponse, '/api/v1/query'));

  it('maps bad_data and execution errors to non-retryable TOOL_FAILED quoting Prometheus', () => {
    expect(failure(recordedResponse('error-bad-data'))).toMatchObject({
      code: 'TOOL_FAILED', system: 'prometheus', systemStatus: 400, retryable: false, outcomeUnknown: false,
      details: { errorType: 'bad_data' }, message: expect.stringContaining('parse error: unclosed left parenthesis'),
    });
    expect(failure(recordedResponse('error-execution'))).toMatchObject({ code: 'TOOL_FAILED', systemStatus: 422, retryable: false, details: { errorType: 'execution' } });
  });

  it('maps a query timeout to a retryable TOOL_FAILED', () => {
    expect(failure(recordedResponse('error-timeout'))).toMatchObject({ code: 'TOOL_FAILED', systemStatus: 503, retryable: true, details: { errorType: 'timeout' } });
  });

  it('maps a plain-text 404 to a non-retryable error pointing at the URL', () => {
    expect(failure(recordedResponse('error-not-found'))).toMatchObject({ systemStatus: 404, retryable: false, message: expect.stringContaining('connectors.prometheus.url') });
  });

  it('retries HTTP 5xx and 429 without an API body, not 401', () => {
    expect(failure({ status: 502, json: undefined, text: 'Bad Gateway' })).toMatchObject({ retryable: true, systemStatus: 502 });
    expect(failure({ status: 429, json: undefined, text: '' })).toMatchObject({ retryable: true });
    expect(failure({ status: 401, json: undefined, text: 'Unauthorized' })).toMatchObject({ retryable: false, message: expect.stringContaining('bearerTokenEnv') });
  });

  it('refuses a 200 that is not an API v1 answer', () => {
    expect(failure({ status: 200, json: undefined, text: '<html>' })).toMatchObject({ retryable: false, message: expect.stringContaining('not JSON') });
    expect(failure({ status: 200, json: { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[1, 2]] }] } }, text: '' })).toMatchObject({ retryable: false, message: expect.stringContaining('unexpected shape') });
  });

  it('refuses a sample value that is not a number', () => {
    const data = { resultType: 'vector' as const, result: [{ metric: {}, value: [1_700_000_000, 'forty'] as [number, string] }] };
    expect(() => normalizeQueryData(data, [], { maxSeries: 1, maxSamples: 1 })).toThrow(ConnectorError);
  });
});
