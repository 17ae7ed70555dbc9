import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { withPostgresSecrets } from '../connectors/postgres/index.js';
import { withHttpSecrets } from '../connectors/shared/http-config.js';
import { ConfigError, type Issue } from '../core/errors.js';
import { describeValue, toIssues } from '../core/validation.js';
import { isSecretPath } from './redact.js';
import { InterlockConfigSchema, knownKeys, type InterlockConfig } from './schema.js';

/** The environment as a plain record (the CLI passes `process.env`; nothing else reads it). */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

/**
 * Command-line flags that set configuration; they win over the environment and the files.
 * Values come as commander parses them (strings); `port` may also be a number.
 */
export interface ConfigFlags {
  /** `--config <file>`: the configuration file to read instead of `./interlock.yaml`. */
  readonly config?: string;
  /** `--data-dir <dir>`, relative to the working directory. */
  readonly dataDir?: string;
  /** `--host <host>`. */
  readonly host?: string;
  /** `--port <port>`. */
  readonly port?: string | number;
  /** `--worker-id <id>`. */
  readonly workerId?: string;
  /** `--log-level <level>`. */
  readonly logLevel?: string;
}

/** Where `loadConfig` reads the configuration from. */
export interface LoadConfigOptions {
  /** The environment (see {@link CONFIG_ENV_VARS}). Empty values count as unset. */
  readonly env: ConfigEnv;
  /**
   * Configuration files to read, lowest precedence first; relative paths resolve against `cwd`.
   * When given, no file is discovered (`--config`, `INTERLOCK_CONFIG` and `./interlock.yaml` are ignored).
   */
  readonly files?: readonly string[];
  /** Command-line flags, the highest precedence. */
  readonly flags?: ConfigFlags;
  /** Absolute working directory: default paths and paths from env and flags resolve against it. */
  readonly cwd: string;
}

/** A configuration problem and where its value came from. */
export interface ConfigIssue extends Issue {
  /**
   * Where the offending value came from: `<file>:<line>:<col>` (the file relative to the working
   * directory when inside it), `env:NAME`, `flag:--name`, or `default` for a default value.
   */
  readonly source: string;
}

/** One setting that can come from the environment or a flag. */
interface Setting {
  /** Key path in the configuration. */
  readonly path: readonly string[];
  /** `int` values are converted from decimal strings; `path` values resolve against the working directory. */
  readonly kind: 'string' | 'int' | 'path';
}

/**
 * The environment variables `loadConfig` reads, with the key each one sets. `INTERLOCK_CONFIG`
 * names the configuration file. `docs/configuration.md` lists the same (checked by a test).
 */
export const CONFIG_ENV_VARS = {
  INTERLOCK_DATA_DIR: { path: ['dataDir'], kind: 'path' },
  DATABASE_URL: { path: ['database', 'url'], kind: 'string' },
  INTERLOCK_HOST: { path: ['server', 'host'], kind: 'string' },
  INTERLOCK_PORT: { path: ['server', 'port'], kind: 'int' },
  INTERLOCK_WORKER_ID: { path: ['engine', 'workerId'], kind: 'string' },
  INTERLOCK_WORKFLOW_VERSION: { path: ['engine', 'workflowVersion'], kind: 'string' },
  INTERLOCK_LOG_LEVEL: { path: ['log', 'level'], kind: 'string' },
} as const satisfies Record<string, Setting>;

/** The flags (see {@link ConfigFlags}) with their command-line spelling and the key each one sets. */
const CONFIG_FLAGS = {
  dataDir: { flag: '--data-dir', path: ['dataDir'], kind: 'path' },
  host: { flag: '--host', path: ['server', 'host'], kind: 'string' },
  port: { flag: '--port', path: ['server', 'port'], kind: 'int' },
  workerId: { flag: '--worker-id', path: ['engine', 'workerId'], kind: 'string' },
  logLevel: { flag: '--log-level', path: ['log', 'level'], kind: 'string' },
} as const satisfies Record<Exclude<keyof ConfigFlags, 'config'>, Setting & { flag: string }>;

/**
 * Keys holding filesystem paths: resolved against the file's directory when a file sets them. A `*`
 * segment stands for every item of a list.
 */
const PATH_KEYS: ReadonlyArray<readonly string[]> = [['dataDir'], ['database', 'embedded', 'dataDir'], ['connectors', 'files', 'root'], ['policy', 'dir'], ['runbooks', 'dir'], ['audit', 'signingKeyFile'], ['audit', 'export', 'sinks', '*', 'path'], ['connectors', 'changes', 'git', '*', 'path'], ['connectors', 'changes', 'deployLog'], ['connectors', 'logs', 'files', '*', 'path'], ['connectors', 'nginx', 'mainConfig'], ['connectors', 'nginx', 'confDir'], ['connectors', 'nginx', 'pidFile'], ['connectors', 'postgres', 'services', '*', 'pool', 'file'], ['connectors', 'releases', 'root'], ['connectors', 'releases', 'deployLog'], ['connectors', 'releases', 'gitDir'], ['connectors', 'scale', 'nginx', 'mainConfig'], ['connectors', 'scale', 'nginx', 'confDir'], ['connectors', 'scale', 'nginx', 'pidFile'], ['auth', 'jwt', 'publicKeyFile'], ['mcp', 'servers', '*', 'cwd'], ['agents', 'dir']];

/** The file read when neither `--config` nor `INTERLOCK_CONFIG` names one, if it exists. */
const DEFAULT_CONFIG_FILE = 'interlock.yaml';

type Tree = Record<string, unknown>;

/** The merged raw values and, for every key path a source set, where that value came from. */
interface Merged {
  readonly values: Tree;
  readonly origins: Map<string, string>;
}

/**
 * Loads the configuration once at start-up: the YAML file(s), then the environment, then flags,
 * over the defaults (flags > env > files > defaults), validated as a whole against
 * {@link InterlockConfigSchema}. The file is `flags.config`, else `env.INTERLOCK_CONFIG`, else
 * `<cwd>/interlock.yaml` if it exists, else none (unless `files` is given). Relative paths in a file
 * resolve against that file's directory; other relative paths against `cwd`.
 *
 * @returns the deep-frozen configuration, every default filled in, every path absolute, and the
 *   credentials of the HTTP connectors read from the variables they name (`bearerTokenEnv`,
 *   `basicAuth.passwordEnv`; an unset one stays unset and the connector refuses to start), and the
 *   notification webhooks' signing keys (`secretEnv`, likewise).
 * @throws ConfigError `CONFIG_FILE_UNREADABLE` when a file is missing, unreadable or not valid YAML
 *   (the message and issues give `file:line:col`).
 * @throws ConfigError `CONFIG_INVALID` listing every problem at once as {@link ConfigIssue}s: the
 *   source, the key path, what was expected and what was found; files first, top to bottom, then
 *   env, then flags. Unknown keys are problems too.
 */
export function loadConfig(options: LoadConfigOptions): InterlockConfig {
  const { env, cwd } = options;
  const flags = options.flags ?? {};
  const merged: Merged = { values: {}, origins: new Map() };
  const issues: ConfigIssue[] = [];

  for (const file of configFiles(options)) {
    const layer = readConfigFile(file.path, file.setBy, cwd);
    if (layer.kind === 'invalid') issues.push(layer.issue);
    else mergeInto(merged, layer.values, [], layer.locate);
  }
  for (const [name, setting] of Object.entries(CONFIG_ENV_VARS)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') mergeInto(merged, nest(setting.path, convert(raw, setting.kind, cwd)), [], () => `env:${name}`);
  }
  for (const [key, setting] of Object.entries(CONFIG_FLAGS)) {
    const raw = flags[key as keyof typeof CONFIG_FLAGS];
    if (raw !== undefined && raw !== '') mergeInto(merged, nest(setting.path, convert(raw, setting.kind, cwd)), [], () => `flag:${setting.flag}`);
  }

  const result = InterlockConfigSchema.safeParse(merged.values, { reportInput: true });
  if (!result.success) issues.push(...toConfigIssues(result.error, merged.origins));
  issues.sort(bySource);
  if (issues.length > 0 || !result.success) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    throw new ConfigError('CONFIG_INVALID', `invalid configuration, ${count}: fix the file, environment variable or flag each one names`, issues);
  }

  const config = result.data;
  const sinks = resolveSinks(config.audit.export.sinks, env, cwd);
  const webhooks = resolveWebhooks(config.notifications.webhooks, env);
  const dataDir = resolve(cwd, config.dataDir);
  return deepFreeze({
    ...config,
    dataDir,
    database: { ...config.database, embedded: { ...config.database.embedded, dataDir: resolve(cwd, config.database.embedded.dataDir) } },
    connectors: {
      ...config.connectors,
      files: { ...config.connectors.files, root: resolve(cwd, config.connectors.files.root) },
      prometheus: withHttpSecrets(config.connectors.prometheus, env),
      alertmanager: withHttpSecrets(config.connectors.alertmanager, env),
      supervisor: withHttpSecrets(config.connectors.supervisor, env),
      postgres: withPostgresSecrets(config.connectors.postgres, env),
      releases: { ...config.connectors.releases, supervisor: withHttpSecrets(config.connectors.releases.supervisor, env) },
      scale: { ...config.connectors.scale, supervisor: withHttpSecrets(config.connectors.scale.supervisor, env) },
      logs: config.connectors.logs.loki === undefined ? config.connectors.logs : { ...config.connectors.logs, loki: withHttpSecrets(config.connectors.logs.loki, env) },
    },
    policy: config.policy.dir === undefined ? config.policy : { ...config.policy, dir: resolve(cwd, config.policy.dir) },
    runbooks: config.runbooks.dir === undefined ? config.runbooks : { ...config.runbooks, dir: resolve(cwd, config.runbooks.dir) },
    audit: { ...config.audit, signingKeyFile: resolve(cwd, config.audit.signingKeyFile), export: { ...config.audit.export, sinks } },
    notifications: { ...config.notifications, webhooks },
    auth: config.auth.jwt?.publicKeyFile === undefined ? config.auth : { ...config.auth, jwt: { ...config.auth.jwt, publicKeyFile: resolve(cwd, config.auth.jwt.publicKeyFile) } },
  });
}

/**
 * Formats one issue as a line: `<source> <path>: <message> (expected X, got Y)`; the source is left
 * out for a plain {@link Issue}.
 */
export function formatConfigIssue(issue: Issue): string {
  const source = 'source' in issue && typeof issue.source === 'string' ? `${issue.source} ` : '';
  const extra = [issue.expected === undefined ? '' : `expected ${issue.expected}`, issue.received === undefined ? '' : `got ${issue.received}`]
    .filter((part) => part !== '')
    .join(', ');
  return `${source}${issue.path}: ${issue.message}${extra === '' ? '' : ` (${extra})`}`;
}

/** The configuration files to read, lowest precedence first, with what named each one. */
function configFiles(options: LoadConfigOptions): Array<{ path: string; setBy: string | undefined }> {
  const { cwd, env, files, flags } = options;
  if (files !== undefined) return files.map((file) => ({ path: resolve(cwd, file), setBy: undefined }));
  if (flags?.config !== undefined && flags.config !== '') return [{ path: resolve(cwd, flags.config), setBy: 'flag:--config' }];
  const fromEnv = env.INTERLOCK_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return [{ path: resolve(cwd, fromEnv), setBy: 'env:INTERLOCK_CONFIG' }];
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? [{ path: fallback, setBy: undefined }] : [];
}

type FileLayer =
  | { readonly kind: 'values'; readonly values: Tree; readonly locate: (path: readonly string[]) => string }
  | { readonly kind: 'invalid'; readonly issue: ConfigIssue };

/** Reads and parses one YAML file; relative paths in it are resolved against its directory. */
function readConfigFile(path: string, setBy: string | undefined, cwd: string): FileLayer {
  const display = displayPath(path, cwd);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    const named = setBy === undefined ? '' : ` (named by ${setBy})`;
    const message = `cannot read configuration file ${display}${named}: ${reason}; check the path`;
    const issue: ConfigIssue = { path: '(root)', message: reason, source: display };
    throw new ConfigError('CONFIG_FILE_UNREADABLE', message, [issue], { cause: error });
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return display;
    const { line, col } = lineCounter.linePos(offset);
    return `${display}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const syntax: ConfigIssue[] = doc.errors.map((error) => ({ path: '(root)', message: yamlReason(error.message), source: at(error.pos[0]) }));
    const first = syntax[0] as ConfigIssue;
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `${first.source}: invalid YAML: ${first.message}; fix the syntax`, syntax);
  }

  let values: unknown;
  try {
    values = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `${display}: invalid YAML: ${(error as Error).message}`, [], { cause: error });
  }
  if (values === null || values === undefined) values = {};
  if (!isTree(values)) {
    return {
      kind: 'invalid',
      issue: { path: '(root)', message: 'a configuration file must be a mapping of keys to values', expected: 'object', received: describeValue(values), source: at(doc.contents?.range[0]) },
    };
  }
  for (const keyPath of PATH_KEYS) resolvePathAt(values, keyPath, dirname(path));
  return { kind: 'values', values, locate: (keyPath) => at(keyOffset(doc, keyPath)) };
}

/** Resolves the non-empty string at `keyPath` in `node` against `base`; `*` walks every item of a list. */
function resolvePathAt(node: unknown, keyPath: readonly string[], base: string): void {
  const [segment, ...rest] = keyPath;
  if (segment === '*') {
    if (Array.isArray(node)) for (const item of node) resolvePathAt(item, rest, base);
    return;
  }
  if (segment === undefined || !isTree(node)) return;
  const value = node[segment];
  if (rest.length > 0) resolvePathAt(value, rest, base);
  else if (typeof value === 'string' && value !== '') node[segment] = resolve(base, value);
}

/**
 * The audit export sinks with their secrets from the environment: each `bearerTokenEnv` looked up in
 * `env` (an unset or empty variable leaves `bearerToken` unset: the exporter refuses such a sink when
 * it starts, so commands that export nothing do not need the secret), each `path` made absolute
 * against `cwd`.
 */
function resolveSinks(sinks: InterlockConfig['audit']['export']['sinks'], env: ConfigEnv, cwd: string): InterlockConfig['audit']['export']['sinks'] {
  return sinks.map((sink) => {
    if (sink.type === 'jsonl') return { ...sink, path: resolve(cwd, sink.path) };
    const token = sink.bearerTokenEnv === undefined ? undefined : env[sink.bearerTokenEnv];
    return token === undefined || token === '' ? sink : { ...sink, bearerToken: token };
  });
}

/**
 * The notification webhooks with their signing keys from the environment: each `secretEnv` looked up
 * in `env` (an unset or empty variable leaves `secret` unset: the dispatcher refuses such a webhook
 * when it starts, so commands that notify nothing do not need the key).
 */
function resolveWebhooks(webhooks: InterlockConfig['notifications']['webhooks'], env: ConfigEnv): InterlockConfig['notifications']['webhooks'] {
  return webhooks.map((webhook) => {
    const secret = webhook.secretEnv === undefined ? undefined : env[webhook.secretEnv];
    return secret === undefined || secret === '' ? webhook : { ...webhook, secret };
  });
}

/** The first line of a YAML error message, without the position the `source` already gives. */
function yamlReason(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}

/** Offset of the key at `path` in the document (or of the deepest key found on the way). */
function keyOffset(doc: Document, path: readonly string[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const segment of path) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === segment);
    if (pair === undefined) break;
    offset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    node = pair.value;
  }
  return offset;
}

function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/** A value from the environment or a flag, converted for its key. */
function convert(raw: string | number, kind: Setting['kind'], cwd: string): unknown {
  if (typeof raw === 'number') return raw;
  if (kind === 'int') return /^[+-]?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
  if (kind === 'path') return resolve(cwd, raw);
  return raw;
}

/**
 * Merges `value` into `merged.values` at `path`, recording `locate(path)` as the origin of each key
 * set. A null (an empty YAML value) sets nothing.
 */
function mergeInto(merged: Merged, value: unknown, path: readonly string[], locate: (path: readonly string[]) => string): void {
  if (value === null) return; // `key:` with nothing after it in YAML: unset, like a commented-out value
  if (path.length > 0) merged.origins.set(path.join('.'), locate(path));
  if (!isTree(value)) {
    setIn(merged.values, path, value);
    return;
  }
  if (path.length > 0 && !isTree(getIn(merged.values, path))) setIn(merged.values, path, {});
  for (const [key, child] of Object.entries(value)) mergeInto(merged, child, [...path, key], locate);
}

/** Converts Zod issues into {@link ConfigIssue}s: one per unknown key, short messages, expected and got, source. */
function toConfigIssues(error: z.ZodError, origins: ReadonlyMap<string, string>): ConfigIssue[] {
  const base = toIssues(error);
  return error.issues.flatMap((raw, index): ConfigIssue[] => {
    const issue = base[index] as Issue;
    const segments = raw.path.map(String);
    if (raw.code === 'unrecognized_keys') {
      const known = knownKeys(raw.path);
      return raw.keys.map((key) => {
        const path = [...segments, key];
        const hint = closest(key, known);
        return {
          path: path.join('.'),
          message: `unknown key${hint === undefined ? '' : `; did you mean "${hint}"?`}`,
          ...(known.length > 0 ? { expected: `one of ${known.join(', ')}` } : {}),
          received: `key ${JSON.stringify(key)}`,
          source: sourceOf(origins, path),
        };
      });
    }
    const related = raw.code === 'custom' && typeof raw.params?.related === 'string' ? raw.params.related : undefined;
    const secret = isSecretPath(segments);
    const { message, expected } = describeIssue(raw, issue);
    return [{
      path: issue.path,
      message,
      ...(expected === undefined ? {} : { expected }),
      ...(issue.received === undefined ? {} : { received: secret ? '***' : issue.received }),
      source: sourceOf(origins, segments, related),
    }];
  });
}

/** A short message and the expected value for one Zod issue. */
function describeIssue(raw: z.core.$ZodIssue, issue: Issue): { message: string; expected?: string } {
  switch (raw.code) {
    case 'invalid_type':
      return { message: 'wrong type', expected: raw.expected === 'int' ? 'integer' : raw.expected };
    case 'too_small':
      if (raw.origin === 'string') return { message: 'too short', expected: `at least ${String(raw.minimum)} characters` };
      return { message: 'too small', expected: `${raw.inclusive === false ? '>' : '>='} ${String(raw.minimum)}` };
    case 'too_big':
      if (raw.origin === 'string') return { message: 'too long', expected: `at most ${String(raw.maximum)} characters` };
      return { message: 'too large', expected: `${raw.inclusive === false ? '<' : '<='} ${String(raw.maximum)}` };
    case 'invalid_value':
      return { message: 'not an allowed value', expected: `one of ${raw.values.map((value) => JSON.stringify(value)).join(' | ')}` };
    case 'invalid_format':
      return { message: 'wrong format', expected: raw.message };
    case 'custom': {
      const expected = typeof raw.params?.expected === 'string' ? raw.params.expected : undefined;
      return expected === undefined ? { message: raw.message } : { message: raw.message, expected };
    }
    default:
      return issue.expected === undefined ? { message: issue.message } : { message: issue.message, expected: issue.expected };
  }
}

/**
 * Where the value at `path` came from: its own origin, else the origin of `related` (a key a
 * cross-field check compared it with), else the nearest enclosing key's, else `default`.
 */
function sourceOf(origins: ReadonlyMap<string, string>, path: readonly string[], related?: string): string {
  const own = origins.get(path.join('.'));
  if (own !== undefined) return own;
  if (related !== undefined) {
    const other = origins.get(related);
    if (other !== undefined) return other;
  }
  for (let length = path.length - 1; length > 0; length -= 1) {
    const origin = origins.get(path.slice(0, length).join('.'));
    if (origin !== undefined) return origin;
  }
  return 'default';
}

/** Orders issues as a reader fixes them: files top to bottom, then env, then flags, then defaults. */
function bySource(a: ConfigIssue, b: ConfigIssue): number {
  const [rankA, fileA, lineA, colA] = sourceKey(a.source);
  const [rankB, fileB, lineB, colB] = sourceKey(b.source);
  return rankA - rankB || fileA.localeCompare(fileB) || lineA - lineB || colA - colB;
}

function sourceKey(source: string): [rank: number, file: string, line: number, col: number] {
  if (source.startsWith('env:')) return [1, source, 0, 0];
  if (source.startsWith('flag:')) return [2, source, 0, 0];
  if (source === 'default') return [3, source, 0, 0];
  const match = /^(.*):(\d+):(\d+)$/.exec(source);
  return match === null ? [0, source, 0, 0] : [0, match[1] ?? source, Number(match[2]), Number(match[3])];
}

/** The known key closest to `key` when it is a plausible typo (edit distance <= 2, or same letters ignoring case). */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, candidate);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nest(path: readonly string[], value: unknown): Tree {
  const root: Tree = {};
  setIn(root, path, value);
  return root;
}

function getIn(tree: Tree, path: readonly string[]): unknown {
  let node: unknown = tree;
  for (const segment of path) {
    if (!isTree(node)) return undefined;
    node = node[segment];
  }
  return node;
}

function setIn(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  path.forEach((segment, index) => {
    if (index === path.length - 1) {
      node[segment] = value;
      return;
    }
    const next = node[segment];
    if (isTree(next)) node = next;
    else {
      const created: Tree = {};
      node[segment] = created;
      node = created;
    }
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
