import { RE2JS } from 're2js';

/**
 * The text and level filters of the logs tools. A `regex` is compiled by RE2JS, a JavaScript port of
 * RE2: matching takes time linear in the line's length whatever the pattern, so a pattern from an
 * agent cannot hang the worker (no ReDoS), and the syntax is the one Loki's LogQL uses (`|~`), so a
 * filter means the same over files and over Loki. RE2 has no backreferences and no lookaround.
 *
 * @see https://github.com/google/re2/wiki/Syntax (the syntax)
 */

/** Longest `regex` accepted, characters. */
export const MAX_REGEX_LENGTH = 200;
/** Longest `contains` accepted, characters. */
export const MAX_CONTAINS_LENGTH = 500;

/** The filter inputs shared by the logs tools. */
export interface TextFilterArgs {
  /** Lines whose message contains this text. */
  readonly contains?: string | undefined;
  /** Lines whose message matches this RE2 pattern somewhere. */
  readonly regex?: string | undefined;
  /** `contains` and `regex` ignore case. */
  readonly ignoreCase?: boolean | undefined;
  /** Lines with one of these levels (case-insensitive); lines without a level are left out. */
  readonly levels?: readonly string[] | undefined;
}

/** Why `pattern` is not an RE2 pattern we accept, or `undefined` when it is one. */
export function regexProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_REGEX_LENGTH) return `longer than ${MAX_REGEX_LENGTH} characters`;
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The predicate of `args` over a line's message and level; everything passes when `args` sets nothing. */
export function createTextFilter(args: TextFilterArgs): (message: string, level: string | null) => boolean {
  const flags = args.ignoreCase === true ? RE2JS.CASE_INSENSITIVE : 0;
  const regex = args.regex === undefined ? undefined : RE2JS.compile(args.regex, flags);
  const contains = args.contains === undefined ? undefined : args.ignoreCase === true ? args.contains.toLowerCase() : args.contains;
  const levels = args.levels === undefined ? undefined : new Set(args.levels.map((level) => level.toLowerCase()));
  return (message, level) => {
    if (levels !== undefined && (level === null || !levels.has(level.toLowerCase()))) return false;
    if (contains !== undefined && !(args.ignoreCase === true ? message.toLowerCase() : message).includes(contains)) return false;
    if (regex !== undefined && !regex.test(message)) return false;
    return true;
  };
}

/**
 * The LogQL line filters of `args` (`|= "text"`, `|~ "pattern"`), appended to a stream selector. The
 * level filter is not among them: levels are labels whose names differ between installations, so it
 * is applied to the lines Loki returns.
 */
export function logqlLineFilters(args: TextFilterArgs): string {
  const parts: string[] = [];
  if (args.contains !== undefined) {
    parts.push(args.ignoreCase === true ? `|~ ${logqlString(`(?i)${RE2JS.quote(args.contains)}`)}` : `|= ${logqlString(args.contains)}`);
  }
  if (args.regex !== undefined) parts.push(`|~ ${logqlString(args.ignoreCase === true ? `(?i)${args.regex}` : args.regex)}`);
  return parts.join(' ');
}

/**
 * A LogQL string literal of `text`. LogQL strings follow Go's interpreted string literals, which
 * accept JSON's escapes (`\"`, `\\`, `\n`, `\u00XX`), so JSON's quoting is a valid LogQL string.
 */
export function logqlString(text: string): string {
  return JSON.stringify(text);
}
