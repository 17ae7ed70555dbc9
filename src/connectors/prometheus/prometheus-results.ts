// Pure pieces of the Prometheus connector: times and durations, the API v1 envelope, normalised and
// capped results, and the mapping of API errors to ConnectorError. No I/O, so unit tests run them on
// recorded real responses (test/fixtures/prometheus/).
import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import type { HttpApiResponse } from '../shared/http-client.js';

/** A sample value: a number, or Prometheus' spelling of the values JSON cannot hold. */
export const SampleValue = z.union([z.number(), z.enum(['NaN', '+Inf', '-Inf'])])
  .describe('The sample value; NaN and ±Inf as the strings "NaN", "+Inf", "-Inf".');
/** A sample value: a finite number, `'NaN'`, `'+Inf'` or `'-Inf'`. */
export type SampleValue = z.output<typeof SampleValue>;

/** A label set. */
export const Labels = z.record(z.string(), z.string());

/** One series of a normalised result. */
export const Series = z.object({
  labels: Labels.describe('The series labels, `__name__` included.'),
  values: z.array(z.tuple([z.int().describe('ms since the Unix epoch'), SampleValue])).describe('Samples, oldest first: [ms since the epoch, value].'),
});
export type Series = z.output<typeof Series>;

/** What was left out of a result to respect the caps. */
const Omitted = z.object({
  series: z.int().min(0).describe('Series left out entirely.'),
  samples: z.int().min(0).describe('Samples left out, those of left-out series included.'),
});

/** A query result as the tools return it. */
export const QueryResult = z.object({
  resultType: z.enum(['vector', 'matrix', 'scalar', 'string']),
  series: z.array(Series).describe('A scalar is one series with no labels; a string result has none (see warnings).'),
  truncated: z.boolean().describe('True when series or samples were left out (see omitted).'),
  omitted: Omitted,
  warnings: z.array(z.string()).describe("Prometheus' warnings and the connector's notes (native histograms left out, a string result)."),
});
export type QueryResult = z.output<typeof QueryResult>;

// --- Times and durations ------------------------------------------------------------------------

/** 2000-01-01T00:00:00Z in ms: an earlier "ms" timestamp is almost certainly seconds. */
const MIN_EPOCH_MS = 946_684_800_000;

/**
 * A point in time: an RFC 3339 date-time (`2026-05-01T12:00:00Z`, `…+02:00`) or ms since the Unix
 * epoch (an integer from 2000 on, so seconds by mistake are refused).
 */
export const TimeInput = z.union([
  z.iso.datetime({ offset: true, error: 'an RFC 3339 date-time, e.g. 2026-05-01T12:00:00Z' }),
  z.int().min(MIN_EPOCH_MS, { error: 'ms since the Unix epoch (this looks like seconds: multiply by 1000)' }).max(8_640_000_000_000_000),
], { error: 'an RFC 3339 date-time or ms since the Unix epoch' });

/** ms since the epoch of a valid {@link TimeInput}. */
export function toMs(time: string | number): number {
  return typeof time === 'number' ? time : Date.parse(time);
}

/** A Prometheus duration: `1h30m`, `15s`, `500ms` (units y, w, d, h, m, s, ms, largest first). */
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNITS_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];

/**
 * ms of a Prometheus duration string (`1h30m`, `15s`, `500ms`), or undefined when it is not one.
 * @see https://prometheus.io/docs/prometheus/latest/querying/basics/#float-literals-and-time-durations
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (match === null || text === '') return undefined;
  return DURATION_UNITS_MS.reduce((sum, unit, index) => sum + Number(match[index + 1] ?? 0) * unit, 0);
}

/** A query resolution step: seconds (a number, fractions allowed down to 1 ms) or a Prometheus duration. */
export const StepInput = z.union([
  z.number().min(0.001, { error: 'at least 0.001 seconds (1 ms)' }).max(365 * 86_400),
  z.string().refine((text) => (parseDuration(text) ?? 0) >= 1, { error: 'a Prometheus duration of at least 1ms, e.g. 15s, 1m, 1h30m' }),
], { error: 'seconds (a number) or a Prometheus duration such as 15s or 1m' });

/** ms of a valid {@link StepInput}. */
export function stepToMs(step: number | string): number {
  return typeof step === 'number' ? Math.round(step * 1000) : (parseDuration(step) ?? Number.NaN);
}

/** ms as the seconds Prometheus takes (`1795266866.619`). */
export function toPrometheusTime(ms: number): string {
  return (ms / 1000).toFixed(3).replace(/\.?0+$/, '');
}

// --- The API v1 envelope -------------------------------------------------------------------------

const RawSample = z.tuple([z.number(), z.string()]);
const RawSeries = z.object({
  metric: Labels,
  value: RawSample.optional(),
  values: z.array(RawSample).optional(),
  histogram: z.unknown().optional(),
  histograms: z.array(z.unknown()).optional(),
});
const RawQueryData = z.discriminatedUnion('resultType', [
  z.object({ resultType: z.literal('vector'), result: z.array(RawSeries) }),
  z.object({ resultType: z.literal('matrix'), result: z.array(RawSeries) }),
  z.object({ resultType: z.literal('scalar'), result: RawSample }),
  z.object({ resultType: z.literal('string'), result: RawSample }),
]);
const Success = <T extends z.ZodType>(data: T) => z.object({ status: z.literal('success'), data, warnings: z.array(z.string()).optional() });
const ErrorBody = z.object({ status: z.literal('error'), errorType: z.string(), error: z.string(), warnings: z.array(z.string()).optional() });

/** `data` and `warnings` of a successful `/query` or `/query_range` answer. */
export const QueryResponse = Success(RawQueryData);
/** A successful `/series` answer. */
export const SeriesResponse = Success(z.array(Labels));
/** A successful `/alerts` answer. */
export const AlertsResponse = Success(z.object({
  alerts: z.array(z.object({
    labels: Labels,
    annotations: Labels,
    state: z.string(),
    activeAt: z.string().optional(),
    value: z.string(),
  })),
}));

/** Prometheus error types a later identical call may get past (`timeout`, `canceled`, `unavailable`). */
const RETRYABLE_ERROR_TYPES = new Set(['timeout', 'canceled', 'unavailable']);

/**
 * The answer's data when it is a success of the expected shape.
 * @throws ConnectorError `TOOL_FAILED` for Prometheus' `{status:"error", errorType, error}` (retryable
 *   for `timeout`, `canceled`, `unavailable`; not for `bad_data`, `execution` and the rest), for HTTP
 *   errors without that body (retryable for 429 and 5xx), and (not retryable) for an answer that is
 *   not a Prometheus API v1 response.
 * @see https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview
 */
export function readPrometheusResponse<T extends z.ZodType>(response: HttpApiResponse, schema: T, endpoint: string): z.output<T> {
  const error = ErrorBody.safeParse(response.json);
  if (error.success) {
    const { errorType } = error.data;
    const retryable = RETRYABLE_ERROR_TYPES.has(errorType);
    const advice = retryable ? 'try again, or narrow the query' : errorType === 'bad_data' || errorType === 'execution' ? 'fix the query or its arguments' : 'check Prometheus';
    return fail(`Prometheus refused ${endpoint} (${errorType}): ${error.data.error}; ${advice}.`, response.status, retryable, { errorType });
  }
  if (response.status < 200 || response.status > 299) {
    if (response.status === 401 || response.status === 403) {
      return fail(`Prometheus refused the credentials for ${endpoint} (HTTP ${response.status}); check connectors.prometheus.bearerTokenEnv or basicAuth.`, response.status, false);
    }
    if (response.status === 404) {
      return fail(`Prometheus has no ${endpoint} (HTTP 404); check connectors.prometheus.url points at the Prometheus server (with its path prefix, if any).`, response.status, false);
    }
    const retryable = response.status === 429 || response.status >= 500;
    return fail(`Prometheus answered ${endpoint} with HTTP ${response.status}: ${response.text.trim() || '(empty body)'}${retryable ? '; try again' : ''}.`, response.status, retryable);
  }
  const parsed = schema.safeParse(response.json);
  if (!parsed.success) {
    return fail(`Prometheus answered ${endpoint} with something that is not an API v1 response (${response.json === undefined ? 'not JSON' : 'unexpected shape'}); check connectors.prometheus.url.`, response.status, false);
  }
  return parsed.data;
}

function fail(message: string, status: number, retryable: boolean, details: Record<string, unknown> = {}): never {
  throw new ConnectorError('TOOL_FAILED', message, { system: 'prometheus', status, retryable, details });
}

// --- Normalisation and caps ----------------------------------------------------------------------

/** Caps on what one result may hold. */
export interface ResultCaps {
  readonly maxSeries: number;
  readonly maxSamples: number;
}

/**
 * A sample value from Prometheus' string form: `"NaN"`, `"+Inf"`, `"-Inf"` kept as strings, anything
 * else a number. @throws ConnectorError `TOOL_FAILED` for a string that is not a number.
 */
export function toSampleValue(text: string): SampleValue {
  if (text === 'NaN' || text === '+Inf' || text === '-Inf') return text;
  if (text === 'Inf') return '+Inf';
  const value = Number(text);
  if (!Number.isFinite(value) || text.trim() === '') fail(`Prometheus returned the sample value ${JSON.stringify(text.slice(0, 40))}, which is not a number.`, 200, false);
  return value;
}

/** Prometheus' `[unixSeconds, "value"]` as `[ms, value]`. */
function toSample([seconds, text]: readonly [number, string]): [number, SampleValue] {
  return [Math.round(seconds * 1000), toSampleValue(text)];
}

/**
 * A `/query` or `/query_range` answer's data normalised: every series as `{ labels, values }` with
 * ms timestamps and numbers, a scalar as one series without labels, a string as a warning; then capped
 * at `maxSeries` series and `maxSamples` samples in Prometheus' order (the series that crosses the
 * sample cap keeps its earliest samples), with `truncated` and the counts left out. Native histogram
 * samples are left out with a warning.
 */
export function normalizeQueryData(data: z.output<typeof QueryResponse>['data'], warnings: readonly string[], caps: ResultCaps): QueryResult {
  const notes = [...warnings];
  let series: Series[];
  if (data.resultType === 'scalar') {
    series = [{ labels: {}, values: [toSample(data.result)] }];
  } else if (data.resultType === 'string') {
    series = [];
    notes.push(`The query returned the string ${JSON.stringify(data.result[1])}, not samples.`);
  } else {
    let histograms = 0;
    series = [];
    for (const raw of data.result) {
      histograms += (raw.histogram === undefined ? 0 : 1) + (raw.histograms?.length ?? 0);
      const samples = raw.values ?? (raw.value === undefined ? [] : [raw.value]);
      if (samples.length > 0 || (raw.histogram === undefined && raw.histograms === undefined)) series.push({ labels: raw.metric, values: samples.map(toSample) });
    }
    if (histograms > 0) notes.push(`${histograms} native histogram sample(s) left out: the connector returns float samples only; query e.g. histogram_quantile() or histogram_count() instead.`);
  }
  const capped = capSeries(series, caps);
  return { resultType: data.resultType, series: capped.series, truncated: capped.omitted.series > 0 || capped.omitted.samples > 0, omitted: capped.omitted, warnings: notes };
}

/** `series` cut to the caps, in order, with what was left out. */
export function capSeries(series: readonly Series[], caps: ResultCaps): { series: Series[]; omitted: { series: number; samples: number } } {
  const kept: Series[] = [];
  let budget = caps.maxSamples;
  let omittedSeries = 0;
  let omittedSamples = 0;
  for (const item of series) {
    if (kept.length >= caps.maxSeries || (budget === 0 && item.values.length > 0)) {
      omittedSeries += 1;
      omittedSamples += item.values.length;
      continue;
    }
    if (item.values.length > budget) {
      omittedSamples += item.values.length - budget;
      kept.push({ labels: item.labels, values: item.values.slice(0, budget) });
      budget = 0;
      continue;
    }
    kept.push(item);
    budget -= item.values.length;
  }
  return { series: kept, omitted: { series: omittedSeries, samples: omittedSamples } };
}
