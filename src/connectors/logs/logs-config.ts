import { z } from 'zod';
import { createLogLineFormat } from '../../core/diagnosis/log-format.js';
import { checkHttpApiConfig, httpApiConfigShape, type HttpSecrets } from '../shared/http-config.js';

/** Name of a configured log file: a lowercase slug, unique. */
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** A fixed UTC offset: `Z`, `+02:00`, `-0530`. */
export const UTC_OFFSET = /^(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$/;
/** A field of a JSON log record: a key, or a dotted path of keys (`log.level`). */
const JSON_FIELD = /^[A-Za-z_@$][A-Za-z0-9_@$-]{0,63}(?:\.[A-Za-z_@$][A-Za-z0-9_@$-]{0,63}){0,4}$/;

const utcOffset = z.string().regex(UTC_OFFSET, 'Z or a fixed offset such as +02:00').default('Z')
  .describe('Offset of times written without one (e.g. Loghub\'s 2015-10-18 18:01:47,978). Default Z (UTC).');

/**
 * A Loghub-style line format (`src/core/diagnosis/log-format.ts`): fields in angle brackets, the text
 * between them a regular expression. `<Content>` is the message; the time comes from the fields
 * named by `time` (joined by a space); `<Level>` is the level when present.
 */
const PatternFormatSchema = z
  .object({
    type: z.literal('pattern'),
    pattern: z.string().min(1).max(500).describe('E.g. `<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>`.'),
    time: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a field name')).min(1).max(4).optional()
      .describe('Fields holding the time, joined by a space. Default: [Timestamp] if the pattern has it, else [Date, Time].'),
    utcOffset,
  })
  .strict()
  .superRefine((format, ctx) => {
    let fields: readonly string[];
    try {
      fields = createLogLineFormat(format.pattern).fields;
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], input: format.pattern, params: { expected: 'a Loghub format such as "<Date> <Time> <Level> <Content>"' }, message: error instanceof Error ? error.message : String(error) });
      return;
    }
    if (!fields.includes('Content')) ctx.addIssue({ code: 'custom', path: ['pattern'], input: format.pattern, params: { expected: 'a pattern with a <Content> field (the message)' }, message: 'has no <Content> field' });
    const time = format.time ?? defaultTimeFields(fields);
    if (time === undefined) {
      ctx.addIssue({ code: 'custom', path: ['time'], input: format.pattern, params: { expected: 'the fields holding the time, e.g. [Date, Time]' }, message: 'is required: the pattern has neither <Timestamp> nor <Date> and <Time>' });
      return;
    }
    time.forEach((field, index) => {
      if (!fields.includes(field)) ctx.addIssue({ code: 'custom', path: ['time', index], input: field, params: { expected: `one of the pattern's fields: ${fields.join(', ')}` }, message: 'is not a field of the pattern' });
    });
  });

/** JSON Lines: one object per line, with the time, level and message at the configured keys. */
const JsonFormatSchema = z
  .object({
    type: z.literal('json'),
    timeField: z.string().regex(JSON_FIELD, 'a key or a dotted path of keys').default('time').describe('Key of the time: RFC 3339 text or a number (Unix s, ms, µs or ns by size).'),
    levelField: z.string().regex(JSON_FIELD, 'a key or a dotted path of keys').default('level').describe('Key of the level: text, or a pino number (30 = info, 50 = error).'),
    messageField: z.string().regex(JSON_FIELD, 'a key or a dotted path of keys').default('msg').describe('Key of the message.'),
    utcOffset,
  })
  .strict();

/** How the lines of a log file are split into time, level and message. */
export const LogFormatSchema = z.discriminatedUnion('type', [PatternFormatSchema, JsonFormatSchema]);

/** A value and everything inside it read-only, as `loadConfig` returns the configuration. */
type Frozen<T> = T extends readonly (infer E)[] ? ReadonlyArray<Frozen<E>> : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

/** A resolved log format. */
export type LogFormatConfig = Frozen<z.output<typeof LogFormatSchema>>;

/** The fields a pattern takes its time from when `time` is not set, or `undefined` when it cannot tell. */
export function defaultTimeFields(fields: readonly string[]): string[] | undefined {
  if (fields.includes('Timestamp')) return ['Timestamp'];
  if (fields.includes('Date') && fields.includes('Time')) return ['Date', 'Time'];
  return undefined;
}

/** One log file the connector may read. */
const LogFileSchema = z
  .object({
    name: z.string().regex(NAME, 'a lowercase slug: letters, digits, ".", "_" or "-", at most 63 characters')
      .describe('Its name in tool inputs and outputs (`files`, `source`).'),
    path: z.string().min(1).describe('The file, appended to by the service (or its supervisor).'),
    format: LogFormatSchema,
    service: z.string().min(1).max(200).optional().describe('The service that writes it (the `service` input selects files by it).'),
    rotated: z.boolean().default(true).describe('Also read `<path>.1` (its last rotation, uncompressed) when the window starts before the file does.'),
  })
  .strict();

/** A Loki label name. */
const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Grafana Loki, read through its HTTP API (`/loki/api/v1/query_range`): the keys every HTTP API
 * connector has (url, timeoutMs, maxResponseBytes, bearerTokenEnv, basicAuth), and Loki's own.
 */
const LokiConfigSchema = z
  .object({
    ...httpApiConfigShape({ url: 'http://127.0.0.1:3100', system: 'Loki' }),
    tenant: z.string().min(1).max(200).regex(/^[!-~]+$/, 'printable ASCII without spaces').optional().describe('Sent as X-Scope-OrgID (multi-tenant Loki).'),
    serviceLabel: z.string().regex(LABEL, 'a Loki label name').default('service_name').describe('Label selecting a service\'s streams when the `service` input is given.'),
    maxEntries: z.int().min(1).max(100_000).default(5000).describe('Most entries one query asks for: Loki\'s max_entries_limit_per_query.'),
  })
  .strict()
  .superRefine(checkHttpApiConfig);

/**
 * Configuration of the logs connector: the log files it may read, Loki when it is there, and the
 * bounds of every call (docs/connectors/logs.md).
 */
export const LogsConfigSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Put logs.query and logs.templates in the catalog.'),
    files: z.array(LogFileSchema).max(100).default([])
      // Checked even when an item has other problems (`when`), so every problem is listed at once.
      .check(z.superRefine((files: unknown, ctx) => {
        if (!Array.isArray(files)) return;
        const seen = new Set<string>();
        (files as unknown[]).forEach((file, index) => {
          const name = (file as { name?: unknown } | null)?.name;
          if (typeof name !== 'string') return;
          if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], input: name, params: { expected: 'a name no other log file has' }, message: 'is the name of another log file' });
          seen.add(name);
        });
      }, { when: () => true }))
      .describe('Log files the tools may read; no other file is ever opened.'),
    loki: LokiConfigSchema.optional().describe('Grafana Loki; unset: files only.'),
    maxLines: z.int().min(1).max(10_000).default(1000).describe('Most lines logs.query returns.'),
    maxReadBytes: z.int().min(4096).max(1_073_741_824).default(16 * 1_048_576).describe('Most bytes read from the end of one log file (with its rotation) per call.'),
    maxRangeMs: z.int().min(60_000).max(31 * 24 * 60 * 60 * 1000).default(24 * 60 * 60 * 1000).describe('Longest window one call may ask for, ms.'),
    maxTemplateLines: z.int().min(100).max(1_000_000).default(50_000).describe('Most lines logs.templates mines per call.'),
  })
  .strict();

/**
 * Configuration of the logs connector; `files[].path` absolute after `loadConfig`, Loki's credentials
 * read from the environment.
 */
export type LogsConfig = Frozen<Omit<z.output<typeof LogsConfigSchema>, 'loki'>> & { readonly loki?: (Frozen<z.output<typeof LokiConfigSchema>> & HttpSecrets) | undefined };
