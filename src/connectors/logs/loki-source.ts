import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import type { HttpApiClient } from '../shared/http-client.js';
import type { LogsConfig } from './logs-config.js';
import { capMessage, type LogEntry, type PartRead, type SourceRead, type WindowPart } from './log-window.js';

/**
 * Reading log entries from Grafana Loki's HTTP API: one `GET /loki/api/v1/query_range` per window
 * part, with a LogQL log query (a stream selector and line filters), `start`/`end` in ns (`end`
 * excluded), `limit` and `direction`.
 *
 * @see https://grafana.com/docs/loki/latest/reference/loki-http-api/#query-logs-within-a-range-of-time
 */

/** Loki's settings as the connector uses them: `bearerToken` from the variable `bearerTokenEnv` names. */
export type LokiConfig = NonNullable<LogsConfig['loki']>;

/** An entry of a stream: `[ns, line]`, or `[ns, line, { structuredMetadata?, parsed? }]` with `categorize-labels`. */
const EntrySchema = z.union([
  z.tuple([z.string().regex(/^\d{1,20}$/), z.string()]),
  z.tuple([z.string().regex(/^\d{1,20}$/), z.string(), z.object({ structuredMetadata: z.record(z.string(), z.string()).optional(), parsed: z.record(z.string(), z.string()).optional() })]),
]);

/** The part of a `query_range` answer for a log query that the connector reads. */
const QueryRangeResponseSchema = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('streams'),
    result: z.array(z.object({ stream: z.record(z.string(), z.string()), values: z.array(EntrySchema) })),
  }),
});

/** A LogQL stream selector: `{label="value", label=~"re", ...}`; nothing else (no pipeline, no metric query). */
export const STREAM_SELECTOR = /^\{\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\\n]|\\.){0,500}"|`[^`]{0,500}`)\s*(?:,\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\\n]|\\.){0,500}"|`[^`]{0,500}`)\s*){0,19})?\}$/;

/** What to ask Loki. */
export interface LokiQuery {
  /** The LogQL log query: a stream selector and line filters. */
  readonly logql: string;
  readonly parts: readonly WindowPart[];
  /** The level filter, applied to the returned entries. */
  readonly levels?: readonly string[] | undefined;
  readonly signal: AbortSignal;
}

/** The level of a Loki entry: the `level` or `detected_level` of its labels, structured metadata or parsed labels. */
function levelOf(labels: Readonly<Record<string, string>>, meta: { structuredMetadata?: Record<string, string> | undefined; parsed?: Record<string, string> | undefined } | undefined): string | null {
  for (const source of [labels, meta?.structuredMetadata, meta?.parsed]) {
    const level = source?.level ?? source?.detected_level;
    if (level !== undefined) return level;
  }
  return null;
}

/**
 * Runs one query per part against Loki through `client` (the shared HTTP API client: credentials,
 * timeout, answer size). A part asking for more than `maxEntries` entries asks for `maxEntries`; a
 * part whose answer has as many entries as it asked for is marked truncated (Loki does not say
 * whether there were more).
 *
 * Throws `TOOL_FAILED` (system `loki`) when Loki answers an error status (retryable for 429 and 5xx;
 * the message quotes Loki's own text, e.g. a LogQL parse error or `max entries limit per query
 * exceeded`) or something that is not a streams result (not retryable); the client's errors when it
 * cannot be reached or does not answer in time.
 */
export async function readLoki(client: HttpApiClient, config: LokiConfig, query: LokiQuery): Promise<SourceRead> {
  const levels = query.levels === undefined ? undefined : new Set(query.levels.map((level) => level.toLowerCase()));
  const notes: string[] = [];
  const parts: PartRead[] = [];
  for (const part of query.parts) {
    const limit = Math.min(part.max, config.maxEntries);
    const response = await client.get('/loki/api/v1/query_range', {
      query: query.logql,
      start: `${BigInt(part.from) * 1_000_000n}`,
      end: `${(BigInt(part.to) + 1n) * 1_000_000n}`,
      limit: String(limit),
      direction: part.keep === 'newest' ? 'backward' : 'forward',
    }, query.signal);
    if (response.status < 200 || response.status > 299) {
      const said = response.text.trim();
      const hint = response.status === 401 || response.status === 403 ? ' (check connectors.logs.loki credentials and tenant)' : '';
      throw new ConnectorError('TOOL_FAILED', `Loki answered ${response.status}${hint}: ${said === '' ? '(no body)' : said}`, {
        system: 'loki', status: response.status, retryable: response.status === 429 || response.status >= 500,
      });
    }
    const parsed = QueryRangeResponseSchema.safeParse(response.json);
    if (!parsed.success) {
      throw new ConnectorError('TOOL_FAILED', 'Loki answered /loki/api/v1/query_range with something that is not a streams result (status success, resultType streams); check connectors.logs.loki.url.', {
        system: 'loki', status: response.status, retryable: false, details: { issues: parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.')}: ${issue.message}`) },
      });
    }
    const entries: LogEntry[] = [];
    let returned = 0;
    for (const stream of parsed.data.data.result) {
      for (const value of stream.values) {
        returned++;
        const level = levelOf(stream.stream, value[2]);
        if (levels !== undefined && (level === null || !levels.has(level.toLowerCase()))) continue;
        const time = Number(BigInt(value[0]) / 1_000_000n);
        if (time < part.from || time > part.to) continue;
        entries.push({ time, level, message: capMessage(value[1]), source: 'loki', service: stream.stream[config.serviceLabel] ?? null, labels: stream.stream });
      }
    }
    entries.sort((a, b) => a.time - b.time);
    const truncated = returned >= limit;
    if (truncated) notes.push(`loki: the query returned ${limit} entries, its limit; there may be more in the window.`);
    parts.push({ entries, truncated });
  }
  return { parts, notes };
}
