/**
 * The script-review assistant: reads a PowerShell or shell automation script (and optionally its
 * Pester or bats tests) and writes a DRAFT review for the person who decides whether it runs in
 * production. Read-only: it parses the text with real parsers (tree-sitter-powershell, sh-syntax),
 * never runs it, and decides nothing.
 */
import { z } from 'zod';
import { excerptOf, FINDING_CATEGORIES, FINDING_SEVERITIES, maskSecrets, type DraftFinding, type FindingSeverity, type ScriptTestFile } from './script-review/common.js';
import { analysePowerShell } from './script-review/powershell.js';
import { analyseShell } from './script-review/shell.js';

/** The languages the script review reads: PowerShell (tree-sitter-powershell) and POSIX/bash shell (sh-syntax). */
export const SCRIPT_LANGUAGES = ['powershell', 'shell'] as const;
/** The languages the review reads. */
export type ScriptLanguage = (typeof SCRIPT_LANGUAGES)[number];

/** One thing a reviewer should look at, with where it is and what to do about it. */
export const ScriptFindingSchema = z.object({
  /** `SR-01`, `SR-02` ... in line order. */
  id: z.string(),
  category: z.enum(FINDING_CATEGORIES),
  severity: z.enum(FINDING_SEVERITIES),
  /** 1-based line and column in the script. */
  line: z.number().int().min(1),
  column: z.number().int().min(1),
  /** The source line(s) concerned, at most 160 characters, secrets replaced by `***`. */
  excerpt: z.string().max(160),
  message: z.string(),
  recommendation: z.string(),
});
export type ScriptFinding = z.infer<typeof ScriptFindingSchema>;

/** A line of the reviewer's checklist: `check` means a person must look, the tool cannot tell. */
export const ScriptChecklistItemSchema = z.object({ item: z.string(), status: z.enum(['pass', 'fail', 'check']) });
export type ScriptChecklistItem = z.infer<typeof ScriptChecklistItemSchema>;

/** The draft review of one script. `draft` is always true: the review informs a person and decides nothing. */
export const ScriptReviewSchema = z.object({
  draft: z.literal(true),
  language: z.enum(SCRIPT_LANGUAGES),
  path: z.string().optional(),
  /** One paragraph a reviewer reads first. */
  summary: z.string(),
  findings: z.array(ScriptFindingSchema),
  checklist: z.array(ScriptChecklistItemSchema),
  /** Concrete Pester (PowerShell) or bats (shell) test ideas derived from the findings. */
  testIdeas: z.array(z.string()),
  parse: z.object({ parser: z.enum(['tree-sitter-powershell', 'sh-syntax']), errors: z.number().int().min(0) }),
});
export type ScriptReview = z.infer<typeof ScriptReviewSchema>;

/** What {@link reviewScript} reads. */
export interface ReviewScriptInput {
  /** The script's path, for language detection and the summary; never read from disk here. */
  readonly path?: string;
  readonly text: string;
  /** Detected from the extension, then the shebang, when absent. */
  readonly language?: ScriptLanguage;
  /** Pester (`Describe`/`It`) or bats (`@test`) files that test the script. */
  readonly tests?: readonly ScriptTestFile[];
}

export type { ScriptTestFile };

/**
 * The language of a script: `.ps1`/`.psm1`/`.psd1` or a `pwsh` shebang is PowerShell; `.sh`/`.bash`/
 * `.bats`/`.ksh` or a `sh`/`bash` shebang is shell; otherwise PowerShell constructs (`param(`,
 * `$ErrorActionPreference`, Verb-Noun cmdlets) decide, and shell is the fallback.
 */
export function detectScriptLanguage(text: string, path?: string): ScriptLanguage {
  const extension = /\.([A-Za-z0-9]+)$/.exec(path ?? '')?.[1]?.toLowerCase();
  if (extension !== undefined && ['ps1', 'psm1', 'psd1'].includes(extension)) return 'powershell';
  if (extension !== undefined && ['sh', 'bash', 'bats', 'ksh', 'zsh', 'dash'].includes(extension)) return 'shell';
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(text);
  if (shebang !== null) {
    const interpreter = (shebang[1]?.endsWith('/env') ? shebang[2] : shebang[1])?.replace(/^.*\//, '') ?? '';
    if (/^(pwsh|powershell)(\.exe)?$/i.test(interpreter)) return 'powershell';
    if (/^(ba|da|k|z|a)?sh$|^bats$/.test(interpreter)) return 'shell';
  }
  const powershellish = /^\s*(\[CmdletBinding|param\s*\(|\$ErrorActionPreference|function\s+[A-Za-z]+-[A-Za-z]+)|\b(Write-Host|Get-ChildItem|Remove-Item|Set-StrictMode|Import-Module)\b/im;
  return powershellish.test(text) ? 'powershell' : 'shell';
}

const SEVERITY_ORDER: Readonly<Record<FindingSeverity, number>> = { high: 0, medium: 1, low: 2 };

function checklistFor(language: ScriptLanguage, findings: readonly DraftFinding[], facts: { changesState: boolean; hasRollback: boolean }, parseErrors: number, testsGiven: boolean): ScriptChecklistItem[] {
  const none = (predicate: (f: DraftFinding) => boolean): 'pass' | 'fail' => (findings.some(predicate) ? 'fail' : 'pass');
  const ps = language === 'powershell';
  return [
    { item: 'The script parses', status: parseErrors === 0 ? 'pass' : 'fail' },
    { item: ps ? 'Destructive operations support -WhatIf' : 'The script has a dry-run mode', status: none((f) => f.category === 'missing-whatif' && f.severity !== 'low') },
    { item: 'No destructive operation runs unguarded', status: none((f) => f.category === 'risky-operation' && f.severity === 'high') },
    { item: ps ? "Runs with $ErrorActionPreference = 'Stop'" : 'Runs with set -euo pipefail', status: none((f) => f.category === 'error-handling' && !f.message.startsWith('The script does not parse')) },
    { item: 'No secrets in the script', status: none((f) => f.category === 'exposed-secret') },
    { item: 'A rollback path exists', status: facts.changesState && !facts.hasRollback ? 'fail' : 'pass' },
    { item: 'Tests cover the destructive functions', status: testsGiven || !facts.changesState ? none((f) => f.category === 'thin-tests') : 'fail' },
    { item: 'Logs what it changes', status: none((f) => f.category === 'weak-logging' && f.severity !== 'low') },
    { item: 'Errors are not swallowed', status: none((f) => f.category === 'weak-logging' && /swallow|ignored|thrown away|hides|redirected to \$null/.test(f.message)) },
    { item: 'A person has read the rollback and confirmed it restores what the script changes', status: 'check' },
    { item: 'The targets (hosts, paths, namespaces) are the intended ones for this environment', status: 'check' },
  ];
}

function summaryOf(input: { path?: string; language: ScriptLanguage; lines: number; parser: string; parseErrors: number }, findings: readonly ScriptFinding[], checklist: readonly ScriptChecklistItem[]): string {
  const count = (s: FindingSeverity) => findings.filter((f) => f.severity === s).length;
  const name = input.path ?? `this ${input.language === 'powershell' ? 'PowerShell' : 'shell'} script`;
  const parts = [
    `Draft review of ${name} (${input.language === 'powershell' ? 'PowerShell' : 'shell'}, ${input.lines} lines, parsed by ${input.parser}${input.parseErrors > 0 ? ` with ${input.parseErrors} syntax error(s), so the review is best-effort` : ''}):`,
    `${findings.length} finding(s), ${count('high')} high, ${count('medium')} medium, ${count('low')} low.`,
  ];
  const high = findings.filter((f) => f.severity === 'high');
  if (high.length > 0) {
    // Risky operations first, then the rest; one line per kind of problem.
    const rank = (f: ScriptFinding) => (f.category === 'risky-operation' ? 0 : f.category === 'exposed-secret' ? 1 : 2);
    const seen = new Set<string>();
    const top = [...high].sort((a, b) => rank(a) - rank(b) || a.line - b.line).flatMap((f) => {
      const gist = f.message.split(/[.:;]\s|:\s/)[0] ?? f.message;
      const key = f.category === 'risky-operation' ? gist : f.category;
      if (seen.has(key)) return [];
      seen.add(key);
      return [`line ${f.line}: ${gist}`];
    }).slice(0, 3);
    parts.push(`Look first at ${top.join('; ')}${high.length > top.length ? `; and ${high.length - top.length} more high-severity finding(s)` : ''}.`);
  } else {
    parts.push('Nothing high-severity was found.');
  }
  const failed = checklist.filter((c) => c.status === 'fail').map((c) => `${c.item.charAt(0).toLowerCase()}${c.item.slice(1)}`);
  parts.push(failed.length === 0 ? 'Every automatic checklist item passes.' : `Checklist items that fail: ${failed.join('; ')}.`);
  parts.push('This is a draft from static reading: it runs nothing and decides nothing; a person decides whether the script runs.');
  return parts.join(' ');
}

/**
 * Reviews one PowerShell or shell script and returns a draft {@link ScriptReview}: findings with
 * line and column (secrets masked in the excerpts), a checklist, test ideas and the parse result.
 * A script that does not parse still gets a best-effort review with a finding saying so.
 * Read-only: it never executes the script. The output is validated against {@link ScriptReviewSchema}.
 */
export async function reviewScript(input: ReviewScriptInput): Promise<ScriptReview> {
  const language = input.language ?? detectScriptLanguage(input.text, input.path);
  const tests = input.tests;
  const analysis = language === 'powershell'
    ? await analysePowerShell(input.text, tests)
    : await analyseShell(input.text, tests, /\.bats$/i.test(input.path ?? ''));
  const parser = language === 'powershell' ? 'tree-sitter-powershell' : 'sh-syntax';

  const sorted = [...analysis.findings].sort((a, b) => a.line - b.line || a.column - b.column || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  const findings: ScriptFinding[] = sorted.map((finding, k) => ({
    id: `SR-${String(k + 1).padStart(2, '0')}`,
    category: finding.category,
    severity: finding.severity,
    line: finding.line,
    column: finding.column,
    excerpt: excerptOf(finding.source, analysis.secrets),
    message: maskSecrets(finding.message, analysis.secrets),
    recommendation: finding.recommendation,
  }));
  const checklist = checklistFor(language, sorted, analysis.facts, analysis.parseErrors, (tests?.length ?? 0) > 0);
  const testIdeas = [...new Set([...sorted].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]).flatMap((f) => (f.testIdea === undefined ? [] : [maskSecrets(f.testIdea, analysis.secrets)])))];
  const lines = input.text === '' ? 0 : input.text.replace(/\n$/, '').split('\n').length;
  return ScriptReviewSchema.parse({
    draft: true,
    language,
    ...(input.path === undefined ? {} : { path: input.path }),
    summary: summaryOf({ path: input.path, language, lines, parser, parseErrors: analysis.parseErrors }, findings, checklist),
    findings,
    checklist,
    testIdeas,
    parse: { parser, errors: analysis.parseErrors },
  });
}
