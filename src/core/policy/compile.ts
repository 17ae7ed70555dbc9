import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { combineDecisions, defaultDecision, type Decision, type DecisionReason, type DefaultEffects, type Effect } from '../review/decision.js';
import { RISK_CLASSES, type RiskClass } from '../tools/tool.js';
import { compileCalendar, type Calendar } from './calendar.js';
import { celContext, closest, compileCondition, type CelContext, type CompiledCondition } from './cel-environment.js';
import { DOCUMENT_FIELDS, PolicyDocumentSchema, type PolicyCalendarSpec, type PolicyDocument, type PolicyRuleSpec } from './document.js';
import { durationMs, MS_PER_DAY, parseIsoDuration } from './duration.js';
import { invalidPolicySet, type PolicyIssue } from './policy-errors.js';
import type { ApprovalRequirement, PolicyDecision, PolicyEvaluator, PolicyInput } from './policy.js';
import { parseYamlFile, type SourcedDocument } from './yaml-source.js';

/** One policy file to compile: its name (for messages and positions) and its YAML text. */
export interface PolicyFile {
  /** Name used in problems, e.g. `freeze.yaml` (relative to the policy directory). */
  readonly path: string;
  /** YAML text; several documents may be separated by `---`. */
  readonly text: string;
}

/** Options of {@link compilePolicySet}. */
export interface CompilePolicyOptions {
  /** Effect per risk class when no rule matches (`review.defaults`). */
  readonly defaults: DefaultEffects;
  /**
   * Requirement of a `require_approval` that no rule's `approval` describes: the default decision of
   * a risk class whose default is `require_approval`; also supplies `expiresIn` when a rule omits it.
   * @default {@link DEFAULT_APPROVAL}
   */
  readonly defaultApproval?: ApprovalRequirement;
}

/** The default approval requirement: one approval, any approver, open for 24 hours. */
export const DEFAULT_APPROVAL: ApprovalRequirement = Object.freeze({ quorum: 1, groups: Object.freeze([]), expiresInMs: MS_PER_DAY });

/** A rule of a compiled set, as `explain` and `policy test` show it. */
export interface PolicyRuleInfo {
  /** `<policy name>/<rule name>`. */
  readonly id: string;
  readonly policy: string;
  readonly name: string;
  readonly effect: Effect;
  /** The CEL condition as written. */
  readonly match: string;
  /** The message a matching rule gives its reason. */
  readonly message: string;
  /** For `require_approval`: the rule's own requirement (defaults filled in); else null. */
  readonly approval: ApprovalRequirement | null;
  /** Where the rule's `match` is. */
  readonly file: string;
  readonly line: number;
}

/** What one rule did for one input. */
export interface RuleOutcome {
  readonly rule: PolicyRuleInfo;
  /**
   * `matched`: the condition was true; `error`: it could not be evaluated (the rule contributed
   * `escalate`); `skipped`: not evaluated, because the input has no known risk class (denied).
   */
  readonly outcome: 'matched' | 'not_matched' | 'error' | 'skipped';
  /** For `error`: what went wrong. */
  readonly error?: string;
}

/** Why a decision came out as it did: every rule's outcome, the calendars, and the decision. */
export interface PolicyExplanation {
  readonly decision: PolicyDecision;
  /** Every rule of the set, ordered by id. */
  readonly rules: readonly RuleOutcome[];
  /** Each calendar of the set at the input's `time`. */
  readonly calendars: Readonly<Record<string, boolean>>;
  /** True when no rule matched (or errored) and the default of the risk class decided. */
  readonly defaulted: boolean;
}

/** A compiled policy set: a {@link PolicyEvaluator} that can also explain its decisions. */
export interface CompiledPolicySet extends PolicyEvaluator {
  /** Every rule, ordered by id. */
  readonly rules: readonly PolicyRuleInfo[];
  /** Names of the calendars, sorted. */
  readonly calendars: readonly string[];
  /** Names of the policy documents, sorted. */
  readonly policies: readonly string[];
  /** The decision together with every rule's outcome. Pure, like `decide`. */
  explain(input: PolicyInput): PolicyExplanation;
}

interface CompiledRule {
  readonly info: PolicyRuleInfo;
  readonly condition: CompiledCondition;
}

/**
 * Compiles policy files into an evaluator. Every document is checked (shape, names, calendars,
 * durations, approvals, CEL conditions against the typed environment) and every problem is reported
 * at once; nothing is compiled from a set with a problem.
 *
 * Deciding: every rule whose `match` is true contributes its effect; the most restrictive wins
 * (deny > escalate > require_approval > allow, {@link combineDecisions}); the reasons are the rules
 * with that effect, ordered by rule id. When no rule matches, `options.defaults` decides (rule
 * `default/<risk>`). A condition that fails at run time contributes `escalate` (fail closed). An input
 * without a known risk class is denied (rule `default/unknown-risk`). The approval of a
 * `require_approval` decision combines the matching rules' requirements: the largest quorum, the
 * shortest expiry, and the groups every rule accepts (the intersection of the non-empty group lists);
 * when two rules accept no group in common, the decision is `escalate`.
 *
 * `digest` is the SHA-256 (hex) of a canonical serialisation of the documents (ordered by policy
 * name, rules by name, keys sorted) and of the defaults: comments, formatting, file names and file
 * or rule order do not change it; any change to a rule, calendar or default does.
 *
 * @throws PolicyError `POLICY_INVALID` listing every problem with file, line and column.
 * @see https://github.com/google/cel-spec (CEL)
 */
export function compilePolicySet(documents: readonly PolicyFile[], options: CompilePolicyOptions): CompiledPolicySet {
  const defaultApproval = options.defaultApproval ?? DEFAULT_APPROVAL;
  const issues: PolicyIssue[] = [];
  const parsed: Array<{ readonly source: SourcedDocument; readonly document: PolicyDocument }> = [];
  const checked: CheckedDocument[] = [];

  for (const file of [...documents].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const yaml = parseYamlFile(file.path, file.text);
    issues.push(...yaml.issues);
    for (const source of yaml.documents) {
      const result = PolicyDocumentSchema.safeParse(source.value, { reportInput: true });
      if (result.success) {
        parsed.push({ source, document: result.data });
        checked.push({
          source,
          name: result.data.metadata.name,
          calendars: Object.entries(result.data.spec.calendars),
          rules: result.data.spec.rules.map((rule, index) => [index, rule] as const),
        });
      } else {
        issues.push(...schemaIssues(source, result.error));
        checked.push(salvage(source));
      }
    }
  }

  // Policy names and calendar names are global; rule names unique within a policy.
  const policies = new Map<string, SourcedDocument>();
  const calendarSources = new Map<string, SourcedDocument>();
  for (const { source, name, calendars: declared } of checked) {
    if (name !== undefined) {
      const earlier = policies.get(name);
      if (earlier !== undefined) issues.push(source.issueAtKey(['metadata', 'name'], `duplicate policy name "${name}"; ${where(earlier, ['metadata', 'name'])} uses it already`));
      else policies.set(name, source);
    }
    for (const [calendar] of declared) {
      const other = calendarSources.get(calendar);
      if (other !== undefined) issues.push(source.issueAtKey(['spec', 'calendars', calendar], `duplicate calendar name "${calendar}"; calendars are global by name and ${where(other, ['spec', 'calendars', calendar])} defines it already`));
      else calendarSources.set(calendar, source);
    }
  }

  const calendars = new Map<string, Calendar>();
  for (const { source, calendars: declared } of checked) {
    for (const [name, spec] of declared) {
      if (calendarSources.get(name) !== source) continue;
      const result = compileCalendar(name, spec);
      if (result.calendar !== null) calendars.set(name, result.calendar);
      for (const problem of result.problems) issues.push(source.issueAt(['spec', 'calendars', name, ...problem.field.split('.')], problem.message));
    }
  }
  const calendarNames = new Set(calendarSources.keys());

  const rules: CompiledRule[] = [];
  for (const { source, name: policy, rules: declared } of checked) {
    const seen = new Set<string>();
    for (const [index, rule] of declared) {
      const path = ['spec', 'rules', index];
      if (seen.has(rule.name)) issues.push(source.issueAt([...path, 'name'], `duplicate rule name "${rule.name}" in policy ${policy ?? '(unnamed)'}`));
      seen.add(rule.name);
      let approval: ApprovalRequirement | null = null;
      if (rule.effect === 'require_approval' && rule.approval === undefined) {
        issues.push(source.issueAt([...path, 'effect'], 'a require_approval rule needs an approval block, e.g. approval: { quorum: 1, groups: [sre] }'));
      } else if (rule.effect !== 'require_approval' && rule.approval !== undefined) {
        issues.push(source.issueAtKey([...path, 'approval'], `approval applies only to require_approval rules; this rule's effect is ${rule.effect}`));
      } else if (rule.approval !== undefined) {
        let expiresInMs = defaultApproval.expiresInMs;
        if (rule.approval.expiresIn !== undefined) {
          const expiry = parseIsoDuration(rule.approval.expiresIn);
          if (expiry.ok) expiresInMs = durationMs(expiry.value);
          else issues.push(source.issueAt([...path, 'approval', 'expiresIn'], expiry.message));
        }
        approval = { quorum: rule.approval.quorum, groups: [...new Set(rule.approval.groups)].sort(), expiresInMs };
      }
      const compiled = compileCondition(rule.match, calendarNames);
      for (const problem of compiled.problems) issues.push(source.issueInScalar([...path, 'match'], problem.offset, problem.message));
      const position = source.issueAt([...path, 'match'], '');
      const id = `${policy ?? '(unnamed)'}/${rule.name}`;
      if (compiled.condition !== null) {
        rules.push({
          condition: compiled.condition,
          info: { id, policy: policy ?? '(unnamed)', name: rule.name, effect: rule.effect, match: rule.match, message: rule.message ?? `rule ${id} matched: ${rule.match}`, approval, file: position.file, line: position.line },
        });
      }
    }
  }
  if (issues.length > 0) throw invalidPolicySet(issues);

  rules.sort((a, b) => (a.info.id < b.info.id ? -1 : a.info.id > b.info.id ? 1 : 0));
  const digest = digestOf(parsed.map(({ document }) => document), options.defaults, defaultApproval);
  return createEvaluator({ rules, calendars, digest, defaults: options.defaults, defaultApproval, policies: [...policies.keys()].sort() });
}

/** What the semantic checks need of one document: its name, calendars and rules (each shape-checked). */
interface CheckedDocument {
  readonly source: SourcedDocument;
  readonly name: string | undefined;
  readonly calendars: ReadonlyArray<readonly [string, PolicyCalendarSpec]>;
  readonly rules: ReadonlyArray<readonly [number, PolicyRuleSpec]>;
}

/**
 * The parts of a document that failed its shape check which are well-formed on their own, so their
 * calendars and conditions are checked too and every problem is reported in one pass.
 */
function salvage(source: SourcedDocument): CheckedDocument {
  const value = isRecord(source.value) ? source.value : {};
  const metadata = isRecord(value.metadata) ? value.metadata : {};
  const spec = isRecord(value.spec) ? value.spec : {};
  const name = PolicyDocumentSchema.shape.metadata.shape.name.safeParse(metadata.name);
  const calendars = isRecord(spec.calendars) ? Object.entries(spec.calendars) : [];
  const rules = Array.isArray(spec.rules) ? (spec.rules as unknown[]) : [];
  const calendarSchema = PolicyDocumentSchema.shape.spec.shape.calendars.unwrap().valueType;
  const ruleSchema = PolicyDocumentSchema.shape.spec.shape.rules.unwrap().element;
  return {
    source,
    name: name.success ? name.data : undefined,
    calendars: calendars.flatMap(([calendar, item]) => {
      const parsed = calendarSchema.safeParse(item);
      return parsed.success ? [[calendar, parsed.data] as const] : [];
    }),
    rules: rules.flatMap((item, index) => {
      const parsed = ruleSchema.safeParse(item);
      return parsed.success ? [[index, parsed.data] as const] : [];
    }),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `file:line:column` of the key at `path` in `source`, for "already defined at" messages. */
function where(source: SourcedDocument, path: readonly (string | number)[]): string {
  return source.issueAtKey(path, '').source;
}

/** Zod issues of one document as positioned issues (unknown keys at the key, with a "did you mean"). */
function schemaIssues(source: SourcedDocument, error: z.ZodError): PolicyIssue[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const close = closest(key, DOCUMENT_FIELDS);
        return source.issueAtKey([...path, key], `unknown field "${key}"${close === undefined ? '' : `; did you mean "${close}"?`}`);
      });
    }
    if (issue.code === 'invalid_key') return [source.issueAtKey(path, issue.issues[0]?.message ?? issue.message)];
    if (!('input' in issue) || issue.input === undefined) return [source.issueAt(path, `${issue.message.replace(/, received undefined$/, '')} (missing)`)];
    return [source.issueAt(path, issue.message, { received: describe(issue.input) })];
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/** A stable JSON serialisation: object keys sorted, no whitespace. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function digestOf(documents: readonly PolicyDocument[], defaults: DefaultEffects, defaultApproval: ApprovalRequirement): string {
  const canonical = {
    format: 'interlock.dev/v1 policy set',
    documents: [...documents]
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
      .map((document) => ({ ...document, spec: { ...document.spec, rules: [...document.spec.rules].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) } })),
    defaults: Object.fromEntries(RISK_CLASSES.map((risk) => [risk, defaults[risk]])),
    defaultApproval: { quorum: defaultApproval.quorum, groups: [...defaultApproval.groups].sort(), expiresInMs: defaultApproval.expiresInMs },
  };
  return createHash('sha256').update(stableJson(canonical)).digest('hex');
}

interface EvaluatorParts {
  readonly rules: readonly CompiledRule[];
  readonly calendars: ReadonlyMap<string, Calendar>;
  readonly digest: string;
  readonly defaults: DefaultEffects;
  readonly defaultApproval: ApprovalRequirement;
  readonly policies: readonly string[];
}

function createEvaluator(parts: EvaluatorParts): CompiledPolicySet {
  const { rules, calendars, digest, defaults, defaultApproval } = parts;
  const calendarNames = [...calendars.keys()].sort();

  const calendarsAt = (time: number): Record<string, boolean> => {
    const values: Record<string, boolean> = {};
    for (const name of calendarNames) values[name] = (calendars.get(name) as Calendar).contains(time);
    return values;
  };

  const evaluate = (input: PolicyInput, trace: RuleOutcome[] | null): { decision: PolicyDecision; calendars: Record<string, boolean>; defaulted: boolean } => {
    const risk = (input as Partial<PolicyInput> | undefined)?.risk;
    if (!isRiskClass(risk) || !isRiskClass((input as Partial<PolicyInput>).tool?.risk)) {
      for (const rule of rules) trace?.push({ rule: rule.info, outcome: 'skipped' });
      const message = `the action has no known risk class (risk ${String(risk)}, tool.risk ${String((input as Partial<PolicyInput>).tool?.risk)}); an action of unknown risk is denied`;
      return { decision: { effect: 'deny', reasons: [{ rule: 'default/unknown-risk', effect: 'deny', message }], policyDigest: digest, approval: null }, calendars: {}, defaulted: true };
    }
    let calendarValues: Record<string, boolean> = {};
    let context: CelContext;
    try {
      calendarValues = calendarsAt(input.time);
      context = celContext(input, calendarValues);
    } catch (error) {
      for (const rule of rules) trace?.push({ rule: rule.info, outcome: 'error', error: errorText(error) });
      const message = `the policy input could not be read (${errorText(error)}); failing closed`;
      return { decision: { effect: 'escalate', reasons: [{ rule: 'default/invalid-input', effect: 'escalate', message }], policyDigest: digest, approval: null }, calendars: calendarValues, defaulted: true };
    }

    const contributions: Array<{ readonly decision: Decision; readonly approval: ApprovalRequirement | null; readonly rule: PolicyRuleInfo }> = [];
    for (const rule of rules) {
      let result: unknown;
      try {
        result = rule.condition(context);
      } catch (error) {
        const message = `rule ${rule.info.id} could not be evaluated, failing closed: ${errorText(error)}`;
        contributions.push({ rule: rule.info, approval: null, decision: { effect: 'escalate', reasons: [{ rule: rule.info.id, effect: 'escalate', message }] } });
        trace?.push({ rule: rule.info, outcome: 'error', error: errorText(error) });
        continue;
      }
      if (result === true) {
        contributions.push({ rule: rule.info, approval: rule.info.approval, decision: { effect: rule.info.effect, reasons: [{ rule: rule.info.id, effect: rule.info.effect, message: rule.info.message }] } });
        trace?.push({ rule: rule.info, outcome: 'matched' });
      } else if (result === false) {
        trace?.push({ rule: rule.info, outcome: 'not_matched' });
      } else {
        const error = `match evaluated to ${typeof result === 'bigint' ? `${result}` : JSON.stringify(result) ?? typeof result}, not a bool`;
        contributions.push({ rule: rule.info, approval: null, decision: { effect: 'escalate', reasons: [{ rule: rule.info.id, effect: 'escalate', message: `rule ${rule.info.id} could not be evaluated, failing closed: ${error}` }] } });
        trace?.push({ rule: rule.info, outcome: 'error', error });
      }
    }

    if (contributions.length === 0) {
      const decision = defaultDecision(risk, defaults);
      return { decision: { ...decision, policyDigest: digest, approval: decision.effect === 'require_approval' ? defaultApproval : null }, calendars: calendarValues, defaulted: true };
    }
    const combined = combineDecisions(contributions.map((contribution) => contribution.decision), defaultDecision(risk, defaults));
    if (combined.effect !== 'require_approval') return { decision: { ...combined, policyDigest: digest, approval: null }, calendars: calendarValues, defaulted: false };
    const requiring = contributions.filter((contribution) => contribution.decision.effect === 'require_approval');
    const merged = mergeApprovals(requiring.map((contribution) => ({ id: contribution.rule.id, approval: contribution.approval ?? defaultApproval })));
    if (merged.ok) return { decision: { ...combined, policyDigest: digest, approval: merged.approval }, calendars: calendarValues, defaulted: false };
    const reasons: DecisionReason[] = combined.reasons.map((reason) => ({ rule: reason.rule, effect: 'escalate', message: `${reason.message}; escalated: ${merged.message}` }));
    return { decision: { effect: 'escalate', reasons, policyDigest: digest, approval: null }, calendars: calendarValues, defaulted: false };
  };

  const infos = rules.map((rule) => rule.info);
  return {
    digest,
    rules: infos,
    calendars: calendarNames,
    policies: parts.policies,
    decide: (input) => evaluate(input, null).decision,
    explain(input) {
      const trace: RuleOutcome[] = [];
      const { decision, calendars: values, defaulted } = evaluate(input, trace);
      return { decision, rules: trace, calendars: values, defaulted };
    },
  };
}

function isRiskClass(value: unknown): value is RiskClass {
  return typeof value === 'string' && (RISK_CLASSES as readonly string[]).includes(value);
}

/** The one-line message of an evaluation error, with a hint when a null field was used as a value. */
function errorText(error: unknown): string {
  const summary = (error as { summary?: unknown } | null)?.summary;
  const text = typeof summary === 'string' ? summary : error instanceof Error ? error.message : String(error);
  return /dyn<null>|'null\./.test(text) ? `${text} (a nullable field is null here; test it first, e.g. mission.confidence != null && mission.confidence < 0.6)` : text;
}

/**
 * The strictest requirement every matching rule accepts: largest quorum, shortest expiry, and the
 * groups common to every rule that names groups (a rule with no groups accepts any approver).
 */
function mergeApprovals(requirements: ReadonlyArray<{ readonly id: string; readonly approval: ApprovalRequirement }>): { readonly ok: true; readonly approval: ApprovalRequirement } | { readonly ok: false; readonly message: string } {
  let quorum = 0;
  let expiresInMs = Number.POSITIVE_INFINITY;
  let groups: string[] | null = null;
  for (const { approval } of requirements) {
    quorum = Math.max(quorum, approval.quorum);
    expiresInMs = Math.min(expiresInMs, approval.expiresInMs);
    if (approval.groups.length > 0) groups = groups === null ? [...approval.groups] : groups.filter((group) => approval.groups.includes(group));
  }
  if (groups !== null && groups.length === 0) {
    const named = requirements.filter(({ approval }) => approval.groups.length > 0).map(({ id, approval }) => `${id} accepts ${approval.groups.join(' or ')}`);
    return { ok: false, message: `the matching rules require approval from groups with none in common (${named.join('; ')}), so no approver could satisfy them all; a person must decide` };
  }
  return { ok: true, approval: { quorum, groups: [...(groups ?? [])].sort(), expiresInMs } };
}
