import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';
import type { PolicyInput } from './policy.js';

/**
 * The typed CEL environment of policy conditions: exactly the variables of {@link PolicyInput} plus
 * `calendar`. A condition is compiled twice: against a *checking* environment, where every field has
 * its precise type (so `target.teir`, `risk > 3` or `mission.confidence + "x"` are load errors), and
 * for evaluation against a *running* environment, where the nullable fields are `dyn` so they can
 * hold `null` at run time.
 *
 * Nulls: a nullable field (`target.service`, `target.environment`, `target.tier`, `mission.agent`,
 * `mission.confidence`, `mission.hypothesis`) is always present and holds `null` when unknown.
 * `target.tier == null` and `!= null` test it; `target.tier == "critical"` is false for null; ordering,
 * arithmetic or a method on null is a run-time error, and a run-time error fails closed (the rule
 * contributes `escalate`). `has()` is for map keys (`has(args.size)`, `has(target.labels.team)`);
 * on a field it is always true, so the checker rejects it.
 *
 * @see https://github.com/google/cel-spec/blob/master/doc/langdef.md (CEL language definition)
 */

/** One variable (or field) of the environment, for docs/policy.md and `interlock policy explain`. */
export interface PolicyVariableInfo {
  /** Dotted path, e.g. `target.tier`. */
  readonly path: string;
  /** CEL type, e.g. `string`, `map(string, dyn)`, `google.protobuf.Timestamp`. */
  readonly type: string;
  readonly nullable: boolean;
  readonly description: string;
}

type FieldType = 'string' | 'bool' | 'int' | 'double' | 'map<string, string>';
interface FieldSpec {
  readonly type: FieldType;
  readonly nullable?: true;
  readonly description: string;
}

/** The fields of the three structured variables, with their CEL types. */
const STRUCTS = {
  tool: {
    name: { type: 'string', description: 'Tool name, e.g. `postgres.restart`.' },
    risk: { type: 'string', description: 'Risk class of the tool: `read`, `draft`, `write-low` or `write-prod`.' },
    idempotent: { type: 'bool', description: 'True when calling the tool twice with the same idempotency key has the effect of once.' },
    permission: { type: 'string', description: 'Permission the tool requires, e.g. `postgres:restart`.' },
  },
  target: {
    service: { type: 'string', nullable: true, description: 'Service the action touches.' },
    environment: { type: 'string', nullable: true, description: 'Environment of the service, e.g. `production`.' },
    tier: { type: 'string', nullable: true, description: 'Service tier, e.g. `critical`, `standard`, `non-critical`.' },
    labels: { type: 'map<string, string>', description: 'Free-form labels of the target.' },
  },
  mission: {
    id: { type: 'string', description: 'Mission ID.' },
    project: { type: 'string', description: 'Project of the mission.' },
    requester: { type: 'string', description: 'Who asked for the mission.' },
    agent: { type: 'string', nullable: true, description: 'The agent that proposed the plan; null when a person did.' },
    confidence: { type: 'double', nullable: true, description: 'Confidence of the top hypothesis, 0..1; null without a diagnosis.' },
    hypothesis: { type: 'string', nullable: true, description: 'The top hypothesis; null without a diagnosis.' },
    labels: { type: 'map<string, string>', description: 'Labels of the mission.' },
    blastRadius: { type: 'int', description: 'Number of distinct targets the mission\'s plan touches.' },
  },
} as const satisfies Record<string, Record<string, FieldSpec>>;

type StructName = keyof typeof STRUCTS;
const TYPE_NAMES: Readonly<Record<StructName, string>> = { tool: 'Tool', target: 'Target', mission: 'Mission' };

/** The variables besides the structured ones, with their CEL types. */
const SCALARS = {
  args: { type: 'map<string, dyn>', description: 'The arguments of the tool call. Whole numbers are `int`, other numbers `double`.' },
  risk: { type: 'string', description: 'Risk class of the action (the same as `tool.risk` unless the engine raised it).' },
  time: { type: 'google.protobuf.Timestamp', description: 'When the decision is made.' },
  state: { type: 'map<string, dyn>', description: 'Observed state of the target, as the probe or the evidence reported it.' },
  calendar: { type: 'map<string, bool>', description: 'For each calendar of the policy set: true when `time` falls in one of its windows.' },
} as const;

/** Every variable and field of the environment, in the order of docs/policy.md. */
export const POLICY_VARIABLES: readonly PolicyVariableInfo[] = [
  ...(['tool', 'args', 'risk', 'target', 'mission', 'time', 'state', 'calendar'] as const).flatMap((name): PolicyVariableInfo[] => {
    if (name in STRUCTS) {
      const fields = STRUCTS[name as StructName] as Record<string, FieldSpec>;
      return Object.entries(fields).map(([field, spec]) => ({
        path: `${name}.${field}`,
        type: celTypeName(spec.type),
        nullable: spec.nullable === true,
        description: spec.description,
      }));
    }
    const scalar = SCALARS[name as keyof typeof SCALARS];
    return [{ path: name, type: celTypeName(scalar.type), nullable: false, description: scalar.description }];
  }),
];

function celTypeName(type: string): string {
  return type.replace(/^map<(\w+), (\w+)>$/, 'map($1, $2)');
}

/** The nullable fields, as dotted paths. */
const NULLABLE = new Set(POLICY_VARIABLES.filter((variable) => variable.nullable).map((variable) => variable.path));

// Values of the structured variables: plain classes, so the evaluator checks field types without
// converting the objects on every evaluation.
class ToolValue {
  constructor(readonly name: string, readonly risk: string, readonly idempotent: boolean, readonly permission: string) {}
}
class TargetValue {
  constructor(readonly service: string | null, readonly environment: string | null, readonly tier: string | null, readonly labels: Readonly<Record<string, string>>) {}
}
class MissionValue {
  constructor(
    readonly id: string,
    readonly project: string,
    readonly requester: string,
    readonly agent: string | null,
    readonly confidence: number | null,
    readonly hypothesis: string | null,
    readonly labels: Readonly<Record<string, string>>,
    readonly blastRadius: bigint,
  ) {}
}
const CONSTRUCTORS: Readonly<Record<StructName, new (...args: never[]) => object>> = { tool: ToolValue, target: TargetValue, mission: MissionValue };

/** Builds the checking (`nullableAs` = precise type) or the running (`dyn`) environment. */
function buildEnvironment(mode: 'check' | 'run'): Environment {
  const env = new Environment({ enableOptionalTypes: true });
  for (const [name, fields] of Object.entries(STRUCTS) as Array<[StructName, Record<string, FieldSpec>]>) {
    const types = Object.fromEntries(Object.entries(fields).map(([field, spec]) => [field, mode === 'run' && spec.nullable === true ? 'dyn' : spec.type]));
    env.registerType(TYPE_NAMES[name], { ctor: CONSTRUCTORS[name], fields: types });
    env.registerVariable(name, TYPE_NAMES[name]);
  }
  for (const [name, spec] of Object.entries(SCALARS)) env.registerVariable(name, spec.type);
  // `x == null` type-checks for string and double fields; the checker below allows it only on
  // nullable fields. At run time these fields are dyn, and dyn == null needs no overload.
  env.registerOperator('string == null', (left: unknown, right: unknown) => left === right);
  env.registerOperator('double == null', (left: unknown, right: unknown) => left === right);
  return env;
}

let environments: { readonly check: Environment; readonly run: Environment } | undefined;
/** The two environments, built once (building one is the expensive part of using cel-js). */
function celEnvironments(): { readonly check: Environment; readonly run: Environment } {
  environments ??= { check: buildEnvironment('check'), run: buildEnvironment('run') };
  return environments;
}

/** A problem in a CEL condition: what and where (0-based character offset in the expression). */
export interface CelProblem {
  readonly offset: number;
  readonly message: string;
}

/** A condition compiled for evaluation. */
export type CompiledCondition = (context: CelContext) => unknown;

/**
 * Compiles a `match` condition: parses and type-checks it against the checking environment, applies
 * the checks cel-js does not make (null comparisons, `has()` on fields, calendar names), and returns
 * the evaluator built by the running environment. Never throws: problems are returned.
 */
export function compileCondition(expression: string, calendars: ReadonlySet<string>): { readonly condition: CompiledCondition; readonly problems: readonly [] } | { readonly condition: null; readonly problems: readonly CelProblem[] } {
  const { check, run } = celEnvironments();
  let parsed: ParseResult;
  try {
    parsed = check.parse(expression);
  } catch (error) {
    return { condition: null, problems: [celProblem(error, expression)] };
  }
  const result = parsed.check();
  if (!result.valid) return { condition: null, problems: [celProblem(result.error, expression)] };
  if (result.type !== 'bool' && result.type !== 'dyn') {
    return { condition: null, problems: [{ offset: 0, message: `match must be a bool condition; \`${expression}\` is of type ${result.type ?? 'unknown'}` }] };
  }
  const problems = lint(parsed.ast, expression, calendars);
  if (problems.length > 0) return { condition: null, problems };
  let runnable: ParseResult;
  try {
    runnable = run.parse(expression);
  } catch (error) {
    return { condition: null, problems: [celProblem(error, expression)] };
  }
  return { condition: runnable as CompiledCondition, problems: [] };
}

/** A cel-js ParseError or TypeError as a problem, with a hint for the common mistakes. */
function celProblem(error: unknown, expression: string): CelProblem {
  const celError = error as { summary?: unknown; range?: { start: number; end: number }; code?: unknown; node?: ASTNode } | undefined;
  const summary = typeof celError?.summary === 'string' ? celError.summary : error instanceof Error ? error.message : String(error);
  const range = celError?.range;
  const offset = range?.start ?? 0;
  const span = celError?.node?.range ?? range;
  const snippet = span === undefined ? '' : expression.slice(span.start, Math.max(span.end, span.start + 1)).trim();
  const where = snippet === '' || snippet === expression.trim() ? '' : ` in \`${snippet}\``;
  return { offset, message: `${error instanceof Error && error.name === 'ParseError' ? 'CEL syntax error' : 'CEL type error'}: ${summary}${where}${hint(celError, summary)}` };
}

/** "Did you mean" and null hints for cel-js errors. */
function hint(error: { code?: unknown; node?: ASTNode } | undefined, summary: string): string {
  const node = error?.node;
  if (error?.code === 'no_such_key' && node !== undefined && (node.op === '.' || node.op === '.?')) {
    const [object, field] = node.args;
    const struct = object.op === 'id' && typeof object.args === 'string' && object.args in STRUCTS ? (object.args as StructName) : undefined;
    if (struct !== undefined) {
      const fields = Object.keys(STRUCTS[struct]);
      const close = closest(field, fields);
      return `; ${close === undefined ? '' : `did you mean ${struct}.${close}? `}${struct} has the fields ${fields.join(', ')}`;
    }
  }
  if (error?.code === 'unknown_variable') {
    const name = /Unknown variable: (\S+)/.exec(summary)?.[1] ?? '';
    const close = closest(name, VARIABLE_NAMES);
    return `; ${close === undefined ? '' : `did you mean ${close}? `}the variables are ${VARIABLE_NAMES.join(', ')}`;
  }
  if (/no such overload: (string|double|int|bool) [=!]= null/.test(summary)) return `; only ${[...NULLABLE].join(', ')} can be null`;
  return '';
}

const VARIABLE_NAMES: readonly string[] = ['tool', 'args', 'risk', 'target', 'mission', 'time', 'state', 'calendar'];

/** The candidate closest to `word` by edit distance, when close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The checks cel-js cannot make: null only on nullable fields, `has()` only on map keys, known calendars. */
function lint(root: ASTNode, expression: string, calendars: ReadonlySet<string>): CelProblem[] {
  const problems: CelProblem[] = [];
  const text = (node: ASTNode): string => expression.slice(node.range.start, node.range.end);
  const calendarList = calendars.size === 0 ? 'none' : [...calendars].sort().join(', ');
  const checkCalendar = (node: ASTNode, name: string): void => {
    if (calendars.has(name)) return;
    const close = closest(name, [...calendars]);
    problems.push({ offset: node.range.start, message: `unknown calendar "${name}"${close === undefined ? '' : `; did you mean calendar.${close}?`} (calendars of the policy set: ${calendarList})` });
  };
  visit(root, (node) => {
    if (node.op === '==' || node.op === '!=') {
      const [left, right] = node.args;
      const other = isNull(left) ? right : isNull(right) ? left : undefined;
      if (other === undefined) return;
      const path = pathOf(other);
      const type = (other as { checkedType?: { kind?: string; name?: string } }).checkedType;
      if (path !== undefined && NULLABLE.has(path)) return;
      if (type?.kind === 'dyn') return;
      problems.push({ offset: node.range.start, message: `\`${text(node)}\`: ${path ?? text(other)} is never null (only ${[...NULLABLE].join(', ')} can be null)` });
    } else if (node.op === 'call' && node.args[0] === 'has') {
      const argument = node.args[1][0];
      if (argument?.op !== '.') return;
      const [object] = argument.args;
      const objectType = (object as { checkedType?: { kind?: string } }).checkedType;
      if (objectType?.kind !== 'message') return;
      const path = pathOf(argument) ?? text(argument);
      const advice = NULLABLE.has(path) ? `; it is null when unknown: write ${path} != null` : '';
      problems.push({ offset: node.range.start, message: `\`${text(node)}\` is always true: ${path} is a field, always present${advice}. has() tests map keys, e.g. has(args.size)` });
    } else if ((node.op === '.' || node.op === '.?') && isCalendar(node.args[0])) {
      checkCalendar(node, node.args[1]);
    } else if ((node.op === '[]' || node.op === '[?]') && isCalendar(node.args[0]) && node.args[1].op === 'value' && typeof node.args[1].args === 'string') {
      checkCalendar(node, node.args[1].args);
    } else if (node.op === 'in' && isCalendar(node.args[1]) && node.args[0].op === 'value' && typeof node.args[0].args === 'string') {
      checkCalendar(node, node.args[0].args);
    }
  });
  return problems;
}

function isNull(node: ASTNode): boolean {
  return node.op === 'value' && node.args === null;
}

function isCalendar(node: ASTNode): boolean {
  return node.op === 'id' && node.args === 'calendar';
}

/** `a.b.c` for a chain of field selections on a variable, else undefined. */
function pathOf(node: ASTNode): string | undefined {
  if (node.op === 'id') return node.args;
  if (node.op === '.') {
    const parent = pathOf(node.args[0]);
    return parent === undefined ? undefined : `${parent}.${node.args[1]}`;
  }
  return undefined;
}

function visit(node: ASTNode, visitor: (node: ASTNode) => void): void {
  visitor(node);
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) for (const item of value) walk(item);
    else if (isAstNode(value)) visit(value, visitor);
  };
  if (Array.isArray(node.args)) walk(node.args);
}

function isAstNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value && 'args' in value && 'range' in value;
}

/** The evaluation context of one decision: every variable, converted to CEL values. */
export type CelContext = Readonly<Record<string, unknown>>;

/**
 * Converts a {@link PolicyInput} to CEL values: whole numbers in `args` and `state` become `int`
 * (bigint), other numbers `double`; `time` a timestamp; `mission.blastRadius` an `int`.
 *
 * @throws TypeError (a plain one) when the input is not shaped like a PolicyInput; the compiler turns it into `escalate`.
 */
export function celContext(input: PolicyInput, calendar: Readonly<Record<string, boolean>>): CelContext {
  const { tool, target, mission } = input;
  if (!Number.isSafeInteger(mission.blastRadius)) throw new TypeError(`mission.blastRadius must be an integer, got ${String(mission.blastRadius)}`);
  if (!Number.isFinite(input.time)) throw new TypeError(`time must be ms since the epoch, got ${String(input.time)}`);
  return {
    tool: new ToolValue(tool.name, tool.risk, tool.idempotent, tool.permission),
    args: celValue(input.args),
    risk: input.risk,
    target: new TargetValue(target.service, target.environment, target.tier, target.labels),
    mission: new MissionValue(mission.id, mission.project, mission.requester, mission.agent, mission.confidence, mission.hypothesis, mission.labels, BigInt(mission.blastRadius)),
    time: new Date(input.time),
    state: celValue(input.state),
    calendar,
  };
}

/** A JSON-like value as a CEL value: whole numbers as bigint, objects as maps, `undefined` entries dropped. */
function celValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celValue);
  if (value instanceof Date || value instanceof Uint8Array) return value;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = celValue(item);
    return out;
  }
  return value;
}
