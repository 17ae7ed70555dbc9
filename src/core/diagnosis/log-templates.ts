/**
 * Online log template mining with Drain: log messages arrive one at a time, and each joins the
 * template (the cluster of messages with the same constant words) it is most similar to, or starts
 * a new one. Words that differ between messages of one template become the wildcard `<*>`.
 *
 * The algorithm is that of He et al. (ICWS 2017) as implemented by logpai/logparser and logpai/Drain3:
 * 1. Masking: each rule's regular expression replaces its matches (IPs, numbers, block IDs ...)
 *    in the message by a mask, `<*>` unless the rule names another; then the message is split on
 *    whitespace into tokens.
 * 2. Tree search: the first level of a fixed-depth prefix tree is the token count, the next
 *    `depth - 3` levels the first tokens of the message (a token with a digit goes down the `<*>`
 *    branch, and a node with `maxChildren` children sends further new tokens down `<*>` too).
 * 3. Among the templates in the leaf, the most similar one by position (share of positions whose
 *    template token equals the message token; `<*>` positions count as parameters, which break ties)
 *    is chosen if its similarity is at least `similarityThreshold`; otherwise a new template starts.
 * 4. The chosen template's positions that differ from the message become `<*>`.
 *
 * As in Drain3 (and unlike logparser), a one-token message's template sits in its token-count node,
 * so equal one-word messages share a template. The miner is pure and deterministic: the same
 * messages in the same order give the same templates and IDs. Its state exports to JSON and
 * restores, so mining can continue across restarts.
 *
 * @see https://doi.org/10.1109/ICWS.2017.13 (Drain: An Online Log Parsing Approach with Fixed Depth Tree)
 * @see https://github.com/logpai/Drain3 and https://github.com/logpai/logparser (the reference implementations)
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import { toIssues } from '../validation.js';

/** The wildcard token that stands for a variable part of a template. */
export const WILDCARD = '<*>';

/** A regular expression whose matches are masked in every message before tokenising. */
export interface MaskingRule {
  /** JavaScript regular expression source, applied to the whole message with the `g` flag. */
  readonly pattern: string;
  /** Extra flags besides `g`, e.g. `i`. @default '' */
  readonly flags?: string;
  /**
   * What each match becomes. `<*>` (the default) is a wildcard: a parameter when comparing. Any other
   * mask, e.g. `<:IP:>`, is an ordinary token, so messages differing only there count as equal.
   * @default '<*>'
   */
  readonly mask?: string;
}

/**
 * Masks for common variables, in the order they apply: UUIDs, HDFS block IDs, IPv4 addresses with
 * an optional port, hexadecimal numbers (`0x...`) and decimal numbers, each only as a whole word: not
 * inside a longer run of letters, digits and `_` (so `job_1445_0020` stays one varying token). Named
 * masks, so a template says what was there; note that a named mask is an ordinary token when
 * comparing, so two messages that differ only in masked values count as equal.
 */
export const DEFAULT_MASKING_RULES: readonly MaskingRule[] = Object.freeze([
  { pattern: '(?<![\\w-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\\w-])', mask: '<:UUID:>' },
  { pattern: '(?<!\\w)blk_-?\\d+(?!\\w)', mask: '<:BLOCK:>' },
  { pattern: '(?<![\\w.])(?:\\d{1,3}\\.){3}\\d{1,3}(?::\\d{1,5})?(?![\\w]|\\.\\w)', mask: '<:IP:>' },
  { pattern: '(?<!\\w)0[xX][0-9a-fA-F]+(?!\\w)', mask: '<:HEX:>' },
  { pattern: '(?<![\\w.-])[-+]?\\d+(?:\\.\\d+)?(?!\\w|\\.\\w)', mask: '<:NUM:>' },
]);

/** Drain's parameters; every field has a default. */
export interface LogTemplateMinerOptions {
  /**
   * Depth of the leaves of the prefix tree, counting the root and the token-count level: the first
   * `depth - 3` tokens of a message choose its leaf. At least 3.
   * @default 4
   */
  readonly depth?: number;
  /** Least similarity (share of equal positions, 0..1) for a message to join a template. @default 0.4 */
  readonly similarityThreshold?: number;
  /** Most children of one tree node; further new tokens share its `<*>` child. At least 2. @default 100 */
  readonly maxChildren?: number;
  /** Masks applied before tokenising, in order. @default DEFAULT_MASKING_RULES */
  readonly masking?: readonly MaskingRule[];
  /** Whether a token that contains a digit goes down the tree's `<*>` branch (Drain's heuristic). @default true */
  readonly parametrizeNumericTokens?: boolean;
}

/** {@link LogTemplateMinerOptions} with every default filled in. */
export interface ResolvedLogTemplateMinerOptions {
  readonly depth: number;
  readonly similarityThreshold: number;
  readonly maxChildren: number;
  readonly masking: readonly Required<MaskingRule>[];
  readonly parametrizeNumericTokens: boolean;
}

/** What {@link LogTemplateMiner.add} did with a message. */
export interface AddResult {
  /** ID of the template the message joined; IDs count up from 1 in order of creation. */
  readonly templateId: number;
  /** The template after the message joined it: tokens joined by single spaces. */
  readonly template: string;
  /** True when the message started this template. */
  readonly isNew: boolean;
  /** The message's tokens after masking, as compared with the template. */
  readonly tokens: readonly string[];
}

/** One mined template. */
export interface LogTemplate {
  readonly id: number;
  /** Tokens joined by single spaces, `<*>` where messages differed. */
  readonly template: string;
  readonly tokens: readonly string[];
  /** Number of messages that joined it. */
  readonly size: number;
}

/** A Drain miner fed one message at a time. */
export interface LogTemplateMiner {
  /** The parameters in force. */
  readonly options: ResolvedLogTemplateMinerOptions;
  /** Adds one log message (the content, without the header) and says which template it joined. */
  add(message: string): AddResult;
  /** The template with this ID, or `undefined`. */
  get(templateId: number): LogTemplate | undefined;
  /** Every template, in order of ID. */
  templates(): LogTemplate[];
  /** The whole state as a JSON-safe value, for {@link restoreLogTemplateMiner}. */
  exportState(): LogTemplateMinerState;
}

/** A node of the prefix tree in a {@link LogTemplateMinerState}: children in insertion order, and the templates of a leaf. */
export interface LogTemplateTreeNodeState {
  readonly children: ReadonlyArray<readonly [token: string, node: LogTemplateTreeNodeState]>;
  readonly templateIds: readonly number[];
}

/** The exported state of a miner: JSON-safe; `JSON.stringify` it to keep it. */
export interface LogTemplateMinerState {
  readonly format: 'interlock.log-template-miner';
  readonly version: 1;
  readonly options: ResolvedLogTemplateMinerOptions;
  readonly nextTemplateId: number;
  readonly templates: ReadonlyArray<{ readonly id: number; readonly tokens: readonly string[]; readonly size: number }>;
  /** The first level of the tree: token count and its subtree. */
  readonly tree: ReadonlyArray<readonly [tokenCount: number, node: LogTemplateTreeNodeState]>;
}

const STATE_FORMAT = 'interlock.log-template-miner' satisfies LogTemplateMinerState['format'];
const STATE_VERSION = 1 satisfies LogTemplateMinerState['version'];

// ---------------------------------------------------------------------------------------------
// Options

const maskingRuleSchema = z.object({
  pattern: z.string().min(1),
  flags: z.string().regex(/^[imsuy]*$/, 'flags among i, m, s, u, y (g is always on)').default(''),
  mask: z.string().default(WILDCARD),
});

const optionsSchema = z.object({
  depth: z.number().int().min(3).default(4),
  similarityThreshold: z.number().min(0).max(1).default(0.4),
  maxChildren: z.number().int().min(2).default(100),
  masking: z.array(maskingRuleSchema).default(() => DEFAULT_MASKING_RULES.map((rule) => ({ flags: '', mask: WILDCARD, ...rule }))),
  parametrizeNumericTokens: z.boolean().default(true),
});

/**
 * Fills in the defaults of `options` and checks them. Throws `INPUT_INVALID` naming each wrong
 * field (a depth below 3, a threshold outside 0..1); masking patterns are compiled, and checked, by
 * the miner.
 */
function resolveLogTemplateMinerOptions(options: LogTemplateMinerOptions = {}): ResolvedLogTemplateMinerOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issues = toIssues(parsed.error, 'options');
    throw new InputError('INPUT_INVALID', `log template miner options are invalid: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, issues);
  }
  return parsed.data;
}

interface CompiledMask {
  readonly regex: RegExp;
  readonly mask: string;
}

function compileMasks(rules: readonly Required<MaskingRule>[]): CompiledMask[] {
  return rules.map((rule, index) => {
    try {
      return { regex: new RegExp(rule.pattern, `g${rule.flags}`), mask: rule.mask };
    } catch (error) {
      throw new InputError('INPUT_INVALID', `masking rule ${index} is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`, [
        { path: `options.masking.${index}.pattern`, message: 'invalid regular expression', received: JSON.stringify(rule.pattern) },
      ], { cause: error });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The miner

interface TreeNode {
  readonly children: Map<string, TreeNode>;
  templateIds: number[];
}

interface Cluster {
  readonly id: number;
  tokens: string[];
  size: number;
}

const HAS_DIGIT = /\d/;
const WHITESPACE = /\s+/;

function newNode(): TreeNode {
  return { children: new Map(), templateIds: [] };
}

class DrainMiner implements LogTemplateMiner {
  readonly options: ResolvedLogTemplateMinerOptions;
  readonly #masks: readonly CompiledMask[];
  /** Drain's max node depth, `depth - 2`: the tokens at positions 1 .. depth - 3 choose the leaf. */
  readonly #maxNodeDepth: number;
  readonly #root = new Map<number, TreeNode>();
  readonly #clusters = new Map<number, Cluster>();
  #nextId = 1;

  constructor(options: ResolvedLogTemplateMinerOptions) {
    this.options = options;
    this.#masks = compileMasks(options.masking);
    this.#maxNodeDepth = options.depth - 2;
  }

  /** Masks the message, then splits it on whitespace. */
  #tokenize(message: string): string[] {
    let masked = message;
    for (const { regex, mask } of this.#masks) masked = masked.replace(regex, () => mask);
    masked = masked.trim();
    return masked === '' ? [] : masked.split(WHITESPACE);
  }

  add(message: string): AddResult {
    const tokens = this.#tokenize(message);
    const match = this.#search(tokens);
    if (match === undefined) {
      const cluster: Cluster = { id: this.#nextId++, tokens: [...tokens], size: 1 };
      this.#clusters.set(cluster.id, cluster);
      this.#insert(cluster);
      return { templateId: cluster.id, template: cluster.tokens.join(' '), isNew: true, tokens };
    }
    match.size++;
    for (let index = 0; index < tokens.length; index++) {
      if (match.tokens[index] !== tokens[index]) match.tokens[index] = WILDCARD;
    }
    return { templateId: match.id, template: match.tokens.join(' '), isNew: false, tokens };
  }

  get(templateId: number): LogTemplate | undefined {
    const cluster = this.#clusters.get(templateId);
    return cluster === undefined ? undefined : snapshot(cluster);
  }

  templates(): LogTemplate[] {
    return [...this.#clusters.values()].sort((a, b) => a.id - b.id).map(snapshot);
  }

  /** The leaf for `tokens` (Drain's tree search), then the most similar template in it, if similar enough. */
  #search(tokens: readonly string[]): Cluster | undefined {
    const count = tokens.length;
    let node = this.#root.get(count);
    if (node === undefined) return undefined;
    for (let depth = 1; depth < this.#maxNodeDepth && depth < count; depth++) {
      const token = tokens[depth - 1] as string;
      const next: TreeNode | undefined = node.children.get(token) ?? node.children.get(WILDCARD);
      if (next === undefined) return undefined;
      node = next;
    }
    return this.#fastMatch(node.templateIds, tokens);
  }

  #fastMatch(ids: readonly number[], tokens: readonly string[]): Cluster | undefined {
    let best: Cluster | undefined;
    let bestSimilarity = -1;
    let bestParameters = -1;
    for (const id of ids) {
      const cluster = this.#clusters.get(id) as Cluster;
      let similar = 0;
      let parameters = 0;
      for (let index = 0; index < tokens.length; index++) {
        const token = cluster.tokens[index];
        if (token === WILDCARD) parameters++;
        else if (token === tokens[index]) similar++;
      }
      // An empty message always matches the one template of token count 0.
      const similarity = tokens.length === 0 ? 1 : similar / tokens.length;
      if (similarity > bestSimilarity || (similarity === bestSimilarity && parameters > bestParameters)) {
        best = cluster;
        bestSimilarity = similarity;
        bestParameters = parameters;
      }
    }
    return best !== undefined && bestSimilarity >= this.options.similarityThreshold ? best : undefined;
  }

  /** Adds a new template's path to the tree (Drain's addSeqToPrefixTree) and the template to its leaf. */
  #insert(cluster: Cluster): void {
    const count = cluster.tokens.length;
    let node = this.#root.get(count);
    if (node === undefined) {
      node = newNode();
      this.#root.set(count, node);
    }
    for (let depth = 1; depth < this.#maxNodeDepth && depth < count; depth++) {
      const token = cluster.tokens[depth - 1] as string;
      node = this.#child(node, token);
    }
    node.templateIds.push(cluster.id);
  }

  /** The child of `node` a new template's `token` goes down, creating it when Drain's rules allow. */
  #child(node: TreeNode, token: string): TreeNode {
    const existing = node.children.get(token);
    if (existing !== undefined) return existing;
    const { maxChildren, parametrizeNumericTokens } = this.options;
    const wildcard = node.children.get(WILDCARD);
    if (parametrizeNumericTokens && HAS_DIGIT.test(token)) return wildcard ?? setChild(node, WILDCARD);
    if (wildcard !== undefined) return node.children.size < maxChildren ? setChild(node, token) : wildcard;
    if (node.children.size + 1 < maxChildren) return setChild(node, token);
    // The last free place is kept for the wildcard child, which takes every further new token.
    return setChild(node, WILDCARD);
  }

  exportState(): LogTemplateMinerState {
    return {
      format: STATE_FORMAT,
      version: STATE_VERSION,
      options: { ...this.options, masking: this.options.masking.map((rule) => ({ ...rule })) },
      nextTemplateId: this.#nextId,
      templates: this.templates().map(({ id, tokens, size }) => ({ id, tokens, size })),
      tree: [...this.#root].map(([count, node]) => [count, exportNode(node)] as const),
    };
  }

  /** Replaces this (fresh) miner's tree and templates with a checked state's. */
  load(state: LogTemplateMinerState): void {
    for (const template of state.templates) this.#clusters.set(template.id, { id: template.id, tokens: [...template.tokens], size: template.size });
    for (const [count, node] of state.tree) this.#root.set(count, importNode(node));
    this.#nextId = state.nextTemplateId;
  }
}

function setChild(node: TreeNode, token: string): TreeNode {
  const child = newNode();
  node.children.set(token, child);
  return child;
}

function snapshot(cluster: Cluster): LogTemplate {
  return { id: cluster.id, template: cluster.tokens.join(' '), tokens: [...cluster.tokens], size: cluster.size };
}

function exportNode(node: TreeNode): LogTemplateTreeNodeState {
  return { children: [...node.children].map(([token, child]) => [token, exportNode(child)] as const), templateIds: [...node.templateIds] };
}

function importNode(state: LogTemplateTreeNodeState): TreeNode {
  return { children: new Map(state.children.map(([token, child]) => [token, importNode(child)])), templateIds: [...state.templateIds] };
}

/**
 * A new Drain miner with the given parameters, every default filled in (see
 * {@link LogTemplateMinerOptions}). Throws `INPUT_INVALID` naming each wrong option: a depth below 3,
 * a threshold outside 0..1, maxChildren below 2, a masking pattern that does not compile.
 */
export function createLogTemplateMiner(options: LogTemplateMinerOptions = {}): LogTemplateMiner {
  return new DrainMiner(resolveLogTemplateMinerOptions(options));
}

// ---------------------------------------------------------------------------------------------
// State import

const id = z.number().int().min(1);
const treeNodeSchema: z.ZodType<LogTemplateTreeNodeState> = z.lazy(() =>
  z.object({ children: z.array(z.tuple([z.string(), treeNodeSchema])), templateIds: z.array(id) }),
);
const stateSchema = z.object({
  format: z.literal(STATE_FORMAT),
  version: z.literal(STATE_VERSION),
  options: optionsSchema.required(),
  nextTemplateId: id,
  templates: z.array(z.object({ id, tokens: z.array(z.string()), size: z.number().int().min(1) })),
  tree: z.array(z.tuple([z.number().int().min(0), treeNodeSchema])),
});

/**
 * A miner that continues from a state exported by {@link LogTemplateMiner.exportState} (parsed from
 * JSON), with the options recorded in it. Throws `INPUT_INVALID` when the state is not such a
 * state: another format or version, a wrong field, a tree that names an unknown template, or a
 * template ID not below `nextTemplateId`.
 */
export function restoreLogTemplateMiner(state: unknown): LogTemplateMiner {
  const parsed = stateSchema.safeParse(state);
  if (!parsed.success) {
    const issues = toIssues(parsed.error, 'state');
    throw new InputError('INPUT_INVALID', `not a log template miner state (${STATE_FORMAT} version ${STATE_VERSION}): ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, issues);
  }
  const data = parsed.data;
  const ids = new Set<number>();
  for (const template of data.templates) {
    if (ids.has(template.id) || template.id >= data.nextTemplateId) {
      throw new InputError('INPUT_INVALID', `log template miner state has template ${template.id} twice or not below nextTemplateId ${data.nextTemplateId}.`, [
        { path: 'state.templates', message: 'duplicate or out-of-range template id', received: String(template.id) },
      ]);
    }
    ids.add(template.id);
  }
  const unknown = data.tree.flatMap(([, node]) => leafIds(node)).find((templateId) => !ids.has(templateId));
  if (unknown !== undefined) {
    throw new InputError('INPUT_INVALID', `log template miner state's tree names template ${unknown}, which is not among its templates.`, [
      { path: 'state.tree', message: 'unknown template id', received: String(unknown) },
    ]);
  }
  const miner = new DrainMiner(resolveLogTemplateMinerOptions(data.options));
  miner.load(data);
  return miner;
}

function leafIds(node: LogTemplateTreeNodeState): number[] {
  return [...node.templateIds, ...node.children.flatMap(([, child]) => leafIds(child))];
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/**
 * Grouping accuracy (GA) of a log parser, as in the Loghub benchmark (Zhu et al., ICSE-SEIP 2019):
 * a line is parsed correctly only if the set of lines the parser grouped with it equals, exactly, the
 * set of lines that share its ground-truth template. Returns the share of correct lines, 0..1
 * (1 for no lines). `predicted[i]` and `truth[i]` are the group keys of line `i` (a template ID or
 * text). Throws `INPUT_INVALID` when the two lists differ in length.
 *
 * @see https://github.com/logpai/logparser (logparser/utils/evaluator.py, `get_accuracy`)
 */
export function groupingAccuracy(predicted: readonly (string | number)[], truth: readonly (string | number)[]): number {
  if (predicted.length !== truth.length) {
    throw new InputError('INPUT_INVALID', `grouping accuracy needs one ground-truth key per parsed line: got ${predicted.length} parsed and ${truth.length} ground-truth keys.`);
  }
  if (truth.length === 0) return 1;
  const truthSizes = countBy(truth);
  const groups = new Map<string | number, number[]>();
  predicted.forEach((key, line) => {
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [line]);
    else group.push(line);
  });
  let correct = 0;
  for (const lines of groups.values()) {
    const label = truth[lines[0] as number] as string | number;
    if (lines.every((line) => truth[line] === label) && truthSizes.get(label) === lines.length) correct += lines.length;
  }
  return correct / truth.length;
}

function countBy(keys: readonly (string | number)[]): Map<string | number, number> {
  const counts = new Map<string | number, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
