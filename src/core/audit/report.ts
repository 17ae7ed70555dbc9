/**
 * The mission report: what one mission did, told from the audit log alone, in Markdown for an
 * auditor. Every fact cites the index of the audit entry it comes from (`[#12]`), so its inclusion
 * proof can be asked for (`interlock audit proof 12`). Pure: the same input gives the same bytes.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../approvals/binding-hash.js';
import type { MissionDetail } from '../missions/mission.js';
import { encodeBase64 } from './base64.js';
import type { AuditEntry } from './entry.js';

/** One audit entry with its index (leaf position) in the log. */
export interface MissionReportRecord {
  readonly index: number;
  readonly entry: AuditEntry;
}

/** What {@link missionReport} is built from. */
export interface MissionReportInput {
  /** The mission as the store has it (its state now: outcome, what it waits for). */
  readonly mission: MissionDetail;
  /**
   * The mission's audit entries, plus global entries that may concern it: `policy.changed` (those
   * of its time span are read) and `kill_switch.changed` (those of a scope covering it, in its time
   * span or engaging the switch before it started, are read). Other entries are left out. Any
   * order; duplicates (same index) are read once.
   */
  readonly records: readonly MissionReportRecord[];
  /** The latest signed checkpoint, if any: its tree size (entries) and root hash (32 bytes). */
  readonly checkpoint?: { readonly size: number; readonly rootHash: Uint8Array } | null;
}

/** Longest JSON shown in one code block, characters; longer values are cut and point at their entry. */
const MAX_JSON_CHARS = 20_000;

type Data = Readonly<Record<string, unknown>>;

function isRecord(value: unknown): value is Data {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const rec = (value: unknown): Data => (isRecord(value) ? value : {});
const list = (value: unknown): readonly unknown[] => (Array.isArray(value) ? value : []);

/**
 * `text` safe to place inline in Markdown (a paragraph, a list item after its marker, a table
 * cell): line breaks become spaces, and every character that could start emphasis, code, a link,
 * raw HTML, an entity, a table cell or strike-through is backslash-escaped, as is a leading list
 * or heading marker.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\r\n?|\n/g, ' ')
    .replace(/[\\`*_[\]<>|~&#!]/g, (c) => `\\${c}`)
    .replace(/^([-+=])/, '\\$1')
    .replace(/^(\d+)([.)])/, '$1\\$2');
}

const esc = escapeMarkdown;

/** The longest run of backticks in `text`. */
function longestBacktickRun(text: string): number {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}

/** `text` as an inline code span (fenced with more backticks than it holds); in a table, `|` is escaped as GFM requires. */
function code(text: string, inTable = false): string {
  const flat = text.replace(/\r\n?|\n/g, ' ');
  if (flat === '') return '(empty)';
  const fence = '`'.repeat(longestBacktickRun(flat) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') || (flat.startsWith(' ') && flat.endsWith(' ')) ? ' ' : '';
  const span = `${fence}${pad}${flat}${pad}${fence}`;
  return inTable ? span.replace(/\|/g, '\\|') : span;
}

/** A copy of `value` with object keys sorted, so the same JSON value prints the same way. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isRecord(value)) return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys(value[key])]));
  return value;
}

/** `value` as a fenced `json` code block (pretty, keys sorted), cut at {@link MAX_JSON_CHARS} with a pointer to entry `index`. */
function jsonBlock(value: unknown, index: number): string[] {
  let text = value === undefined ? 'null' : JSON.stringify(sortKeys(value), null, 2);
  let cut = false;
  if (text.length > MAX_JSON_CHARS) {
    text = text.slice(0, MAX_JSON_CHARS);
    cut = true;
  }
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(text) + 1));
  return [`${fence}json`, ...text.split('\n'), fence, ...(cut ? ['', `(cut at ${MAX_JSON_CHARS} characters: the whole value is in entry [#${index}])`] : [])];
}

/** Compact JSON of `value` for a table cell (escaped). */
function jsonCell(value: unknown): string {
  return esc(value === undefined ? 'null' : JSON.stringify(sortKeys(value)));
}

/** The SHA-256 (hex) of the RFC 8785 canonical JSON of `value`, or undefined when it has none. */
function digestOf(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  try {
    return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
  } catch {
    return undefined;
  }
}

function iso(ms: unknown): string {
  const n = num(ms);
  return n === undefined ? '(unknown time)' : new Date(n).toISOString();
}

const ref = (record: MissionReportRecord): string => `[#${record.index}]`;

function seconds(value: unknown): string {
  const n = num(value);
  return n === undefined ? 'unknown' : `${n.toFixed(3)} s`;
}

function durationText(ms: unknown): string {
  const n = num(ms);
  if (n === undefined) return 'unknown';
  if (n % 3_600_000 === 0) return `${n / 3_600_000} h`;
  if (n % 60_000 === 0) return `${n / 60_000} min`;
  return `${n / 1000} s`;
}

/** A Markdown table; `rows` hold cell text already escaped. */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map((cell) => (cell === '' ? ' ' : cell)).join(' | ')} |`)];
}

/** The kill-switch scopes that cover `mission`: global, its project, its agent. */
function coveringScopes(mission: MissionDetail): Set<string> {
  const scopes = new Set(['global', `project:${mission.project}`]);
  if (mission.request.agent !== undefined) scopes.add(`agent:${mission.request.agent}`);
  return scopes;
}

/**
 * Which entries of `all` (sorted by index) the report of `mission` reads: the mission's own; the
 * policy changes of its time span; and the kill-switch changes of a scope covering it during its
 * time span, plus, per scope, the last change before it started when that one engaged the switch
 * (it was engaged while the mission ran).
 */
function concerns(mission: MissionDetail, all: readonly MissionReportRecord[]): (record: MissionReportRecord) => boolean {
  const scopes = coveringScopes(mission);
  const own = all.filter((r) => r.entry.missionId === mission.id);
  const start = own.find((r) => r.entry.kind === 'plan.proposed')?.entry.at ?? mission.createdAt;
  const end = own.filter((r) => r.entry.kind === 'mission.closed' || r.entry.kind === 'mission.escalated').at(-1)?.entry.at ?? mission.finishedAt ?? Number.POSITIVE_INFINITY;
  const during = (at: number): boolean => at >= start && at <= end;
  const engagedBefore = new Set<number>();
  const lastBefore = new Map<string, MissionReportRecord>();
  for (const r of all) {
    if (r.entry.missionId === null && r.entry.kind === 'kill_switch.changed' && r.entry.at < start) lastBefore.set(str(r.entry.data.scope) ?? '', r);
  }
  for (const r of lastBefore.values()) if (r.entry.data.engaged === true) engagedBefore.add(r.index);
  return ({ index, entry }) => {
    if (entry.missionId === mission.id) return true;
    if (entry.missionId !== null) return false;
    if (entry.kind === 'policy.changed') return during(entry.at);
    if (entry.kind === 'kill_switch.changed') return scopes.has(str(entry.data.scope) ?? '') && (during(entry.at) || engagedBefore.has(index));
    return false;
  };
}

/** A decision's reasons as table rows: rule, effect, message. */
function reasonRows(decision: Data): string[][] {
  return list(decision.reasons).map((reason) => {
    const r = rec(reason);
    return [code(str(r.rule) ?? '?', true), esc(str(r.effect) ?? '?'), esc(str(r.message) ?? '')];
  });
}

function ruleList(decision: Data): string {
  const rules = list(decision.reasons).map((reason) => str(rec(reason).rule)).filter((rule): rule is string => rule !== undefined);
  return rules.length === 0 ? 'no rule named' : rules.map((rule) => code(rule)).join(', ');
}

function voterText(data: Data, inTable: boolean): string {
  const voter = rec(data.voter);
  const name = str(voter.name) ?? '?';
  const id = str(voter.id);
  return `${esc(name)}${id === undefined ? '' : ` (${code(id, inTable)})`}`;
}

/**
 * The mission report as Markdown (CommonMark with GFM tables): summary (mission, project,
 * requester, agent, outcome, start and end, the checkpoint covering it), signals, evidence, the
 * plan, policy decisions, approvals (requests, votes, refused votes, decisions, grants used, and
 * writes that ran without an approval, with why), every tool call with its arguments and result or
 * error, compensations, verifications, where the mission failed closed or was parked by a kill
 * switch, who corrected what, the stage history, and the index of every entry cited.
 *
 * Untrusted text (arguments, results, comments, reasons, names) is escaped: JSON in fenced code
 * blocks whose fence is longer than any backtick run inside, inline text with
 * {@link escapeMarkdown}, `|` escaped in tables. Deterministic: entries are read in index order,
 * JSON keys are sorted, times are ISO 8601 UTC, and nothing reads the clock.
 */
export function missionReport(input: MissionReportInput): string {
  const { mission } = input;
  const byIndex = new Map<number, MissionReportRecord>();
  for (const record of input.records) if (!byIndex.has(record.index)) byIndex.set(record.index, record);
  const all = [...byIndex.values()].sort((a, b) => a.index - b.index);
  const records = all.filter(concerns(mission, all));
  const own = records.filter((r) => r.entry.missionId === mission.id);
  const of = (...kinds: readonly AuditEntry['kind'][]): MissionReportRecord[] => records.filter((r) => kinds.includes(r.entry.kind));
  const out: string[] = [];
  const section = (title: string): void => {
    out.push('', `## ${title}`, '');
  };

  const proposed = of('plan.proposed')[0];
  const closing = of('mission.closed', 'mission.escalated').at(-1);

  out.push(`# Mission report: ${esc(mission.title)}`, '');
  out.push('Built from the audit log. Each fact cites its audit entry, e.g. [#12]; ask for that entry\'s inclusion proof with `interlock audit proof 12`.');

  // Summary
  section('Summary');
  const outcome = closing !== undefined
    ? `${esc(str(closing.entry.data.outcome) ?? mission.outcome ?? '?')} ${ref(closing)}`
    : mission.outcome !== null
      ? `${esc(mission.outcome)} (no closing entry recorded)`
      : `running: stage ${esc(mission.stage)}${mission.waitingFor === null ? '' : `, waiting for ${esc(mission.waitingFor)}`}`;
  const summary: string[][] = [
    ['Mission', code(mission.id, true)],
    ['Title', esc(mission.title)],
    ['Project', esc(mission.project)],
    ['Requester', `${esc(mission.requester)}${proposed === undefined ? '' : ` ${ref(proposed)}`}`],
    ['Agent', mission.request.agent === undefined ? 'none' : esc(mission.request.agent)],
    ['Risk', esc(mission.risk)],
    ['Outcome', outcome],
    ['Started', proposed === undefined ? `${iso(mission.createdAt)} (no entry)` : `${iso(proposed.entry.at)} ${ref(proposed)}`],
    ['Ended', closing === undefined ? (mission.finishedAt === null ? 'not yet' : `${iso(mission.finishedAt)} (no entry)`) : `${iso(closing.entry.at)} ${ref(closing)}`],
    ['Audit entries', own.length === 0 ? 'none' : `${own.length}, from [#${own[0]!.index}] to [#${own.at(-1)!.index}]`],
  ];
  const last = own.at(-1)?.index;
  const checkpoint = input.checkpoint ?? null;
  let checkpointText: string;
  if (checkpoint === null) checkpointText = 'none yet: make one with `interlock audit checkpoint`';
  else {
    const root = `size ${checkpoint.size}, root ${code(encodeBase64(checkpoint.rootHash), true)}`;
    checkpointText = last === undefined || last < checkpoint.size
      ? `${root}: covers every entry of this mission`
      : `${root}: entries from [#${checkpoint.size}] on are not covered yet; make a checkpoint with \`interlock audit checkpoint\``;
  }
  summary.push(['Checkpoint', checkpointText]);
  out.push(...table(['Field', 'Value'], summary));

  // Signals
  section('Signals received');
  const signals = of('signal.received');
  if (signals.length === 0) {
    out.push(`No signal was recorded: the mission was requested directly by ${esc(mission.requester)}${proposed === undefined ? '' : ` ${ref(proposed)}`}.`);
  } else {
    for (const [i, signal] of signals.entries()) {
      const d = signal.entry.data;
      const parts = [str(d.source) === undefined ? undefined : `source ${esc(str(d.source)!)}`, str(d.fingerprint) === undefined ? undefined : `fingerprint ${code(str(d.fingerprint)!)}`].filter((part) => part !== undefined);
      if (i > 0) out.push('');
      out.push(`Signal at ${iso(signal.entry.at)} from ${esc(signal.entry.actor)}${parts.length === 0 ? '' : ` (${parts.join(', ')})`} ${ref(signal)}:`, '', ...jsonBlock(d, signal.index));
    }
  }

  // Tool calls paired with their results (by step, in order).
  const calls = of('tool.called');
  const outcomes = of('tool.result', 'compensation.ran');
  const resultOf = new Map<number, MissionReportRecord>();
  const used = new Set<number>();
  for (const result of outcomes) {
    const stepId = str(result.entry.data.stepId);
    const call = [...calls].reverse().find((c) => c.index < result.index && !used.has(c.index) && str(c.entry.data.stepId) === stepId);
    if (call === undefined) continue;
    used.add(call.index);
    resultOf.set(call.index, result);
  }

  // Evidence
  section('Evidence');
  // The engine records a context step's result as evidence.queried; a context call without one (it
  // failed before a result, or was recorded by an older engine) is shown from its tool.called entry.
  const queried = of('evidence.queried');
  const answered = new Set(queried.map((item) => str(item.entry.data.stepId)));
  const evidence = [...queried, ...calls.filter((c) => c.entry.data.phase === 'context' && !answered.has(str(c.entry.data.stepId)))].sort((a, b) => a.index - b.index);
  if (evidence.length === 0) out.push('No evidence was queried.');
  else {
    out.push(...table(['Step', 'Source', 'Query', 'Result', 'Entries'], evidence.map((item) => {
      const d = item.entry.data;
      if (item.entry.kind === 'evidence.queried') {
        const digest = str(d.resultSha256) ?? digestOf(d.result);
        return [esc(str(d.stepId) ?? ''), esc(str(d.source) ?? str(d.tool) ?? '?'), jsonCell(d.query ?? d.args), digest === undefined ? 'none' : `SHA-256 ${code(digest, true)}`, ref(item)];
      }
      const result = resultOf.get(item.index);
      const r = result?.entry.data ?? {};
      const digest = str(r.status) === 'succeeded' ? digestOf(r.result) : undefined;
      const shown = result === undefined ? 'no result recorded' : digest !== undefined ? `SHA-256 ${code(digest, true)}` : `${esc(str(r.status) ?? '?')}${str(rec(r.error).code) === undefined ? '' : ` (${esc(str(rec(r.error).code)!)})`}`;
      return [code(str(d.stepId) ?? '?', true), code(str(d.tool) ?? '?', true), jsonCell(d.args), shown, result === undefined ? ref(item) : `${ref(item)} ${ref(result)}`];
    })));
  }

  // Plan
  section('Plan');
  if (proposed === undefined) out.push('No plan was recorded.');
  else {
    const request = rec(proposed.entry.data.request);
    out.push(`Proposed by ${esc(proposed.entry.actor)} at ${iso(proposed.entry.at)}, risk ${esc(str(proposed.entry.data.risk) ?? mission.risk)} ${ref(proposed)}.`);
    const hypothesis = str(request.hypothesis);
    const confidence = num(request.confidence);
    if (hypothesis !== undefined) out.push('', `Hypothesis: ${esc(hypothesis)}${confidence === undefined ? '' : ` (confidence ${confidence})`} ${ref(proposed)}.`);
    const steps = list(request.steps);
    if (steps.length === 0) out.push('', 'The plan has no steps.');
    steps.forEach((step, i) => {
      const s = rec(step);
      out.push('', `Step ${i + 1} (${code(str(s.id) ?? `s${i + 1}`)}): ${code(str(s.tool) ?? '?')}`, '', ...jsonBlock(s.args ?? {}, proposed.index));
    });
  }

  // Policy decisions
  section('Policy decisions');
  const decisions = of('policy.decided');
  if (decisions.length === 0) out.push('No policy decision was recorded.');
  for (const [i, item] of decisions.entries()) {
    const d = item.entry.data;
    const decision = rec(d.decision);
    const trigger = str(d.trigger);
    const why = trigger === 'kill_switch_released' ? ', after a kill switch was released' : trigger === 'recheck' ? ', re-check before execution' : '';
    if (i > 0) out.push('');
    out.push(`### Round ${num(d.round) ?? '?'}${why}: ${esc(str(decision.effect) ?? '?')} ${ref(item)}`, '');
    const facts: string[] = [`At ${iso(item.entry.at)}`];
    const digest = str(decision.policyDigest);
    if (digest !== undefined) facts.push(`policy digest ${code(digest)}`);
    const approval = rec(decision.approval);
    if (num(approval.quorum) !== undefined) {
      const groups = list(approval.groups).map((g) => esc(String(g)));
      facts.push(`approval required: ${num(approval.quorum)} from ${groups.length === 0 ? 'any approver' : groups.join(' or ')}, expiring after ${durationText(approval.expiresInMs)}`);
    }
    if (d.suggest === true) facts.push('autonomy level suggest: not to be executed');
    out.push(`${facts.join('; ')}.`, '');
    const rows = reasonRows(decision);
    out.push(...(rows.length === 0 ? ['No reason recorded.'] : table(['Rule', 'Effect', 'Reason'], rows)));
  }

  // Approvals
  section('Approvals');
  const requested = of('approval.requested');
  const votes = of('approval.voted');
  const counted = votes.filter((v) => v.entry.data.counted !== false);
  const refused = votes.filter((v) => v.entry.data.counted === false);
  const decided = of('approval.decided');
  const consumed = of('approval.consumed');
  out.push('### Requested', '');
  if (requested.length === 0) out.push('No approval was requested.');
  else {
    out.push(...table(['Time', 'Approval', 'Needs', 'Expires after', 'Requester', 'Entry'], requested.map((item) => {
      const d = item.entry.data;
      const requirement = rec(d.requirement);
      const groups = list(requirement.groups).map((g) => esc(String(g)));
      return [iso(item.entry.at), code(str(d.approvalId) ?? '?', true), `${num(requirement.quorum) ?? '?'} from ${groups.length === 0 ? 'any approver' : groups.join(' or ')}`, durationText(requirement.expiresInMs), esc(str(d.requester) ?? '?'), ref(item)];
    })));
  }
  out.push('', '### Votes', '');
  if (counted.length === 0) out.push('No vote was counted.');
  else {
    out.push(...table(['Time', 'Approval', 'Voter', 'Kind', 'Vote', 'Comment', 'Entry'], counted.map((item) => {
      const d = item.entry.data;
      const decision = str(d.decision) === 'deny' ? 'denied' : str(d.decision) === 'approve' ? 'granted' : esc(str(d.decision) ?? '?');
      return [iso(item.entry.at), code(str(d.approvalId) ?? '?', true), voterText(d, true), esc(str(rec(d.voter).kind) ?? '?'), decision, esc(str(d.comment) ?? ''), ref(item)];
    })));
  }
  out.push('', '### Refused votes', '');
  if (refused.length === 0) out.push('No vote was refused.');
  else {
    out.push(...table(['Time', 'Approval', 'Voter', 'Kind', 'Tried', 'Refusal', 'Reason', 'Entry'], refused.map((item) => {
      const d = item.entry.data;
      return [iso(item.entry.at), code(str(d.approvalId) ?? '?', true), voterText(d, true), esc(str(rec(d.voter).kind) ?? '?'), esc(str(d.decision) ?? '?'), code(str(d.code) ?? '?', true), esc(str(d.reason) ?? ''), ref(item)];
    })));
  }
  out.push('', '### Decisions', '');
  if (decided.length === 0) out.push('No approval request was decided.');
  else {
    out.push(...table(['Time', 'Approval', 'Status', 'By', 'Approvals', 'Comment', 'Entry'], decided.map((item) => {
      const d = item.entry.data;
      return [iso(item.entry.at), code(str(d.approvalId) ?? '?', true), esc(str(d.status) ?? '?'), esc(str(d.by) ?? item.entry.actor), `${num(d.approvals) ?? '?'} of ${num(d.quorum) ?? '?'}`, esc(str(d.comment) ?? ''), ref(item)];
    })));
  }
  out.push('', '### Grants used', '');
  if (consumed.length === 0) out.push('No grant was used.');
  else {
    out.push(...table(['Time', 'Approval', 'Result', 'Entry'], consumed.map((item) => {
      const d = item.entry.data;
      const result = d.ok === true ? 'used once' : `refused: ${code(str(d.code) ?? '?', true)} ${esc(str(d.reason) ?? '')}`;
      return [iso(item.entry.at), code(str(d.approvalId) ?? '?', true), result, ref(item)];
    })));
  }

  // Writes without an approval
  out.push('', '### Writes without an approval', '');
  const writes = calls.filter((c) => c.entry.data.phase === 'plan' && (str(c.entry.data.risk) ?? '').startsWith('write'));
  if (writes.length === 0) out.push('No write step ran.');
  else {
    const bypassed = writes.filter((call) => !consumed.some((c) => c.index < call.index && (c.entry.data.ok === true || c.entry.data.code === 'APPROVAL_ALREADY_CONSUMED')));
    if (bypassed.length === 0) out.push('Every write ran under an approval that was granted and used once.');
    for (const call of bypassed) {
      const d = call.entry.data;
      const governing = decisions.filter((item) => item.index < call.index).at(-1);
      const decision = rec(governing?.entry.data.decision);
      let why: string;
      if (governing === undefined) why = '**no policy decision precedes it**';
      else if (str(decision.effect) === 'allow') {
        const autonomy = governing.entry.data.notify === true ? 'autonomy level auto-notify (people were told)' : 'autonomy level auto';
        why = `policy allowed it (${ruleList(decision)}) and the ${autonomy} asked for no approval ${ref(governing)}`;
      } else why = `**the decision was ${esc(str(decision.effect) ?? '?')} but no grant was used** ${ref(governing)}`;
      out.push(`- Step ${code(str(d.stepId) ?? '?')} ${code(str(d.tool) ?? '?')} (${esc(str(d.risk) ?? '?')}) ran without an approval ("bypassed") ${ref(call)}: ${why}.`);
    }
  }

  // Tool calls
  section('Tool calls');
  const executed = calls.filter((c) => c.entry.data.phase !== 'compensation');
  if (executed.length === 0) out.push('No tool was called.');
  for (const [i, call] of executed.entries()) {
    if (i > 0) out.push('');
    out.push(...callLines(call, resultOf.get(call.index)));
  }

  // Compensations
  section('Compensations');
  const undone = calls.filter((c) => c.entry.data.phase === 'compensation');
  const escalations = of('mission.escalated');
  const notCompensable = escalations.flatMap((item) => list(rec(item.entry.data.evidence).compensations).filter((c) => str(rec(c).tool) === undefined).map((c) => ({ item, stepId: str(rec(c).stepId) ?? '?', status: str(rec(c).status) ?? '' })));
  if (undone.length === 0 && notCompensable.length === 0) out.push('Nothing was compensated.');
  for (const [i, call] of undone.entries()) {
    if (i > 0) out.push('');
    out.push(...callLines(call, resultOf.get(call.index)));
  }
  if (notCompensable.length > 0) {
    if (undone.length > 0) out.push('');
    for (const { item, stepId, status } of notCompensable) out.push(`- Step ${code(stepId)}: ${esc(status)} ${ref(item)}.`);
  }

  // Verification
  section('Verification');
  const verifications = of('verification.checked');
  if (verifications.length === 0) out.push('Nothing was verified.');
  else {
    out.push(...table(['Step', 'Tool', 'Result', 'Observed', 'Checks', 'Entry'], verifications.map((item) => {
      const d = item.entry.data;
      return [code(str(d.stepId) ?? '?', true), code(str(d.tool) ?? '?', true), d.ok === true ? 'passed' : '**failed**', esc(str(d.observed) ?? ''), String(num(d.checks) ?? '?'), ref(item)];
    })));
  }

  // Failed closed, kill switches and guards
  section('Failed closed, kill switches and guards');
  const notes: string[] = [];
  for (const item of own.filter((r) => isRecord(r.entry.data.auditOutage))) {
    const outage = rec(item.entry.data.auditOutage);
    notes.push(`- Failed closed: the audit log refused this mission's entries from ${iso(outage.since)} (${esc(str(outage.error) ?? 'no reason recorded')}); the mission waited and went on only once ${ref(item)} (${esc(item.entry.kind)}) was recorded, at ${iso(item.entry.at)}.`);
  }
  if (mission.waitingFor === 'audit') notes.push('- Failed closed now: the mission waits for the audit log (waiting for `audit`, from the mission\'s state; nothing more runs until its next entry is recorded).');
  for (const item of of('kill_switch.changed')) {
    const d = item.entry.data;
    notes.push(`- Kill switch ${code(str(d.scope) ?? '?')} ${d.engaged === true ? `engaged by ${esc(item.entry.actor)}${str(d.reason) === undefined ? '' : `: ${esc(str(d.reason)!)}`}` : `released by ${esc(item.entry.actor)}`} at ${iso(item.entry.at)} ${ref(item)}.`);
  }
  for (const item of decisions.filter((r) => r.entry.data.trigger === 'kill_switch_released' || (num(r.entry.data.round) ?? 0) > 100)) {
    notes.push(`- Parked by a kill switch before a write; once it was released, the remaining steps were reviewed again: ${esc(str(rec(item.entry.data.decision).effect) ?? '?')} ${ref(item)}.`);
  }
  if (mission.waitingFor === 'kill_switch') notes.push('- Parked now: the mission waits for a kill switch to be released (waiting for `kill_switch`, from the mission\'s state).');
  for (const item of escalations) {
    const guard = rec(rec(item.entry.data.evidence).guard);
    const kind = str(guard.kind);
    if (kind !== undefined) notes.push(`- Stopped by the ${esc(kind.replace('_', ' '))} guard: ${esc(str(item.entry.data.reason) ?? '')} ${ref(item)}.`);
  }
  out.push(...(notes.length === 0 ? ['The mission never failed closed, was never parked by a kill switch and was never stopped by a guard.'] : notes));

  // Who corrected what
  section('Who corrected what');
  const corrections: string[] = [];
  for (const item of [...of('mission.closed'), ...escalations, ...counted.filter((v) => v.entry.data.decision === 'deny'), ...consumed.filter((c) => c.entry.data.ok !== true), ...of('policy.changed'), ...requested.slice(1)].sort((a, b) => a.index - b.index)) {
    const d = item.entry.data;
    switch (item.entry.kind) {
      case 'mission.closed': {
        const outcomeText = str(d.outcome);
        if (outcomeText === 'cancelled') corrections.push(`- Cancelled by ${esc(str(d.by) ?? '?')} at ${iso(item.entry.at)}: ${esc(str(d.reason) ?? '')} ${ref(item)}.`);
        else if (outcomeText === 'denied') {
          const comment = str(d.comment);
          corrections.push(str(d.by) === undefined
            ? `- Denied by policy at ${iso(item.entry.at)}: ${esc(str(d.reason) ?? '')} ${ref(item)}.`
            : `- Rejected by ${esc(str(d.by)!)} at ${iso(item.entry.at)}${comment === undefined ? '' : `, saying: ${esc(comment)}`} ${ref(item)}.`);
        }
        break;
      }
      case 'mission.escalated':
        corrections.push(`- Escalated to people at ${iso(item.entry.at)}${str(d.stepId) === undefined ? '' : ` (step ${code(str(d.stepId)!)})`}: ${esc(str(d.reason) ?? '')} ${ref(item)}.`);
        break;
      case 'approval.voted':
        corrections.push(`- ${voterText(d, false)} denied approval ${code(str(d.approvalId) ?? '?')} at ${iso(item.entry.at)}${str(d.comment) === undefined ? '' : `, saying: ${esc(str(d.comment)!)}`} ${ref(item)}.`);
        break;
      case 'approval.consumed':
        corrections.push(`- The grant of approval ${code(str(d.approvalId) ?? '?')} no longer applied at ${iso(item.entry.at)} (${code(str(d.code) ?? '?')}: ${esc(str(d.reason) ?? '')}); the plan went back to review ${ref(item)}.`);
        break;
      case 'policy.changed':
        corrections.push(`- The policy set changed from ${code(str(d.previousDigest) ?? '?')} to ${code(str(d.digest) ?? '?')}, reloaded by ${esc(item.entry.actor)} at ${iso(item.entry.at)} ${ref(item)}.`);
        break;
      case 'approval.requested':
        corrections.push(`- Approval was asked for again: ${code(str(d.approvalId) ?? '?')} at ${iso(item.entry.at)} ${ref(item)}.`);
        break;
      default:
        break;
    }
  }
  out.push(...(corrections.length === 0 ? ['Nobody cancelled, rejected or corrected the mission, and it did not escalate.'] : corrections));

  // Stage history
  section('Stage history');
  const transitions = of('stage.transition');
  if (transitions.length === 0) out.push('No stage transition was recorded.');
  else {
    out.push(...table(['Seq', 'Stage', 'Reason', 'Time', 'Entry'], transitions.map((item) => {
      const d = item.entry.data;
      return [String(num(d.seq) ?? '?'), esc(str(d.to) ?? '?'), esc(str(d.reason) ?? ''), iso(item.entry.at), ref(item)];
    })));
  }

  // Entries
  section('Audit entries');
  if (records.length === 0) out.push('No audit entry concerns this mission.');
  else {
    out.push(...table(['Entry', 'Time', 'Kind', 'Actor'], records.map((item) => [ref(item), iso(item.entry.at), esc(item.entry.kind), esc(item.entry.actor)])));
  }
  return `${out.join('\n')}\n`;
}

/** One tool call (or compensation) with its arguments and its result or error. */
function callLines(call: MissionReportRecord, result: MissionReportRecord | undefined): string[] {
  const d = call.entry.data;
  const r = result?.entry.data;
  const status = r === undefined ? 'no result recorded (it was running, or the worker stopped during the call)' : `${esc(str(r.status) ?? '?')} in ${seconds(r.seconds)}${r.recovered === true ? ', its outcome recovered by probing' : ''}`;
  const lines = [
    `### ${code(str(d.stepId) ?? '?')} ${code(str(d.tool) ?? '?')} (${esc(str(d.risk) ?? '?')}), attempt ${num(d.attempt) ?? '?'}: ${status} ${ref(call)}${result === undefined ? '' : ` ${ref(result)}`}`,
    '',
    `Called at ${iso(call.entry.at)}${str(d.idempotencyKey) === undefined ? '' : ` with idempotency key ${code(str(d.idempotencyKey)!)}`}. Arguments:`,
    '',
    ...jsonBlock(d.args ?? {}, call.index),
  ];
  if (r !== undefined) {
    const failed = r.error !== undefined && str(r.status) !== 'succeeded';
    lines.push('', failed ? 'Error:' : 'Result:', '', ...jsonBlock(failed ? r.error : r.result, result!.index));
  }
  return lines;
}
