import { z } from 'zod';
import { DEFAULT_RETRY, type AnyToolContract, type ToolContract } from '../../core/tools/tool.js';
import { createHttpApiClient, type HttpApiClient } from '../shared/http-client.js';
import { requireHttpSecrets } from '../shared/http-config.js';
import { evaluateCheck } from './prometheus-check.js';
import type { PrometheusConfig } from './prometheus-config.js';
import {
  AlertsResponse, capSeries, Labels, normalizeQueryData, QueryResponse, QueryResult, readPrometheusResponse, SampleValue, SeriesResponse,
  StepInput, stepToMs, TimeInput, toMs, toPrometheusTime, toSampleValue,
} from './prometheus-results.js';

/** Longest PromQL expression (or series selector) a call may send, characters. */
export const MAX_QUERY_LENGTH = 4096;

/** Time range a `prometheus.series` call covers when it names none: the last hour. */
const DEFAULT_SERIES_RANGE_MS = 60 * 60 * 1000;

const PromQL = z.string().max(MAX_QUERY_LENGTH, { error: `at most ${MAX_QUERY_LENGTH} characters` })
  .refine((text) => text.trim() !== '', { error: 'a PromQL expression, not empty' })
  .describe('A PromQL expression, e.g. rate(http_requests_total{service="checkout"}[5m]).');

const QueryInput = z.object({
  query: PromQL,
  time: TimeInput.optional().describe('Evaluation time: RFC 3339 or ms since the epoch. Default: now.'),
}).strict();

const QueryOutput = QueryResult.extend({ time: z.int().describe('Evaluation time, ms since the Unix epoch.') });

const CheckInput = z.object({
  query: PromQL,
  below: z.number().optional().describe('Every series\' value must be strictly below this.'),
  above: z.number().optional().describe('Every series\' value must be strictly above this.'),
  ifEmpty: z.enum(['pass', 'fail']).default('fail').describe('What an empty result means; by default no data is no proof (fail).'),
}).strict().superRefine((args, ctx) => {
  if (args.below === undefined && args.above === undefined) ctx.addIssue({ code: 'custom', path: ['below'], input: undefined, message: 'is missing: give below, above, or both', params: { expected: 'a number' } });
  if (args.below !== undefined && args.above !== undefined && !(args.above < args.below)) ctx.addIssue({ code: 'custom', path: ['above'], input: args.above, message: 'is not below `below`: no value could pass', params: { expected: `a number below ${args.below}` } });
});

const CheckOutput = z.object({
  ok: z.boolean().describe('True when every series is within the bounds (or the result is empty and ifEmpty is pass).'),
  observed: z.string().describe('What was observed, in words: the series outside the bounds, or that all are within.'),
  time: z.int().describe('Evaluation time, ms since the Unix epoch.'),
  series: z.array(z.object({ labels: Labels, value: SampleValue.nullable() })).describe('Each series\' value (the first maxSeries).'),
});

const RangeOutput = QueryResult.extend({
  start: z.int().describe('ms since the Unix epoch'),
  end: z.int().describe('ms since the Unix epoch'),
  stepMs: z.int().describe('Resolution step, ms.'),
});

const SeriesOutput = z.object({
  series: z.array(Labels).describe('Label sets of the matching series.'),
  start: z.int().describe('ms since the Unix epoch'),
  end: z.int().describe('ms since the Unix epoch'),
  truncated: z.boolean(),
  omitted: z.object({ series: z.int().min(0) }),
});

const AlertsInput = z.object({}).strict();
const AlertsOutput = z.object({
  alerts: z.array(z.object({
    labels: Labels,
    annotations: Labels,
    state: z.string().describe('pending or firing.'),
    activeAt: z.int().nullable().describe('When the alert became pending, ms since the Unix epoch.'),
    value: SampleValue.describe('Value of the alert expression at the last evaluation.'),
  })),
  truncated: z.boolean(),
  omitted: z.object({ alerts: z.int().min(0) }),
});

/**
 * The Prometheus connector: read-only evidence tools over the Prometheus HTTP API v1, with guard
 * rails from `config`: a range longer than `maxRangeMs` or a step giving more than `maxPoints`
 * points per series is refused by the input schema (TOOL_ARGS_INVALID naming the field) before any
 * request; results hold at most `maxSeries` series and `maxSamples` samples, the rest counted in
 * `omitted` with `truncated: true`.
 *
 * Tools: `prometheus.query` (instant query), `prometheus.query_range`, `prometheus.series` (label sets
 * matching selectors), `prometheus.alerts` (alerting rules' pending and firing alerts). All risk
 * `read`, idempotent, permission `prometheus:read`, retried on retryable failures.
 *
 * @throws ConfigError `CONFIG_INVALID` when a credential's environment variable is unset.
 * @see https://prometheus.io/docs/prometheus/latest/querying/api/
 */
export function createPrometheusConnector(config: PrometheusConfig): AnyToolContract[] {
  const client: HttpApiClient = createHttpApiClient({
    system: 'prometheus',
    url: config.url,
    timeoutMs: config.timeoutMs,
    maxResponseBytes: config.maxResponseBytes,
    headers: requireHttpSecrets('connectors.prometheus', config),
  });
  const caps = { maxSeries: config.maxSeries, maxSamples: config.maxSamples };
  // Prometheus stops evaluating when our request would have timed out anyway.
  const evaluationTimeout = `${config.timeoutMs}ms`;
  // A little over the HTTP timeout, so the client's own, more precise error wins the race.
  const timeoutMs = config.timeoutMs + 1000;

  /**
   * Issues for a range: start <= end, end − start <= maxRangeMs, and (with a step) points <= maxPoints.
   * Zod runs this even when a field failed its own check: such a field is left to that check.
   */
  const checkRange = (raw: { start: unknown; end: unknown; step?: unknown }, ctx: z.RefinementCtx): void => {
    const start = TimeInput.safeParse(raw.start);
    const end = TimeInput.safeParse(raw.end);
    if (!start.success || !end.success) return;
    const step = raw.step === undefined ? undefined : StepInput.safeParse(raw.step);
    if (step?.success === false) return;
    const range = { start: toMs(start.data), end: toMs(end.data), stepMs: step === undefined ? undefined : stepToMs(step.data) };
    const span = range.end - range.start;
    if (span < 0) {
      ctx.addIssue({ code: 'custom', path: ['end'], input: range.end, message: 'is before start', params: { expected: 'a time at or after start' } });
      return;
    }
    if (span > config.maxRangeMs) {
      ctx.addIssue({ code: 'custom', path: ['start'], input: range.start, message: `the range end − start is ${span} ms, longer than connectors.prometheus.maxRangeMs (${config.maxRangeMs} ms); move start later`, params: { expected: `a start at most ${config.maxRangeMs} ms before end` } });
    }
    if (range.stepMs !== undefined) {
      const points = Math.floor(span / range.stepMs) + 1;
      if (points > config.maxPoints) {
        const minimum = Math.ceil(span / Math.max(config.maxPoints - 1, 1) / 1000);
        ctx.addIssue({ code: 'custom', path: ['step'], input: range.stepMs / 1000, message: `gives ${points} points per series, more than connectors.prometheus.maxPoints (${config.maxPoints}); use a step of at least ${minimum}s or a shorter range`, params: { expected: `a step of at least ${minimum}s` } });
      }
    }
  };

  const RangeInput = z.object({
    query: PromQL,
    start: TimeInput.describe('Start of the range (inclusive): RFC 3339 or ms since the epoch.'),
    end: TimeInput.describe('End of the range (inclusive): RFC 3339 or ms since the epoch.'),
    step: StepInput.describe('Resolution step: seconds, or a Prometheus duration such as 15s or 1m.'),
  }).strict().superRefine((args, ctx) => checkRange(args, ctx));

  const SeriesInput = z.object({
    match: z.array(PromQL.describe('A series selector, e.g. up{job="api"}.')).min(1).max(20).describe('Series selectors; a series matching any of them is returned.'),
    start: TimeInput.optional().describe('Start of the range: RFC 3339 or ms since the epoch; with end, or neither (the last hour).'),
    end: TimeInput.optional().describe('End of the range: RFC 3339 or ms since the epoch; with start, or neither (the last hour).'),
  }).strict().superRefine((args, ctx) => {
    if (args.start !== undefined && args.end !== undefined) checkRange({ start: args.start, end: args.end }, ctx);
    else if (args.start !== undefined || args.end !== undefined) {
      const missing = args.start === undefined ? 'start' : 'end';
      ctx.addIssue({ code: 'custom', path: [missing], input: undefined, message: 'is missing: give start and end together, or neither (the last hour)', params: { expected: 'an RFC 3339 date-time or ms since the epoch' } });
    }
  });

  const query: ToolContract<z.output<typeof QueryInput>, z.output<typeof QueryOutput>> = {
    name: 'prometheus.query',
    description: 'Evaluates a PromQL expression at one instant (default now) and returns each series\' labels and value.',
    input: QueryInput,
    output: QueryOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    permission: 'prometheus:read',
    retry: DEFAULT_RETRY,
    async execute(args, context) {
      const time = args.time === undefined ? Date.now() : toMs(args.time);
      const response = await client.postForm('/api/v1/query', { query: args.query, time: toPrometheusTime(time), timeout: evaluationTimeout }, context.signal);
      const body = readPrometheusResponse(response, QueryResponse, '/api/v1/query');
      return { ...normalizeQueryData(body.data, body.warnings ?? [], caps), time };
    },
  };

  const queryRange: ToolContract<z.output<typeof RangeInput>, z.output<typeof RangeOutput>> = {
    name: 'prometheus.query_range',
    description: 'Evaluates a PromQL expression over a time range at a fixed step and returns each series\' samples.',
    input: RangeInput,
    output: RangeOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    permission: 'prometheus:read',
    retry: DEFAULT_RETRY,
    async execute(args, context) {
      const start = toMs(args.start);
      const end = toMs(args.end);
      const stepMs = stepToMs(args.step);
      const response = await client.postForm('/api/v1/query_range', {
        query: args.query, start: toPrometheusTime(start), end: toPrometheusTime(end), step: toPrometheusTime(stepMs), timeout: evaluationTimeout,
      }, context.signal);
      const body = readPrometheusResponse(response, QueryResponse, '/api/v1/query_range');
      return { ...normalizeQueryData(body.data, body.warnings ?? [], caps), start, end, stepMs };
    },
  };

  const series: ToolContract<z.output<typeof SeriesInput>, z.output<typeof SeriesOutput>> = {
    name: 'prometheus.series',
    description: 'Lists the label sets of the series matching selectors within a time range (default the last hour).',
    input: SeriesInput,
    output: SeriesOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    permission: 'prometheus:read',
    retry: DEFAULT_RETRY,
    async execute(args, context) {
      const end = args.end === undefined ? Date.now() : toMs(args.end);
      const start = args.start === undefined ? end - Math.min(DEFAULT_SERIES_RANGE_MS, config.maxRangeMs) : toMs(args.start);
      const response = await client.postForm('/api/v1/series', { 'match[]': args.match, start: toPrometheusTime(start), end: toPrometheusTime(end) }, context.signal);
      const body = readPrometheusResponse(response, SeriesResponse, '/api/v1/series');
      const capped = capSeries(body.data.map((labels) => ({ labels, values: [] })), caps);
      return { series: capped.series.map((item) => item.labels), start, end, truncated: capped.omitted.series > 0, omitted: { series: capped.omitted.series } };
    },
  };

  const alerts: ToolContract<z.output<typeof AlertsInput>, z.output<typeof AlertsOutput>> = {
    name: 'prometheus.alerts',
    description: "Lists the pending and firing alerts of Prometheus' alerting rules, with labels, annotations and values.",
    input: AlertsInput,
    output: AlertsOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    permission: 'prometheus:read',
    retry: DEFAULT_RETRY,
    async execute(_args, context) {
      const response = await client.get('/api/v1/alerts', {}, context.signal);
      const body = readPrometheusResponse(response, AlertsResponse, '/api/v1/alerts');
      const all = body.data.alerts;
      const kept = all.slice(0, config.maxSeries).map((alert) => {
        const activeAt = alert.activeAt === undefined ? Number.NaN : Date.parse(alert.activeAt);
        return { labels: alert.labels, annotations: alert.annotations, state: alert.state, activeAt: Number.isNaN(activeAt) ? null : activeAt, value: toSampleValue(alert.value) };
      });
      return { alerts: kept, truncated: all.length > kept.length, omitted: { alerts: all.length - kept.length } };
    },
  };

  const check: ToolContract<z.output<typeof CheckInput>, z.output<typeof CheckOutput>> = {
    name: 'prometheus.check',
    description: 'Evaluates a PromQL expression now and says whether every series is below and/or above a threshold: the verification a runbook re-runs over a window.',
    input: CheckInput,
    output: CheckOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    permission: 'prometheus:read',
    retry: DEFAULT_RETRY,
    async execute(args, context) {
      const time = Date.now();
      const response = await client.postForm('/api/v1/query', { query: args.query, time: toPrometheusTime(time), timeout: evaluationTimeout }, context.signal);
      const body = readPrometheusResponse(response, QueryResponse, '/api/v1/query');
      const result = normalizeQueryData(body.data, body.warnings ?? [], caps);
      const outcome = evaluateCheck(result.series, args);
      // A truncated result is not all of it: a check never passes on part of the data.
      const ok = outcome.ok && !result.truncated;
      return {
        ok,
        observed: outcome.ok && result.truncated ? `${outcome.observed}; but the result was truncated at connectors.prometheus.maxSeries, so not every series was seen` : outcome.observed,
        time,
        series: result.series.map((item) => ({ labels: item.labels, value: item.values.at(-1)?.[1] ?? null })),
      };
    },
  };

  return [query, queryRange, series, alerts, check];
}

