/**
 * The change request (CAB) draft assistant (issue #8, part 3b), built-in deterministic version: from
 * an engineer's technical notes (Markdown or plain text), a list of known systems and an optional
 * requested window, a change request draft for the change advisory board: what changes and why, the
 * affected systems with their owners and tiers (and the hosts, addresses and names the inventory does
 * not know), a risk level with its reasons, the implementation steps, the rollback and validation
 * steps, and what is missing. It approves nothing and decides nothing.
 *
 * The notes are read with a small line-based Markdown reader (ATX and setext headings, `Label:`
 * lines, bulleted and numbered lists with continuation lines, fenced code blocks, paragraphs): no
 * Markdown parser is among Interlock's dependencies, and this needs only the block structure. The
 * notes are untrusted (they may quote anything): the draft carries them fenced, as data. Pure: no I/O.
 */
import { z } from 'zod';
import { fenceUntrusted } from '../../core/agents/untrusted.js';

/** The heading every change request draft starts with. */
export const CHANGE_REQUEST_HEADING = 'DRAFT — change request by Interlock (it approves nothing)';

/** What the draft says about approval, always. */
export const CHANGE_REQUEST_APPROVAL = 'required: this draft approves nothing; the change advisory board decides';

/** A known system: a service, host, database, queue... */
export const InventorySystemSchema = z.object({
  name: z.string().min(1).max(200),
  kind: z.string().min(1).max(50).describe('service, host, database, queue, cluster, ...'),
  owner: z.string().min(1).max(200),
  tier: z.string().min(1).max(50).optional().describe('critical, high, standard, low (or tier-0..tier-3, production, ...).'),
}).strict();
export type InventorySystem = z.output<typeof InventorySystemSchema>;

/** What {@link draftChangeRequest} reads. */
export interface ChangeRequestInput {
  /** The engineer's technical notes, Markdown or plain text. */
  readonly notes: string;
  /** Known systems, matched by name against the notes. */
  readonly inventory?: readonly InventorySystem[];
  /** The requested maintenance window, free text (e.g. `2026-04-02 22:00–23:00 UTC`). */
  readonly window?: string;
  /** Whom to route to when no affected system is in the inventory. @default 'the change advisory board' */
  readonly defaultOwner?: string;
}

const AffectedSystemSchema = z.object({
  name: z.string(),
  kind: z.string().describe('From the inventory; for an unknown system: host, ip, url, k8s-namespace, k8s-workload or database.'),
  known: z.boolean().describe('In the inventory.'),
  owner: z.string().nullable(),
  tier: z.string().nullable(),
  mention: z.string().describe('Where the notes name it (one line, shortened).'),
}).strict();

/** A change request draft: it approves nothing. */
export const ChangeRequestDraftSchema = z.object({
  draft: z.literal(true),
  title: z.string(),
  summary: z.string().describe('What changes and why, in 3 to 5 sentences.'),
  affectedSystems: z.array(AffectedSystemSchema),
  risk: z.object({ level: z.enum(['low', 'medium', 'high']), reasons: z.array(z.string()) }).strict(),
  implementationSteps: z.array(z.string()),
  rollback: z.object({ present: z.boolean(), steps: z.array(z.string()) }).strict(),
  validation: z.object({ present: z.boolean(), steps: z.array(z.string()) }).strict(),
  window: z.string().nullable().describe('The requested maintenance window, or what the notes say about it.'),
  missing: z.array(z.string()),
  routeTo: z.object({ owner: z.string(), reason: z.string() }).strict(),
  approval: z.literal(CHANGE_REQUEST_APPROVAL),
  untrusted: z.string().describe('The notes, fenced as untrusted data.'),
}).strict();
export type ChangeRequestDraft = z.output<typeof ChangeRequestDraftSchema>;

// ---------------------------------------------------------------------------------------------
// Reading the notes' structure

type Section = 'none' | 'steps' | 'rollback' | 'validation' | 'window' | 'communication' | 'approval' | 'why' | 'other';

interface Block {
  readonly section: Section;
  readonly kind: 'heading' | 'item' | 'paragraph' | 'code';
  text: string;
}

/** The section a heading (or a `Label:`) opens; `other` for one this reader has no use for. */
function classify(heading: string): Section {
  const text = heading.toLowerCase();
  if (/\b(roll ?-?back|back ?-?out|revert|undo|fallback|recovery)\b/.test(text)) return 'rollback';
  if (/\b(validat\w*|verif\w*|test plan|testing|tests?|smoke|post[- ]?(change |deploy(ment)? )?checks?|checks?|success criteria|acceptance)\b/.test(text)) return 'validation';
  if (/\b(approv\w*|sign[- ]?off|authori[sz]\w*)\b/.test(text)) return 'approval';
  if (/\b(communicat\w*|comms|notif\w*|announce\w*|stakeholders?)\b/.test(text)) return 'communication';
  if (/\b(window|schedul\w*|timing|when|date)\b/.test(text)) return 'window';
  if (/\b(why|reasons?|motivation|background|justification|context|rationale|problem)\b/.test(text)) return 'why';
  if (/\b(steps?|plan|implementation|procedure|execution|tasks?|how|actions?|changes?)\b/.test(text)) return 'steps';
  return 'other';
}

const ATX = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const SETEXT = /^\s{0,3}(=+|-+)\s*$/;
const ITEM = /^(\s*)([-*+•]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(.*)$/;
const FENCE = /^\s*(`{3,}|~{3,})/;
/** `Rollback:` or `**Rollback:** text`: a label naming a section, and what follows it on the line. */
const LABEL = /^\s*(?:\*\*|__)?([A-Za-z][A-Za-z /&'()-]{1,40}?)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(.*)$/;

function plain(text: string): string {
  return text.replace(/(\*\*|__)(.+?)\1/g, '$2').replace(/`([^`]*)`/g, '$1').replace(/\s+/g, ' ').trim();
}

/** The notes as blocks, each in the section of the heading above it. */
function readBlocks(notes: string): Block[] {
  const lines = notes.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let section: Section = 'none';
  let open: Block | undefined;
  let itemIndent = 0;
  let fence: string | undefined;
  const push = (block: Block): void => {
    blocks.push(block);
    open = block.kind === 'heading' ? undefined : block;
  };
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (fence !== undefined) {
      if (line.trim().startsWith(fence)) fence = undefined;
      else if (open?.kind === 'code') open.text += `${open.text === '' ? '' : '\n'}${line}`;
      continue;
    }
    const fenced = FENCE.exec(line);
    if (fenced !== null) {
      fence = fenced[1]!;
      push({ section, kind: 'code', text: '' });
      continue;
    }
    if (line.trim() === '') {
      open = open?.kind === 'item' ? open : undefined;
      continue;
    }
    const atx = ATX.exec(line);
    if (atx !== null) {
      section = classify(atx[2]!);
      push({ section, kind: 'heading', text: plain(atx[2]!) });
      continue;
    }
    const next = lines[index + 1];
    if (next !== undefined && SETEXT.test(next) && open === undefined && !ITEM.test(line)) {
      section = classify(line);
      push({ section, kind: 'heading', text: plain(line) });
      index++;
      continue;
    }
    const item = ITEM.exec(line);
    if (item !== null) {
      // A list item directly under a `Label:` line belongs to that label's section.
      itemIndent = item[1]!.length;
      push({ section, kind: 'item', text: item[3]! });
      continue;
    }
    if (open?.kind === 'item' && /^\s+/.test(line) && line.search(/\S/) > itemIndent) {
      open.text += ` ${line.trim()}`;
      continue;
    }
    const label = LABEL.exec(line);
    if (label !== null && !/^https?$/i.test(label[1]!.trim())) {
      const labelled = classify(label[1]!);
      if (labelled !== 'other') {
        section = labelled;
        const rest = label[2]!.trim();
        push({ section, kind: 'heading', text: plain(label[1]!) });
        if (rest !== '') push({ section, kind: 'paragraph', text: rest });
        continue;
      }
    }
    if (open?.kind === 'paragraph') open.text += ` ${line.trim()}`;
    else push({ section, kind: 'paragraph', text: line.trim() });
  }
  return blocks.map((block) => (block.kind === 'code' ? block : { ...block, text: block.kind === 'heading' ? block.text : plain(block.text) }));
}

// ---------------------------------------------------------------------------------------------
// Sentences and steps

const CHANGE_VERBS = 'upgrade|downgrade|update|install|uninstall|restart|reboot|stop|start|reload|bump|raise|increase|decrease|lower|reduce|set|change|deploy|redeploy|roll out|apply|run|execute|migrate|patch|enable|disable|turn|switch|fail over|failover|promote|demote|drain|cordon|uncordon|scale|rotate|renew|replace|remove|delete|drop|add|create|provision|decommission|configure|reconfigure|edit|merge|push|tag|release|back up|backup|snapshot|take|truncate|vacuum|reindex|resize|move|rename|point|flip|open|close|block|unblock|allow|grant|revoke|pause|resume|suspend|upload|copy|sync|flush|purge|clear|kill|terminate|put|mount|unmount|extend|shrink|pin|unpin|import|export|backfill|seed|reset|refresh|re-?enable|re-?run';
const VALIDATION_VERBS = 'verify|check|confirm|validate|monitor|watch|ensure|test|smoke[- ]test|compare|observe|measure|look at|make sure';
const ROLLBACK_WORDS = /\b(roll(?:ing|ed)? ?-?back|revert(?:ing|ed)?|back ?-?out|undo|restore (?:from|the)|downgrade back|switch back|put back|go back)\b/i;
const NO_ROLLBACK = /\b(no (?:rollback|roll-back|roll back|back ?out|way back|revert)|(?:cannot|can't|can not) be (?:rolled back|reverted|undone)|irreversible|one[- ]way|not reversible)\b|^\s*(none|n\/?a|tbd|todo|-|—|\?)\s*\.?$/i;
const STARTS_CHANGE = new RegExp(`^(?:then\\s+|and\\s+|finally,?\\s+|first,?\\s+|next,?\\s+)?(?:${CHANGE_VERBS})\\b`, 'i');
const STARTS_VALIDATION = new RegExp(`^(?:then\\s+|and\\s+|finally,?\\s+|afterwards,?\\s+)?(?:${VALIDATION_VERBS})\\b`, 'i');

function sentences(text: string): string[] {
  return text.split(/(?<=[.!?])\s+|\n+/).map((one) => one.trim()).filter((one) => one !== '');
}

const VERB_AHEAD = `(?=(?:${CHANGE_VERBS}|${VALIDATION_VERBS})\\b)`;
const CLAUSE_SPLIT = new RegExp(`\\s*;\\s*|\\s*,\\s*(?:and\\s+|then\\s+)?${VERB_AHEAD}|\\s+(?:and\\s+)?then\\s+${VERB_AHEAD}|\\s+and\\s+${VERB_AHEAD}`, 'i');

/** A sentence split into its imperative clauses: `Upgrade X, restart Y and bump Z.` gives three. */
function clauses(sentence: string): string[] {
  return sentence.replace(/[.!]+$/, '').split(CLAUSE_SPLIT)
    .map((clause) => clause.trim().replace(/^(?:then|and|finally,?|first,?|next,?|afterwards,?)\s+/i, ''))
    .filter((clause) => clause !== '')
    .map((clause) => clause.charAt(0).toUpperCase() + clause.slice(1));
}

/** The clauses of `text` that are imperative changes or checks. */
function imperatives(text: string, kind: 'change' | 'validation'): string[] {
  const starts = kind === 'change' ? STARTS_CHANGE : STARTS_VALIDATION;
  return sentences(text).flatMap((sentence) => (STARTS_CHANGE.test(sentence) || STARTS_VALIDATION.test(sentence) ? clauses(sentence) : [])).filter((clause) => starts.test(clause));
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items.map((item) => item.trim()).filter((item) => item !== ''))];
}

// ---------------------------------------------------------------------------------------------
// Systems

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The line of `notes` around `index`, shortened. */
function mentionAt(notes: string, index: number): string {
  const start = notes.lastIndexOf('\n', index) + 1;
  const end = notes.indexOf('\n', index);
  const line = plain(notes.slice(start, end === -1 ? undefined : end)).replace(/^([-*+•]|\d{1,3}[.)])\s+/, '');
  return line.length <= 160 ? line : `${line.slice(0, 157)}…`;
}

const FILE_EXTENSIONS = /\.(ya?ml|json|conf|cfg|ini|sql|sh|py|js|mjs|ts|md|txt|log|toml|xml|env|service|tar|gz|tgz|zip|pem|crt|key|html?|lock|d|rb|go|rs|java|jar|war|rpm|deb|csv|bak|dump|old|new|tmp|pid|sock|properties|tf|tfvars)$/i;
const NOT_HOSTS = /^(utf|sha|rfc|iso|cve|pep|es|ecma|ipv|x|ubuntu|debian|rhel|centos|node|python|java|go|k8s|v|tls|ssl|http|p|q|h|pg|postgres|postgresql|mysql|redis|kafka|covid|step|phase|stage|jira|ticket|chg|inc|cab|ops|sre|ver|version|release|build|pr|issue)-/i;

interface Found { readonly name: string; readonly kind: string; readonly index: number }

/** Hosts, addresses, URLs, Kubernetes namespaces and workloads, and database names the notes name. */
function findSystems(notes: string): Found[] {
  const found: Found[] = [];
  const add = (name: string, kind: string, index: number): void => {
    const clean = name.replace(/[.,;:!?)\]}'"`]+$/, '');
    if (clean !== '') found.push({ name: clean, kind, index });
  };
  const urls: Array<[number, number]> = [];
  for (const match of notes.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/[^\s)>\]"'`]+/gi)) {
    add(match[0], 'url', match.index);
    urls.push([match.index, match.index + match[0].length]);
  }
  const inUrl = (index: number): boolean => urls.some(([start, end]) => index >= start && index < end);
  for (const match of notes.matchAll(/(?<![\w.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?:\/\d{1,2})?(?::\d{1,5})?(?![\w.])/g)) {
    if (!inUrl(match.index)) add(match[0], 'ip', match.index);
  }
  for (const match of notes.matchAll(/(?<![\w./@-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?::\d{1,5})?(?![\w-]|\.\w)/gi)) {
    const name = match[0];
    if (inUrl(match.index) || FILE_EXTENSIONS.test(name.replace(/:\d+$/, '')) || /^\d/.test(name) || !/[a-z]/i.test(name.split('.')[0]!)) continue;
    // e.g. "e.g", "i.e", a version like v1.2: two short labels are not a host name.
    if (name.split('.').length < 3 && !/\.(com|net|org|io|internal|local|lan|corp|cloud|dev|prod|example)$/i.test(name)) continue;
    add(name, 'host', match.index);
  }
  for (const match of notes.matchAll(/(?<![\w./@-])[a-z][a-z0-9]*(?:-[a-z0-9]+)*-\d{1,4}[a-z]?(?![\w.-]|\.\w)/gi)) {
    if (!inUrl(match.index) && !NOT_HOSTS.test(match[0])) add(match[0], 'host', match.index);
  }
  for (const match of notes.matchAll(/(?:\s-n\s+|--namespace[= ]\s*|\bnamespace\s+|\bns\/)[`"']?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)/gi)) {
    const name = match[1]!;
    if (!/^(the|a|an|is|of|in|on|for|to|and|with)$/i.test(name)) add(name, 'k8s-namespace', match.index);
  }
  for (const match of notes.matchAll(/\b(deployment|deploy|statefulset|sts|daemonset|ds|cronjob|job|svc|pod)\/([a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)/gi)) {
    add(`${match[1]!.toLowerCase()}/${match[2]!}`, 'k8s-workload', match.index);
  }
  for (const match of notes.matchAll(/\b(?:database|db|schema)\s+[`"']?([a-z_][a-z0-9_]{2,62})[`"']?/gi)) {
    const name = match[1]!;
    if (!/^(the|is|on|to|for|and|with|server|servers|pool|pools|host|hosts|migration|migrations|upgrade|upgrades|connection|connections|cluster|version|instance|primary|replica|replicas|level|change|changes|side|load|size|team|owner|backup|backups|restart|user|users|schema|config|settings|engine|node|nodes|from|into|that|this|will|was|are|has|have|but|not|only|first|after|before|via)$/i.test(name)) add(name, 'database', match.index);
  }
  for (const match of notes.matchAll(/\bpsql\b[^\n]*?\s(?:-d|--dbname[= ])\s*([a-z_][a-z0-9_]{0,62})/gi)) add(match[1]!, 'database', match.index);
  return found.sort((a, b) => a.index - b.index);
}

/** Rank of a tier, 0 (most critical) to 4 (unknown). */
function tierRank(tier: string | null | undefined): number {
  if (tier === undefined || tier === null) return 4;
  const text = tier.toLowerCase();
  if (/^(critical|crit|tier[- ]?0|t0|p0|mission[- ]critical|gold)$/.test(text)) return 0;
  if (/^(high|tier[- ]?1|t1|p1|prod|production|silver)$/.test(text)) return 1;
  if (/^(standard|medium|normal|tier[- ]?2|t2|p2|bronze)$/.test(text)) return 2;
  if (/^(low|tier[- ]?3|t3|p3|dev|development|test|staging|non[- ]?prod)$/.test(text)) return 3;
  return 4;
}

/**
 * The inventory's systems the notes name (a name as a whole word; a mention only in the "why" part is
 * context, not a system the change touches), then the systems the inventory does not know.
 */
function affectedSystems(notes: string, inventory: readonly InventorySystem[], context: readonly string[]): ChangeRequestDraft['affectedSystems'] {
  const known: Array<ChangeRequestDraft['affectedSystems'][number] & { index: number }> = [];
  for (const system of inventory) {
    const pattern = new RegExp(`(?<![A-Za-z0-9_.-])${escapeRegExp(system.name)}(?![A-Za-z0-9_-])`, 'gi');
    const match = [...notes.matchAll(pattern)].find((one) => !context.some((text) => text.includes(mentionAt(notes, one.index))));
    if (match !== undefined) known.push({ name: system.name, kind: system.kind, known: true, owner: system.owner, tier: system.tier ?? null, mention: mentionAt(notes, match.index), index: match.index });
  }
  const names = new Set(inventory.map((system) => system.name.toLowerCase()));
  const unknown: typeof known = [];
  const seen = new Set<string>();
  for (const one of findSystems(notes)) {
    const key = one.name.toLowerCase();
    const firstLabel = key.replace(/^[a-z]+:\/\/(?:[^@/]*@)?/, '').split(/[.:/]/)[0] ?? key;
    const workload = key.includes('/') && !key.includes('://') ? key.split('/')[1]! : key;
    if (names.has(key) || names.has(firstLabel) || names.has(workload) || seen.has(key)) continue;
    seen.add(key);
    unknown.push({ name: one.name, kind: one.kind, known: false, owner: null, tier: null, mention: mentionAt(notes, one.index), index: one.index });
  }
  return [...known.sort((a, b) => a.index - b.index), ...unknown].map(({ index: _index, ...system }) => system);
}

// ---------------------------------------------------------------------------------------------
// The draft

const DATA_CHANGE = /\b(migrat\w*|schema change|alter table|drop (?:table|column|index|database)|truncate|delete from|update \w+ set|backfill\w*|data fix|reindex|pg_upgrade|major version|upgrade (?:\w+ )?(?:postgres(?:ql)?|mysql|mariadb|mongodb|database|db|redis|kafka|elasticsearch)|(?:postgres(?:ql)?|mysql|mariadb|mongodb|database|redis|kafka|elasticsearch) (?:\d[\w.]* )?(?:upgrade|migration))/i;
const RESTART = /\b(restart\w*|reboot\w*|fail ?over|downtime|outage|drain\w*|bounce|redeploy\w*|rolling|stop (?:the |all )?\w+)\b/i;
const WINDOW_TEXT = /\b(maintenance window|change window|\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}|tonight|this weekend|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b/i;
const WINDOW_PRECISE = /\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}/;
const APPROVAL_TEXT = /\b(approved by|approval (?:from|of)|approvers?:|signed off|sign-?off (?:from|by)|agreed (?:by|with)|ok(?:'d)? by)\b/i;
const COMMUNICATION_TEXT = /\b(notify|notified|announce\w*|status ?page|communicat\w*|inform\w*|heads-up|email\w*|post in|slack)\b|(?<![\w&])#[a-z][a-z0-9_-]+/i;
const WHY_TEXT = /\b(because|so that|in order to|to fix|to address|to avoid|to reduce|to resolve|due to|fixes|addresses|required by|needed (?:for|to|because)|reason|cve-\d{4}-\d+|end of life|eol|security)\b/i;

function sectionText(blocks: readonly Block[], section: Section): Block[] {
  return blocks.filter((block) => block.section === section && block.kind !== 'heading');
}

/**
 * The change request draft of `input.notes`. Deterministic. Steps come from lists (bulleted or
 * numbered) in the steps part of the notes (or anywhere outside rollback and validation sections when
 * there is no steps heading), else from imperative sentences; rollback and validation steps from
 * sections headed Rollback/Backout/Revert and Validation/Verification/Test plan (or `Label:` lines),
 * else from sentences that say how to undo or check. Never throws; vague notes give a draft that
 * lists what is missing.
 */
export function draftChangeRequest(input: ChangeRequestInput): ChangeRequestDraft {
  const notes = input.notes;
  const blocks = readBlocks(notes);
  const inventory = input.inventory ?? [];

  const headings = blocks.filter((block) => block.kind === 'heading');
  // Plain notes often start with a subject line: one short line, no full stop, before a blank line.
  const first = blocks[0];
  const subject = headings.length === 0 && first?.kind === 'paragraph' && first.text.length <= 120 && !/[.!?]$/.test(first.text) && !first.text.includes('\n') ? first : undefined;
  const hasStepsSection = blocks.some((block) => block.section === 'steps' && block.kind !== 'heading');
  const general = blocks.filter((block) => block !== subject && block.kind !== 'heading' && (hasStepsSection ? block.section === 'steps' : ['none', 'other', 'steps', 'why'].includes(block.section)));
  const isValidationText = (text: string): boolean => STARTS_VALIDATION.test(text);
  const isRollbackText = (text: string): boolean => ROLLBACK_WORDS.test(text) && !NO_ROLLBACK.test(text);

  // Under a steps heading every list item is a step; elsewhere only items and clauses that say to change something.
  const stepsSectionItems = hasStepsSection ? general.filter((block) => block.kind === 'item').map((block) => block.text).filter((text) => !isValidationText(text) && !isRollbackText(text)) : [];
  const implementationSteps = unique(stepsSectionItems.length > 0 ? stepsSectionItems : general.flatMap((block) => {
    if (block.kind === 'item') return STARTS_CHANGE.test(block.text) && !isRollbackText(block.text) ? [block.text] : [];
    if (block.kind === 'paragraph') return sentences(block.text).filter((one) => !isRollbackText(one)).flatMap((one) => imperatives(one, 'change'));
    return [];
  }));

  const stepsOf = (section: 'rollback' | 'validation'): string[] => unique(sectionText(blocks, section).flatMap((block) => (block.kind === 'item' || block.kind === 'code' ? [block.text.trim()] : sentences(block.text))));
  const allText = blocks.filter((block) => block.kind !== 'heading' && block.kind !== 'code');
  const saysNoRollback = [...sectionText(blocks, 'rollback'), ...allText].some((block) => NO_ROLLBACK.test(block.text));
  let rollbackSteps = stepsOf('rollback').filter((text) => !NO_ROLLBACK.test(text));
  if (rollbackSteps.length === 0) {
    rollbackSteps = unique(allText.filter((block) => block.section !== 'validation').flatMap((block) => (block.kind === 'item' ? [block.text] : sentences(block.text))).filter(isRollbackText));
  }
  let validationSteps = stepsOf('validation');
  if (validationSteps.length === 0) {
    validationSteps = unique(allText.filter((block) => block.section !== 'rollback').flatMap((block) => (block.kind === 'item' ? (isValidationText(block.text) ? [block.text] : []) : imperatives(block.text, 'validation'))));
  }

  const systems = affectedSystems(notes, inventory, sectionText(blocks, 'why').map((block) => block.text));
  const knownSystems = systems.filter((system) => system.known);
  const unknownSystems = systems.filter((system) => !system.known);

  const hasSection = (section: Section): boolean => headings.some((block) => block.section === section) && sectionText(blocks, section).length > 0;
  const prose = allText.map((block) => block.text).join('\n');
  const windowFromNotes = hasSection('window') ? sectionText(blocks, 'window').map((block) => block.text).join(' ') : (sentences(prose).find((one) => WINDOW_TEXT.test(one)) ?? null);
  const window = input.window !== undefined && input.window.trim() !== '' ? input.window.trim() : windowFromNotes;
  const approvalNamed = hasSection('approval') || APPROVAL_TEXT.test(prose);
  const communication = hasSection('communication') || COMMUNICATION_TEXT.test(prose);
  const whyBlocks = sectionText(blocks, 'why').filter((block) => block.kind !== 'code');
  const why = whyBlocks.length > 0 ? whyBlocks.map((block) => block.text).join(' ') : (sentences(prose).find((one) => WHY_TEXT.test(one)) ?? null);

  // Risk: each reason adds to a score; a critical system with a data change or no rollback is high.
  const reasons: string[] = [];
  let score = 0;
  let critical = false;
  const criticalSystems = knownSystems.filter((system) => tierRank(system.tier) === 0);
  const productionSystems = knownSystems.filter((system) => tierRank(system.tier) === 1);
  if (criticalSystems.length > 0) {
    score += 2;
    critical = true;
    reasons.push(`it touches critical systems: ${criticalSystems.map((system) => `${system.name} (tier ${system.tier ?? '?'})`).join(', ')}`);
  }
  if (productionSystems.length > 0) {
    score += criticalSystems.length > 0 ? 0 : 1;
    reasons.push(`it touches production systems: ${productionSystems.map((system) => `${system.name} (tier ${system.tier ?? '?'})`).join(', ')}`);
  }
  if (!knownSystems.some((system) => tierRank(system.tier) <= 1) && /\bprod(uction)?\b/i.test(notes)) {
    score += 1;
    reasons.push('the notes name production');
  }
  // What the change does: its steps and the general text, not its rollback or validation.
  const changeText = [...implementationSteps, ...general.filter((block) => block.kind !== 'code').map((block) => block.text)].join('\n');
  const data = DATA_CHANGE.exec(changeText);
  if (data !== null) {
    score += 2;
    reasons.push(`it changes data or a database ("${data[0]}")`);
  }
  const restart = RESTART.exec(changeText);
  if (restart !== null) {
    score += 1;
    reasons.push(`it restarts or interrupts a service ("${restart[0].toLowerCase()}")`);
  }
  const rollbackPresent = rollbackSteps.length > 0;
  if (!rollbackPresent) {
    score += 2;
    reasons.push(saysNoRollback ? 'the notes say it cannot be rolled back' : 'no rollback step');
  }
  if (validationSteps.length === 0) {
    score += 1;
    reasons.push('no validation step');
  }
  if (unknownSystems.length > 0) {
    score += 1;
    reasons.push(`${unknownSystems.length} affected system(s) not in the inventory: ${unknownSystems.map((system) => system.name).join(', ')}`);
  }
  if (implementationSteps.length === 0) {
    score += 1;
    reasons.push('no implementation step could be read from the notes');
  }
  const level = score >= 5 || (critical && (data !== null || !rollbackPresent)) ? 'high' : score >= 2 ? 'medium' : 'low';

  const missing: string[] = [];
  if (implementationSteps.length === 0) missing.push('No implementation steps: list the steps in order');
  if (!rollbackPresent) missing.push('No rollback step: say how to undo each change');
  if (validationSteps.length === 0) missing.push('No validation step: say how you will know it worked');
  if (window === null) missing.push('No maintenance window: say when (start, end, time zone)');
  else if (!WINDOW_PRECISE.test(window)) missing.push('Maintenance window not precise: give start, end and time zone');
  if (!approvalNamed) missing.push('No owner approval named: name who approves for each affected system');
  if (!communication) missing.push('No communication plan: say who is told, when and where');
  if (why === null) missing.push('No reason given: say why the change is needed');
  if (systems.length === 0) missing.push('No affected system named: say which hosts, services or databases change');
  if (unknownSystems.length > 0) missing.push(`Systems not in the inventory (${unknownSystems.map((system) => system.name).join(', ')}): confirm what they are and who owns them`);

  const firstHeading = headings.find((block) => block.section === 'none' || block.section === 'other' || block.section === 'steps');
  const firstLine = blocks.find((block) => block.kind !== 'code')?.text ?? '';
  const rawTitle = firstHeading?.text ?? subject?.text ?? (implementationSteps[0] ?? (sentences(firstLine)[0] ?? 'Untitled change'));
  const title = rawTitle.length <= 120 ? rawTitle : `${rawTitle.slice(0, 117)}…`;

  const strip = (text: string): string => text.replace(/[.;:\s]+$/, '');
  const short = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
  const top = [...knownSystems].sort((a, b) => tierRank(a.tier) - tierRank(b.tier))[0];
  const summary = [
    implementationSteps.length === 0 ? `${strip(title)}: the notes give no step that can be read as a change.` : `${strip(title)}: ${implementationSteps.length} step(s), ${implementationSteps.slice(0, 3).map((step) => short(strip(step), 80)).join('; ')}${implementationSteps.length > 3 ? '; and more' : ''}.`,
    why === null ? 'The notes do not say why.' : `Why: ${short(strip(sentences(why)[0] ?? why), 200)}.`,
    systems.length === 0 ? 'No affected system could be identified.' : `It affects ${systems.map((system) => `${system.name}${system.known ? ` (${system.kind}${system.tier === null ? '' : `, tier ${system.tier}`}, owner ${system.owner ?? '?'})` : ` (${system.kind}, not in the inventory)`}`).join(', ')}.`,
    `Risk ${level}: ${reasons.length === 0 ? 'nothing raises it' : reasons.slice(0, 3).join('; ')}.`,
    `Rollback ${rollbackPresent ? 'described' : 'missing'}; validation ${validationSteps.length > 0 ? 'described' : 'missing'}.`,
  ];

  const defaultOwner = input.defaultOwner ?? 'the change advisory board';
  const routeTo = top === undefined
    ? { owner: defaultOwner, reason: systems.length === 0 ? 'no affected system could be identified' : 'no affected system is in the inventory' }
    : { owner: top.owner ?? defaultOwner, reason: `owner of ${top.name} (${top.kind}${top.tier === null ? '' : `, tier ${top.tier}`}), the highest-tier affected system` };

  return ChangeRequestDraftSchema.parse({
    draft: true,
    title,
    summary: summary.join(' '),
    affectedSystems: systems,
    risk: { level, reasons },
    implementationSteps,
    rollback: { present: rollbackPresent, steps: rollbackSteps },
    validation: { present: validationSteps.length > 0, steps: validationSteps },
    window,
    missing,
    routeTo,
    approval: CHANGE_REQUEST_APPROVAL,
    untrusted: fenceUntrusted('change notes', notes),
  });
}

function codeFence(text: string, info = 'text'): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${info}\n${text}\n${fence}`;
}

/** The draft as Markdown, headed {@link CHANGE_REQUEST_HEADING}; the original notes quoted last, inside a code fence. */
export function renderChangeRequestMarkdown(draft: ChangeRequestDraft): string {
  const lines: string[] = [`# ${CHANGE_REQUEST_HEADING}`, '', `**Title** ${draft.title}`, '', draft.summary, '', `**Approval** ${draft.approval}`, '', `**Route to** ${draft.routeTo.owner}: ${draft.routeTo.reason}`, ''];
  lines.push(`**Risk** ${draft.risk.level}`, '');
  for (const reason of draft.risk.reasons) lines.push(`- ${reason}`);
  if (draft.risk.reasons.length > 0) lines.push('');
  lines.push(`**Window** ${draft.window ?? '_not given_'}`, '');
  lines.push('## Affected systems', '');
  if (draft.affectedSystems.length === 0) lines.push('_none identified_');
  else {
    lines.push('| system | kind | tier | owner | in inventory |', '| --- | --- | --- | --- | --- |');
    const cell = (text: string | null): string => (text ?? '-').replace(/\|/g, '\\|');
    for (const system of draft.affectedSystems) lines.push(`| ${cell(system.name)} | ${cell(system.kind)} | ${cell(system.tier)} | ${cell(system.owner)} | ${system.known ? 'yes' : 'no'} |`);
  }
  lines.push('');
  const numbered = (title: string, steps: readonly string[], empty: string): void => {
    lines.push(`## ${title}`, '');
    if (steps.length === 0) lines.push(`_${empty}_`);
    else steps.forEach((step, index) => lines.push(`${index + 1}. ${step.replace(/\n/g, ' ')}`));
    lines.push('');
  };
  numbered('Implementation steps', draft.implementationSteps, 'none found');
  numbered('Rollback', draft.rollback.steps, 'missing');
  numbered('Validation', draft.validation.steps, 'missing');
  lines.push('## Missing', '');
  if (draft.missing.length === 0) lines.push('_nothing obvious_');
  for (const item of draft.missing) lines.push(`- ${item}`);
  lines.push('', '## Original notes (untrusted data, quoted; not instructions)', '', codeFence(draft.untrusted), '', '---', 'This draft approves nothing and decides nothing; the change advisory board decides.');
  return lines.join('\n');
}
