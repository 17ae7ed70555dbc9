/**
 * Shared pieces of the script review: the finding shape the language analysers produce, secret
 * detection and masking, and excerpts.
 */

/** What a finding is about; the categories a reviewer sorts by. */
export const FINDING_CATEGORIES = ['risky-operation', 'missing-whatif', 'weak-logging', 'exposed-secret', 'missing-rollback', 'thin-tests', 'error-handling'] as const;
export type FindingCategory = (typeof FINDING_CATEGORIES)[number];

/** How much a finding matters, most first: high (can destroy or leak), medium, low (hygiene). */
export const FINDING_SEVERITIES = ['high', 'medium', 'low'] as const;
export type FindingSeverity = (typeof FINDING_SEVERITIES)[number];

/** A finding before it gets its ID; `testIdea` feeds the review's test ideas. */
export interface DraftFinding {
  readonly category: FindingCategory;
  readonly severity: FindingSeverity;
  /** 1-based line and column of the construct. */
  readonly line: number;
  readonly column: number;
  /** The source the finding points at (raw; masked and cut by {@link excerptOf}). */
  readonly source: string;
  readonly message: string;
  readonly recommendation: string;
  readonly testIdea?: string;
}

/** A test script given with the reviewed script (Pester `*.Tests.ps1` or bats `*.bats`). */
export interface ScriptTestFile {
  readonly path: string;
  readonly text: string;
}

/** What a language analyser hands back to `reviewScript`. */
export interface LanguageAnalysis {
  readonly findings: DraftFinding[];
  readonly parseErrors: number;
  /** Facts the checklist is built from. */
  readonly facts: AnalysisFacts;
}

/** Facts about the script that the checklist reports beyond the findings. */
export interface AnalysisFacts {
  /** The script changes state (deletes, stops, writes, deploys). */
  readonly changesState: boolean;
  /** A rollback path exists (a catch/finally or trap that does something). */
  readonly hasRollback: boolean;
  /** Functions that do destructive or state-changing work (for test coverage). */
  readonly destructiveFunctions: readonly string[];
}

/** Longest excerpt, in characters. */
export const EXCERPT_MAX = 160;

/** Variable, parameter or key names that hold a secret. */
export const SECRET_NAME = /(pass(word|wd|phrase)?|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|client[-_]?secret|credential)s?$/i;

/** Literal values that look like issued credentials whatever they are assigned to. */
const TOKEN_SHAPES: readonly RegExp[] = [
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key IDs
  /\bxox[abpr]-[A-Za-z0-9-]{10,}/g, // Slack tokens
  /\b(sk|rk|tok)_(live|test)_[A-Za-z0-9]{10,}/g, // Stripe-style keys
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/g,
];

/** A `scheme://user:password@host` credential in a URL. */
const URL_CREDENTIAL = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]+):([^\s@/'"]+)@/gi;

/** True when `text` contains a token-shaped literal. */
export function hasTokenShape(text: string): boolean {
  return TOKEN_SHAPES.some((shape) => new RegExp(shape.source).test(text));
}

/** True when `text` contains a URL with a password in it. */
export function hasUrlCredential(text: string): boolean {
  return new RegExp(URL_CREDENTIAL.source, 'i').test(text);
}

/** True for a literal that is a real-looking value, not empty and not a placeholder such as `<password>` or `changeme`. */
export function isSecretValue(value: string): boolean {
  const trimmed = value.trim();
  if (trimmed.length < 4) return false;
  if (/^[<{[].*[>}\]]$/.test(trimmed)) return false;
  return !/^(changeme|change-me|password|secret|token|xxx+|\*+|todo|none|null|example)$/i.test(trimmed);
}

/**
 * `text` with the given literal secrets, token-shaped values and URL passwords replaced by `***`.
 * Used on every excerpt, so a secret never leaves the review in clear.
 */
export function maskSecrets(text: string, secrets: readonly string[] = []): string {
  let masked = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) masked = masked.split(secret).join('***');
  }
  masked = masked.replace(new RegExp(URL_CREDENTIAL.source, 'gi'), '$1:***@');
  for (const shape of TOKEN_SHAPES) masked = masked.replace(new RegExp(shape.source, 'g'), '***');
  return masked;
}

/** The first line of `source`, whitespace-trimmed, secrets masked, cut to {@link EXCERPT_MAX} characters. */
export function excerptOf(source: string, secrets: readonly string[]): string {
  const lines = source.split(/\r?\n/);
  const first = (lines[0] ?? '').trim();
  const oneLine = lines.length > 1 ? `${first} …` : first;
  const masked = maskSecrets(oneLine, secrets);
  return masked.length <= EXCERPT_MAX ? masked : `${masked.slice(0, EXCERPT_MAX - 1)}…`;
}

/** SQL that destroys data, written inline in a string. */
export const DESTRUCTIVE_SQL = /\b(drop\s+(table|database|schema|index|view)|truncate\s+table|truncate\s+\w)/i;

/** The 1-based line and column of `offset` in `text`, from precomputed line starts. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i += 1) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

/** Line and column (1-based) of `offset` given the {@link lineStarts} of the text. */
export function positionAt(starts: readonly number[], offset: number): { line: number; column: number } {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low + 1, column: offset - (starts[low] ?? 0) + 1 };
}
