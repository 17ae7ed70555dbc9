import { z } from 'zod';
import { findLogNovelties, looksLikeError, type LogLine } from '../../core/diagnosis/log-novelty.js';
import { createLogTemplateMiner } from '../../core/diagnosis/log-templates.js';
import { InputError } from '../../core/errors.js';
import { DEFAULT_RETRY, type AnyToolContract, type ToolContract } from '../../core/tools/tool.js';
import { createHttpApiClient } from '../shared/http-client.js';
import { requireHttpSecrets, type AuthorizationHeader } from '../shared/http-config.js';
import { InstantSchema, instantMs, isoTime, refineWindow, resolveWindow, type TimeWindow } from '../shared/time-window.js';
import { readLogFile } from './file-source.js';
import type { LogsConfig } from './logs-config.js';
import { mergeReads, type LogEntry, type SourceRead, type WindowPart } from './log-window.js';
import { readLoki, STREAM_SELECTOR } from './loki-source.js';
import { createTextFilter, logqlLineFilters, logqlString, MAX_CONTAINS_LENGTH, MAX_REGEX_LENGTH, regexProblem } from './text-filter.js';

/** What the logs connector needs: its resolved configuration, and a clock and fetch for tests. */
export interface LogsConnectorOptions {
  readonly files: LogsConfig['files'];
  readonly loki?: LogsConfig['loki'];
  readonly maxLines: number;
  readonly maxReadBytes: number;
  readonly maxRangeMs: number;
  readonly maxTemplateLines: number;
  /** The clock, ms since the Unix epoch: the default `until`. @default Date.now */
  readonly now?: () => number;
}

/** Longest a logs tool call may run, ms (longer when two Loki requests need more). */
const TIMEOUT_MS = 30_000;
/** Templates or findings `logs.templates` returns by default, and at most. */
const DEFAULT_TEMPLATES = 20;
const MAX_TEMPLATES = 100;
/** Example messages per template. */
const MAX_EXAMPLES = 3;

const LineSchema = z.object({
  time: z.string().describe('RFC 3339, UTC.'),
  source: z.string().describe('The configured file\'s name, or loki.'),
  service: z.string().nullable(),
  level: z.string().nullable(),
  message: z.string(),
  labels: z.record(z.string(), z.string()).optional().describe('Loki: the stream labels.'),
});

const TemplateSchema = z.object({
  templateId: z.int(),
  template: z.string().describe('Drain template: <*> where messages differ, <:NUM:>, <:IP:> ... where masked.'),
  count: z.int(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  levels: z.record(z.string(), z.int()).describe('Lines by level (upper case; "" without one).'),
  looksLikeError: z.boolean(),
  examples: z.array(z.string()),
});

const FindingSchema = z.object({
  change: z.enum(['new', 'rose']),
  templateId: z.int(),
  template: z.string(),
  variantOf: z.string().nullable().describe('For a new variant of a template known before the onset: that template.'),
  baselineCount: z.int(),
  incidentCount: z.int(),
  baselinePerMinute: z.number(),
  incidentPerMinute: z.number(),
  rateRatio: z.number().nullable(),
  firstSeen: z.string(),
  examples: z.array(z.string()),
  looksLikeError: z.boolean(),
  levels: z.record(z.string(), z.int()),
});

const NoveltySchema = z.object({
  onset: z.string(),
  baselineLines: z.int(),
  incidentLines: z.int(),
  findings: z.array(FindingSchema).describe('Templates new or rising since the onset, ranked: error-looking first, then new before risen.'),
  omittedFindings: z.int(),
});

const Notes = z.array(z.string()).describe('What was left out and why, in sentences.');

/**
 * The logs connector: read-only tools over the logs of the estate, from configured files or Grafana
 * Loki.
 * - `logs.query`: the lines of a time window, filtered by text, RE2 pattern or level.
 * - `logs.templates`: the same window mined into Drain templates; with an `onset`, the templates new
 *   or rising since it (`src/core/diagnosis/log-novelty.ts`), ranked.
 *
 * Files are only ever the configured ones (and their `.1` rotation); every call is bounded by
 * `maxRangeMs`, `maxLines` / `maxTemplateLines` and `maxReadBytes`. docs/connectors/logs.md has the details.
 *
 * @throws ConfigError `CONFIG_INVALID` when Loki's credentials name an environment variable that is unset.
 */
export function createLogsConnector(options: LogsConnectorOptions): AnyToolContract[] {
  const now = options.now ?? Date.now;
  const { files, loki, maxLines, maxRangeMs, maxTemplateLines } = options;
  const lokiClient = loki === undefined ? undefined : createHttpApiClient({
    system: 'loki', url: loki.url, timeoutMs: loki.timeoutMs, maxResponseBytes: loki.maxResponseBytes,
    // The client sends its headers as given; a multi-tenant Loki reads the tenant from X-Scope-OrgID.
    headers: { ...requireHttpSecrets('connectors.logs.loki', loki), ...(loki.tenant === undefined ? {} : { 'x-scope-orgid': loki.tenant }) } as AuthorizationHeader,
  });
  const sources = [...(files.length > 0 ? ['files' as const] : []), ...(loki === undefined ? [] : ['loki' as const])];
  if (sources.length === 0) return [];
  const defaultSource = sources[0] as 'files' | 'loki';
  const names = files.map((file) => file.name);
  const FileName = names.length > 0 ? z.enum(names as [string, ...string[]]) : z.never();

  // Two Loki requests (baseline and incident) must fit in one call.
  const timeoutMs = Math.max(TIMEOUT_MS, 2 * (loki?.timeoutMs ?? 0) + 1000);
  const common = {
    since: InstantSchema.describe('Start of the window (included).'),
    until: InstantSchema.optional().describe('End of the window (included). Default: now.'),
    source: z.enum(sources as [('files' | 'loki'), ...Array<'files' | 'loki'>]).optional().describe(`Where to read: ${sources.join(' or ')}. Default: ${defaultSource}.`),
    files: z.array(FileName).min(1).max(100).optional().describe('Files: the configured log files to read, by name. Default: all (or those of `service`).'),
    service: z.string().min(1).max(200).optional().describe('Only the logs of this service: its configured files, or Loki streams with its service label.'),
    selector: z.string().min(2).max(2000).regex(STREAM_SELECTOR, 'a LogQL stream selector such as {app="checkout", env=~"prod|staging"}').optional()
      .describe('Loki: the LogQL stream selector, e.g. {app="checkout"}. Default: {<serviceLabel>="<service>"}.'),
    contains: z.string().min(1).max(MAX_CONTAINS_LENGTH).optional().describe('Only lines whose message contains this text.'),
    regex: z.string().min(1).max(MAX_REGEX_LENGTH).optional().describe('Only lines whose message matches this RE2 pattern (the syntax of LogQL |~; no backreferences or lookaround).'),
    ignoreCase: z.boolean().optional().describe('contains and regex ignore case. Default false.'),
    levels: z.array(z.string().min(1).max(20)).min(1).max(10).optional().describe('Only lines with one of these levels (case-insensitive); lines without a level are left out.'),
  };
  type CommonArgs = z.output<z.ZodObject<typeof common>>;

  /** Problems of the source choice and filters that the field schemas cannot see. */
  const refineCommon = (args: CommonArgs, ctx: z.RefinementCtx): void => {
    refineWindow(args, ctx, maxRangeMs, now());
    const source = args.source ?? defaultSource;
    const issue = (path: string, message: string, expected: string): void => ctx.addIssue({ code: 'custom', path: [path], input: (args as Record<string, unknown>)[path], params: { expected }, message });
    if (args.regex !== undefined && args.regex.length <= MAX_REGEX_LENGTH) {
      const problem = regexProblem(args.regex);
      if (problem !== undefined) issue('regex', `is not an RE2 pattern: ${problem}`, 'an RE2 pattern (the syntax of LogQL |~)');
    }
    if (source === 'loki') {
      if (args.files !== undefined) issue('files', 'is only for source files', 'no files with source loki');
      if (args.selector === undefined && args.service === undefined) issue('selector', 'is required with source loki unless service is given', 'a LogQL stream selector, or a service');
    } else {
      if (args.selector !== undefined) issue('selector', 'is only for source loki', 'no selector with source files');
      if (args.service !== undefined && args.files === undefined && !files.some((file) => file.service === args.service)) {
        issue('service', 'no configured log file belongs to this service', `one of ${[...new Set(files.flatMap((file) => (file.service === undefined ? [] : [file.service])))].join(', ') || '(no file has a service)'}`);
      }
    }
  };

  /** Reads `parts` from the chosen source with the filters of `args`. */
  const read = async (args: CommonArgs, parts: readonly WindowPart[], signal: AbortSignal): Promise<{ source: 'files' | 'loki'; read: SourceRead }> => {
    const source = args.source ?? defaultSource;
    if (source === 'loki' && loki !== undefined && lokiClient !== undefined) {
      const selector = args.selector ?? `{${loki.serviceLabel}=${logqlString(args.service ?? '')}}`;
      const filters = logqlLineFilters(args);
      const logql = filters === '' ? selector : `${selector} ${filters}`;
      return { source, read: await readLoki(lokiClient, loki, { logql, parts, levels: args.levels, signal }) };
    }
    const chosen = files.filter((file) => (args.files === undefined || args.files.includes(file.name)) && (args.service === undefined || args.files !== undefined || file.service === args.service));
    const filter = createTextFilter(args);
    const settled = await Promise.allSettled(chosen.map((file) => readLogFile(file, parts, filter, options.maxReadBytes, signal)));
    const reads = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const failures = settled.flatMap((outcome, index) => (outcome.status === 'rejected' ? [{ file: chosen[index]?.name ?? '', error: outcome.reason as unknown }] : []));
    // One unreadable file among several is a note; when none can be read, the call fails.
    if (reads.length === 0 && failures[0] !== undefined) throw failures[0].error;
    const merged = mergeReads(reads, parts);
    const unread = failures.map(({ file, error }) => `${file}: not read: ${error instanceof Error ? error.message : String(error)}`);
    return { source: 'files', read: { parts: merged.parts.map((part) => ({ ...part, truncated: part.truncated || unread.length > 0 })), notes: [...merged.notes, ...unread] } };
  };

  const QueryInput = z.object({
    ...common,
    limit: z.int().min(1).max(maxLines).optional().describe(`Most lines returned. Default and maximum ${maxLines}.`),
    direction: z.enum(['backward', 'forward']).optional().describe('Which lines a window with more than limit keeps: backward the newest (default), forward the oldest. Lines come oldest first either way.'),
  }).strict().superRefine(refineCommon);
  const QueryOutput = z.object({
    source: z.enum(['files', 'loki']),
    lines: z.array(LineSchema),
    truncated: z.boolean().describe('True when the window may hold more matching lines than were returned.'),
    notes: Notes,
  });

  const query: ToolContract<z.output<typeof QueryInput>, z.output<typeof QueryOutput>> = {
    name: 'logs.query',
    description: `Reads the log lines of a time window, oldest first, from ${describeSources(files, loki !== undefined)}, optionally only those containing a text, matching an RE2 pattern or with given levels: time, level, message.`,
    input: QueryInput,
    output: QueryOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    retry: DEFAULT_RETRY,
    permission: 'logs:read',
    target: (args) => ({ service: args.service ?? null }),
    async execute(args, context) {
      const window = resolveWindow(args, maxRangeMs, now());
      const part: WindowPart = { from: window.since, to: window.until, keep: args.direction === 'forward' ? 'oldest' : 'newest', max: args.limit ?? maxLines };
      const result = await read(args, [part], context.signal);
      const [only] = result.read.parts;
      return {
        source: result.source,
        lines: (only?.entries ?? []).map(lineOutput),
        truncated: only?.truncated ?? false,
        notes: result.read.notes,
      };
    },
  };

  const TemplatesInput = z.object({
    ...common,
    onset: InstantSchema.optional().describe('The incident\'s onset: lines before it are the baseline, lines from it on the incident; returns the templates new or rising since it.'),
    limit: z.int().min(1).max(MAX_TEMPLATES).optional().describe(`Most templates (and findings) returned. Default ${DEFAULT_TEMPLATES}.`),
  }).strict().superRefine((args, ctx) => {
    refineCommon(args, ctx);
    const valid = (value: unknown): boolean => InstantSchema.safeParse(value).success;
    if (args.onset !== undefined && valid(args.onset) && valid(args.since) && (args.until === undefined || valid(args.until))) {
      const onset = instantMs(args.onset);
      const until = args.until === undefined ? now() : instantMs(args.until);
      if (!(instantMs(args.since) < onset && onset <= until)) {
        ctx.addIssue({ code: 'custom', path: ['onset'], input: args.onset, params: { expected: 'an instant after since and not after until' }, message: 'is outside the window' });
      }
    }
  });
  const TemplatesOutput = z.object({
    source: z.enum(['files', 'loki']),
    lines: z.int().describe('Lines mined.'),
    truncated: z.boolean().describe('True when the window held more lines than were mined (maxTemplateLines, maxReadBytes or Loki\'s limit).'),
    notes: Notes,
    templates: z.array(TemplateSchema).describe('The window\'s templates: error-looking first, then by count.'),
    omittedTemplates: z.int(),
    novelty: NoveltySchema.nullable().describe('With onset: what changed since it; null without.'),
  });

  const templates: ToolContract<z.output<typeof TemplatesInput>, z.output<typeof TemplatesOutput>> = {
    name: 'logs.templates',
    description: `Mines the log lines of a time window from ${describeSources(files, loki !== undefined)} into Drain templates with counts and examples; with an onset, lists the templates that are new or rose sharply since it (error-looking first).`,
    input: TemplatesInput,
    output: TemplatesOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    retry: DEFAULT_RETRY,
    permission: 'logs:read',
    target: (args) => ({ service: args.service ?? null }),
    async execute(args, context) {
      const window = resolveWindow(args, maxRangeMs, now());
      const limit = args.limit ?? DEFAULT_TEMPLATES;
      const onset = args.onset === undefined ? undefined : instantMs(args.onset);
      if (onset !== undefined && !(window.since < onset && onset <= window.until)) {
        throw new InputError('TOOL_ARGS_INVALID', 'The onset is outside the window; give one after since and not after until.', [{ path: 'onset', message: 'is outside the window', received: isoTime(onset) }]);
      }
      const parts = templateParts(window, onset, maxTemplateLines);
      const result = await read(args, parts, context.signal);
      const entries = result.read.parts.flatMap((part) => part.entries).sort((a, b) => a.time - b.time);
      const summary = summarize(entries, limit);
      const truncated = result.read.parts.some((part) => part.truncated);
      return {
        source: result.source,
        lines: entries.length,
        truncated,
        notes: result.read.notes,
        templates: summary.templates,
        omittedTemplates: summary.omitted,
        novelty: onset === undefined ? null : novelty(entries, window, onset, limit),
      };
    },
  };

  return [query, templates];
}

/** The parts `logs.templates` reads: the window, or baseline and incident halves around the onset, each keeping the lines nearest the onset. */
function templateParts(window: TimeWindow, onset: number | undefined, maxTemplateLines: number): WindowPart[] {
  if (onset === undefined) return [{ from: window.since, to: window.until, keep: 'newest', max: maxTemplateLines }];
  const half = Math.max(1, Math.floor(maxTemplateLines / 2));
  return [
    { from: window.since, to: onset - 1, keep: 'newest', max: half },
    { from: onset, to: window.until, keep: 'oldest', max: half },
  ];
}

/** The first line of a message: what is mined (continuation lines such as stack frames are not). */
function firstLine(message: string): string {
  const end = message.indexOf('\n');
  return end < 0 ? message : message.slice(0, end);
}

function lineOutput(entry: LogEntry): z.output<typeof LineSchema> {
  return { time: isoTime(entry.time), source: entry.source, service: entry.service, level: entry.level, message: entry.message, ...(entry.labels === undefined ? {} : { labels: { ...entry.labels } }) };
}

/** The Drain templates of `entries` (oldest first): error-looking first, then by count, at most `limit`. */
function summarize(entries: readonly LogEntry[], limit: number): { templates: Array<z.output<typeof TemplateSchema>>; omitted: number } {
  const miner = createLogTemplateMiner();
  const stats = new Map<number, { count: number; first: number; last: number; levels: Record<string, number>; error: boolean; examples: string[] }>();
  for (const entry of entries) {
    const message = firstLine(entry.message);
    const { templateId } = miner.add(message);
    let stat = stats.get(templateId);
    if (stat === undefined) {
      stat = { count: 0, first: entry.time, last: entry.time, levels: {}, error: false, examples: [] };
      stats.set(templateId, stat);
    }
    stat.count++;
    stat.last = entry.time;
    const level = entry.level?.trim().toUpperCase() ?? '';
    stat.levels[level] = (stat.levels[level] ?? 0) + 1;
    stat.error ||= looksLikeError({ message, level: entry.level ?? undefined });
    if (stat.examples.length < MAX_EXAMPLES && !stat.examples.includes(message)) stat.examples.push(message);
  }
  const all = [...stats].map(([templateId, stat]) => ({
    templateId,
    template: miner.get(templateId)?.template ?? '',
    count: stat.count,
    firstSeen: isoTime(stat.first),
    lastSeen: isoTime(stat.last),
    levels: stat.levels,
    looksLikeError: stat.error,
    examples: stat.examples,
  })).sort((a, b) => Number(b.looksLikeError) - Number(a.looksLikeError) || b.count - a.count || a.templateId - b.templateId);
  return { templates: all.slice(0, limit), omitted: Math.max(0, all.length - limit) };
}

/** The novelty findings of `entries` around `onset` (`src/core/diagnosis/log-novelty.ts`). */
function novelty(entries: readonly LogEntry[], window: TimeWindow, onset: number, limit: number): z.output<typeof NoveltySchema> {
  const lines: LogLine[] = entries.map((entry) => ({ time: entry.time, message: firstLine(entry.message), ...(entry.level === null ? {} : { level: entry.level }) }));
  const report = findLogNovelties(lines, { baselineStart: window.since, onset, end: window.until + 1 }, { limit, maxExamples: MAX_EXAMPLES });
  return {
    onset: isoTime(onset),
    baselineLines: report.baselineLines,
    incidentLines: report.incidentLines,
    findings: report.findings.map((finding) => ({
      change: finding.change,
      templateId: finding.templateId,
      template: finding.template,
      variantOf: finding.variantOf ?? null,
      baselineCount: finding.baselineCount,
      incidentCount: finding.incidentCount,
      baselinePerMinute: finding.baselinePerMinute,
      incidentPerMinute: finding.incidentPerMinute,
      rateRatio: finding.rateRatio,
      firstSeen: isoTime(finding.firstSeen),
      examples: [...finding.examples],
      looksLikeError: finding.looksLikeError,
      levels: { ...finding.levels },
    })),
    omittedFindings: report.omittedFindings,
  };
}

function describeSources(files: LogsConfig['files'], loki: boolean): string {
  const parts = [...(files.length > 0 ? [`the log files ${files.map((file) => file.name).join(', ')}`] : []), ...(loki ? ['Loki'] : [])];
  return parts.join(' or ');
}
