/**
 * Log evidence for a diagnosis: which log templates are new since an incident's onset, or became
 * much more frequent, ranked so that error-looking ones come first.
 *
 * The lines of a baseline window (before the onset) and of the incident window (from the onset on)
 * go, in time order, through one Drain miner (`log-templates.ts`). Then, per template:
 * - **new**: the template was first seen at or after the onset. A line that joins a template known
 *   before the onset but does not fit that template *as it stood at the onset* (one of its constant
 *   words differs, e.g. `connection to db established` before and `connection to db failed` after)
 *   is new too: Drain would otherwise fold it into the old template. Such lines are grouped per old
 *   template by a second Drain miner with the same options and reported with `variantOf`.
 * - **rose**: a template known before the onset whose incident rate (lines per minute of the window)
 *   is at least `minRateRatio` times its baseline rate, with at least `minRiseCount` incident lines.
 *
 * Everything else (templates whose rate held or fell) is left out. The result is deterministic: the
 * same lines, windows and options give the same findings in the same order.
 */
import { InputError } from '../errors.js';
import { WILDCARD, createLogTemplateMiner, type LogTemplateMiner, type LogTemplateMinerOptions } from './log-templates.js';

/** One log line with its time, already split from its header (see `log-format.ts`). */
export interface LogLine {
  /** When the line was written, ms since the Unix epoch. */
  readonly time: number;
  /** The message: the line's content without its header. */
  readonly message: string;
  /** The level as logged, e.g. `ERROR` or `Info`; compared case-insensitively. */
  readonly level?: string;
  /** The whole line, shown in examples. @default message */
  readonly raw?: string;
}

/** The two windows, in ms since the Unix epoch: baseline `[baselineStart, onset)`, incident `[onset, end)`. */
export interface LogNoveltyWindows {
  readonly baselineStart: number;
  /** The incident's onset: the first instant of the incident window. */
  readonly onset: number;
  readonly end: number;
}

/** Thresholds and limits of {@link findLogNovelties}; every field has a default. */
export interface LogNoveltyOptions {
  /** Drain's parameters for the miner (see `LogTemplateMinerOptions`). @default {} (Drain3's defaults) */
  readonly miner?: LogTemplateMinerOptions;
  /** Least ratio of incident rate to baseline rate for a known template to count as risen. @default 4 */
  readonly minRateRatio?: number;
  /** Least number of incident lines for a known template to count as risen. @default 3 */
  readonly minRiseCount?: number;
  /** Example lines per finding, the first ones in time order. @default 3 */
  readonly maxExamples?: number;
  /** Most findings returned; the rest are counted in `omittedFindings`. @default 20 */
  readonly limit?: number;
}

/** A template that is new since the onset or whose rate rose sharply. */
export interface LogTemplateFinding {
  readonly change: 'new' | 'rose';
  /** The miner's template the lines joined (for a variant, the old template's ID). */
  readonly templateId: number;
  /** The template of the finding's lines: `<*>` where they differ, masks such as `<:IP:>` where masked. */
  readonly template: string;
  /** For lines that joined a template known before the onset without fitting it: that template as it stood at the onset. */
  readonly variantOf?: string;
  /** Lines of the template in the baseline window (0 for a new template). */
  readonly baselineCount: number;
  /** Lines of the finding in the incident window. */
  readonly incidentCount: number;
  /** Baseline lines per minute of the baseline window. */
  readonly baselinePerMinute: number;
  /** Incident lines per minute of the incident window. */
  readonly incidentPerMinute: number;
  /** `incidentPerMinute / baselinePerMinute`; `null` for a new template. */
  readonly rateRatio: number | null;
  /** Time of the finding's first incident line, ms since the Unix epoch. */
  readonly firstSeen: number;
  /** The first distinct lines of the finding in the incident window (raw when given). */
  readonly examples: readonly string[];
  /** True when any of its incident lines has an error level (ERROR, FATAL, CRITICAL ...) or an error word (error, failed, exception, refused, timeout ...). */
  readonly looksLikeError: boolean;
  /** Its incident lines by level (upper case), `''` for lines without one. */
  readonly levels: Readonly<Record<string, number>>;
}

/** The findings, ranked, and what went in. */
export interface LogNoveltyReport {
  /** Ranked: error-looking first; then new before risen; new by incident count, risen by rate ratio (higher first); then earlier first seen; then template text. */
  readonly findings: readonly LogTemplateFinding[];
  /** Findings left out by `limit`. */
  readonly omittedFindings: number;
  readonly baselineLines: number;
  readonly incidentLines: number;
  /** Lines outside both windows or with a time that is not a finite number. */
  readonly ignoredLines: number;
  /** Templates the miner holds at the end. */
  readonly templates: number;
}

const ERROR_LEVELS = new Set(['ERROR', 'ERR', 'FATAL', 'CRITICAL', 'CRIT', 'SEVERE', 'ALERT', 'EMERG', 'EMERGENCY', 'PANIC', 'FAILURE']);
const ERROR_WORDS =
  /\b(?:errors?|fail(?:s|ed|ing|ure|ures)?|fatal|exceptions?|panic(?:ked)?|refused|denied|time[ds]? ?out|unreachable|unavailable|abort(?:ed|ing)?|crash(?:ed|es)?|corrupt(?:ed|ion)?|segfault|killed|oom|out of memory|cannot|can't|could not|unable)\b/i;
/** Class names such as `NullPointerException` or `OutOfMemoryError` (case-sensitive, so not `terror`). */
const ERROR_CLASS = /[A-Za-z0-9](?:Exception|Error)\b/;

/**
 * True when a line looks like an error: its level is one of ERROR, ERR, FATAL, CRITICAL, CRIT,
 * SEVERE, ALERT, EMERG(ENCY), PANIC, FAILURE (any case), or its message has an error word (error,
 * fail/failed/failure, fatal, exception, panic, refused, denied, timeout/timed out, unreachable,
 * unavailable, abort, crash, corrupt, segfault, killed, OOM, out of memory, cannot, could not, unable)
 * or a class name ending in `Exception` or `Error` (`NullPointerException`, `IOError`).
 */
export function looksLikeError(line: Pick<LogLine, 'message' | 'level'>): boolean {
  return (line.level !== undefined && ERROR_LEVELS.has(line.level.trim().toUpperCase())) || ERROR_WORDS.test(line.message) || ERROR_CLASS.test(line.message);
}

/** The lines of one finding as they accumulate. */
interface Group {
  readonly templateId: number;
  readonly variantOf: string | undefined;
  baselineCount: number;
  incident: LogLine[];
}

/**
 * Finds the log templates that are new since `windows.onset` or whose rate rose sharply, from the
 * lines of the baseline and incident windows (lines outside both are ignored; order does not
 * matter, they are mined in time order). Throws `INPUT_INVALID` when the windows are not
 * `baselineStart < onset < end` or an option is out of range.
 */
export function findLogNovelties(lines: Iterable<LogLine>, windows: LogNoveltyWindows, options: LogNoveltyOptions = {}): LogNoveltyReport {
  const { baselineStart, onset, end } = windows;
  if (![baselineStart, onset, end].every(Number.isFinite) || !(baselineStart < onset && onset < end)) {
    throw new InputError('INPUT_INVALID', `log novelty windows must satisfy baselineStart < onset < end (ms since the epoch); got ${baselineStart}, ${onset}, ${end}.`, [
      { path: 'windows', message: 'expected baselineStart < onset < end', received: `${baselineStart}, ${onset}, ${end}` },
    ]);
  }
  const minRateRatio = positive('minRateRatio', options.minRateRatio ?? 4);
  const minRiseCount = positive('minRiseCount', options.minRiseCount ?? 3);
  const maxExamples = positive('maxExamples', options.maxExamples ?? 3);
  const limit = positive('limit', options.limit ?? 20);

  let ignoredLines = 0;
  const inWindows: LogLine[] = [];
  for (const line of lines) {
    if (Number.isFinite(line.time) && line.time >= baselineStart && line.time < end) inWindows.push(line);
    else ignoredLines++;
  }
  inWindows.sort((a, b) => a.time - b.time); // stable: equal times keep their input order

  const miner = createLogTemplateMiner(options.miner);
  const known = new Map<number, Group>(); // templates first seen before the onset, by template ID
  const fresh = new Map<number, Group>(); // templates first seen at or after the onset
  const variants = new Map<number, { miner: LogTemplateMiner; onsetTokens: readonly string[]; groups: Map<number, Group> }>();
  let onsetTemplates: Map<number, readonly string[]> | undefined;
  let baselineLines = 0;

  for (const line of inWindows) {
    if (line.time < onset) {
      baselineLines++;
      const { templateId } = miner.add(line.message);
      const group = known.get(templateId);
      if (group === undefined) known.set(templateId, { templateId, variantOf: undefined, baselineCount: 1, incident: [] });
      else group.baselineCount++;
      continue;
    }
    onsetTemplates ??= new Map([...known.keys()].map((templateId) => [templateId, (miner.get(templateId)?.tokens ?? [])]));
    const { templateId, tokens } = miner.add(line.message);
    const onsetTokens = onsetTemplates.get(templateId);
    if (onsetTokens === undefined) {
      const group = fresh.get(templateId);
      if (group === undefined) fresh.set(templateId, { templateId, variantOf: undefined, baselineCount: 0, incident: [line] });
      else group.incident.push(line);
    } else if (fits(onsetTokens, tokens)) {
      (known.get(templateId) as Group).incident.push(line);
    } else {
      let variant = variants.get(templateId);
      if (variant === undefined) {
        variant = { miner: createLogTemplateMiner(miner.options), onsetTokens, groups: new Map() };
        variants.set(templateId, variant);
      }
      const variantId = variant.miner.add(line.message).templateId;
      const group = variant.groups.get(variantId);
      if (group === undefined) variant.groups.set(variantId, { templateId, variantOf: onsetTokens.join(' '), baselineCount: 0, incident: [line] });
      else group.incident.push(line);
    }
  }

  const baselineMinutes = (onset - baselineStart) / 60_000;
  const incidentMinutes = (end - onset) / 60_000;
  const finding = (group: Group, change: 'new' | 'rose', template: string): LogTemplateFinding => {
    const baselinePerMinute = group.baselineCount / baselineMinutes;
    const incidentPerMinute = group.incident.length / incidentMinutes;
    const levels: Record<string, number> = {};
    for (const line of group.incident) {
      const level = line.level?.trim().toUpperCase() ?? '';
      levels[level] = (levels[level] ?? 0) + 1;
    }
    const examples: string[] = [];
    for (const line of group.incident) {
      const text = line.raw ?? line.message;
      if (!examples.includes(text)) examples.push(text);
      if (examples.length >= maxExamples) break;
    }
    return {
      change,
      templateId: group.templateId,
      template,
      ...(group.variantOf === undefined ? {} : { variantOf: group.variantOf }),
      baselineCount: group.baselineCount,
      incidentCount: group.incident.length,
      baselinePerMinute,
      incidentPerMinute,
      rateRatio: change === 'new' ? null : incidentPerMinute / baselinePerMinute,
      firstSeen: (group.incident[0] as LogLine).time,
      examples,
      looksLikeError: group.incident.some(looksLikeError),
      levels,
    };
  };

  const findings: LogTemplateFinding[] = [];
  for (const group of fresh.values()) findings.push(finding(group, 'new', miner.get(group.templateId)?.template ?? ''));
  for (const variant of variants.values()) {
    for (const [variantId, group] of variant.groups) findings.push(finding(group, 'new', variant.miner.get(variantId)?.template ?? ''));
  }
  for (const group of known.values()) {
    if (group.incident.length < minRiseCount) continue;
    // The template as it stood at the onset: its incident lines fit it, and only variants changed it since.
    const risen = finding(group, 'rose', onsetTemplates?.get(group.templateId)?.join(' ') ?? '');
    if ((risen.rateRatio as number) >= minRateRatio) findings.push(risen);
  }
  findings.sort(compareFindings);
  return {
    findings: findings.slice(0, limit),
    omittedFindings: Math.max(0, findings.length - limit),
    baselineLines,
    incidentLines: inWindows.length - baselineLines,
    ignoredLines,
    templates: miner.templates().length,
  };
}

/** True when every constant token of the template at the onset equals the line's token there. */
function fits(onsetTokens: readonly string[], tokens: readonly string[]): boolean {
  return onsetTokens.length === tokens.length && onsetTokens.every((token, index) => token === WILDCARD || token === tokens[index]);
}

/** The ranking documented on {@link LogNoveltyReport.findings}. */
function compareFindings(a: LogTemplateFinding, b: LogTemplateFinding): number {
  if (a.looksLikeError !== b.looksLikeError) return a.looksLikeError ? -1 : 1;
  if (a.change !== b.change) return a.change === 'new' ? -1 : 1;
  if (a.change === 'rose' && a.rateRatio !== b.rateRatio) return (b.rateRatio as number) - (a.rateRatio as number);
  if (a.incidentCount !== b.incidentCount) return b.incidentCount - a.incidentCount;
  if (a.firstSeen !== b.firstSeen) return a.firstSeen - b.firstSeen;
  if (a.template !== b.template) return a.template < b.template ? -1 : 1;
  return a.templateId - b.templateId;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InputError('INPUT_INVALID', `log novelty option ${name} must be a positive number; got ${value}.`, [{ path: `options.${name}`, message: 'expected a positive number', received: String(value) }]);
  }
  return value;
}
