/**
 * The PowerShell half of the script review: parses with tree-sitter-powershell (web-tree-sitter) and
 * walks the syntax tree for commands, functions, `param` blocks, `[CmdletBinding(SupportsShouldProcess)]`,
 * try/catch/finally and trap, assignments and string literals.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';
import {
  DESTRUCTIVE_SQL, hasTokenShape, hasUrlCredential, isSecretValue, SECRET_NAME,
  type DraftFinding, type FindingSeverity, type LanguageAnalysis, type ScriptTestFile,
} from './common.js';

let languagePromise: Promise<Language> | undefined;

/** The PowerShell grammar, loaded once per process. */
function powershellLanguage(): Promise<Language> {
  languagePromise ??= (async () => {
    await Parser.init();
    const pkg = createRequire(import.meta.url).resolve('tree-sitter-powershell/package.json');
    return Language.load(join(dirname(pkg), 'tree-sitter-powershell.wasm'));
  })();
  return languagePromise;
}

/** Parses PowerShell source into a tree-sitter tree (the caller deletes it). */
async function parsePowerShell(text: string) {
  const language = await powershellLanguage();
  const parser = new Parser();
  parser.setLanguage(language);
  const tree = parser.parse(text);
  parser.delete();
  if (tree === null) throw new Error('tree-sitter returned no tree for the PowerShell script');
  return tree;
}

const ALIASES: Readonly<Record<string, string>> = {
  iex: 'invoke-expression', rm: 'remove-item', del: 'remove-item', erase: 'remove-item', ri: 'remove-item', rmdir: 'remove-item', rd: 'remove-item',
  spsv: 'stop-service', sp: 'set-itemproperty', kill: 'stop-process', spps: 'stop-process', 'shutdown.exe': 'shutdown', 'reg.exe': 'reg',
};

/** Verbs whose cmdlets change state. */
const STATE_VERBS = new Set(['set', 'new', 'remove', 'stop', 'start', 'restart', 'move', 'rename', 'clear', 'install', 'uninstall', 'disable', 'enable', 'reset', 'suspend', 'resume', 'update', 'register', 'unregister', 'format', 'initialize', 'mount', 'dismount', 'add', 'invoke']);
/** Cmdlets with a state-changing verb that change nothing a reviewer cares about. */
const NOT_STATE_CHANGING = new Set(['start-sleep', 'start-transcript', 'stop-transcript', 'set-strictmode', 'set-location', 'set-variable', 'new-object', 'new-timespan', 'new-variable', 'add-type', 'add-member', 'set-alias', 'new-alias', 'invoke-restmethod', 'invoke-webrequest', 'invoke-command', 'invoke-pester', 'new-pssession', 'remove-variable', 'clear-variable', 'clear-host', 'new-guid', 'add-content', 'new-eventlog']);
/** Cmdlets that write a log a reviewer can audit. */
const LOGGING = new Set(['write-verbose', 'write-information', 'write-log', 'start-transcript', 'write-eventlog', 'write-debug', 'write-warning', 'write-error']);

interface PsFunction {
  readonly name: string;
  readonly node: Node;
  readonly supportsShouldProcess: boolean;
  readonly callsShouldProcess: boolean;
  readonly commands: PsCommand[];
}

interface PsCommand {
  readonly name: string;
  /** Lower-case cmdlet name with aliases resolved. */
  readonly key: string;
  readonly node: Node;
  /** Parameters by lower-case name (without the dash) with the argument that follows, if any. */
  readonly params: Map<string, Node | null>;
  readonly positional: Node[];
  readonly fn: PsFunction | null;
  /** Inside `if ($PSCmdlet.ShouldProcess(...))`. */
  readonly guarded: boolean;
}

interface RiskVerdict {
  readonly severity: FindingSeverity;
  readonly what: string;
  readonly recommendation: string;
  readonly testIdea?: string;
  /** The cmdlet honours -WhatIf (so SupportsShouldProcess protects it). */
  readonly whatIfAware: boolean;
}

function line(node: Node): number {
  return node.startPosition.row + 1;
}

function column(node: Node): number {
  return node.startPosition.column + 1;
}

/** True when the parameter `name` was passed, matching PowerShell's unambiguous prefixes (`-Rec`, `-r`). */
function hasParam(command: PsCommand, name: string, shortest = 2): boolean {
  for (const given of command.params.keys()) {
    if (given.length >= Math.min(shortest, name.length) && name.startsWith(given)) return true;
  }
  return false;
}

function paramValue(command: PsCommand, ...names: string[]): string | undefined {
  for (const [given, value] of command.params) if (names.includes(given) && value !== null) return value.text;
  return undefined;
}

/** The unquoted value of a PowerShell string literal `text`, or undefined when it is not a plain literal. */
function literalValue(text: string): string | undefined {
  const trimmed = text.trim();
  const single = /^'((?:[^']|'')*)'$/s.exec(trimmed);
  if (single) return (single[1] ?? '').replace(/''/g, "'");
  const double = /^"([^"$`]*)"$/s.exec(trimmed);
  return double ? (double[1] ?? '') : undefined;
}

function isRegistryPath(text: string | undefined): boolean {
  return text !== undefined && /^["']?(HKLM|HKCU|HKCR|HKU|HKCC)[:\\]|^["']?Registry::/i.test(text);
}

function targetPath(command: PsCommand): string | undefined {
  return paramValue(command, 'path', 'literalpath') ?? command.positional[0]?.text;
}

/** The risk of one command, or undefined when it is not a risky operation. */
function riskOf(command: PsCommand): RiskVerdict | undefined {
  const fn = command.fn?.name;
  const where = fn === undefined ? 'the script' : fn;
  switch (command.key) {
    case 'remove-item': {
      const path = targetPath(command) ?? '(pipeline input)';
      const recurse = hasParam(command, 'recurse', 1);
      const force = hasParam(command, 'force', 2);
      const computed = path.includes('$') || path === '(pipeline input)';
      const registry = isRegistryPath(path);
      const flags = [recurse ? '-Recurse' : '', force ? '-Force' : ''].filter((f) => f !== '').join(' ');
      const severity: FindingSeverity = recurse || registry ? 'high' : force || computed ? 'medium' : 'low';
      const variable = [...path.matchAll(/\$(?!_\b|PSItem\b|env:)(\w+)/gi)][0]?.[0];
      return {
        severity, whatIfAware: true,
        what: `Remove-Item${flags === '' ? '' : ` ${flags}`} on ${registry ? 'a registry key' : computed ? 'a computed path' : 'a path'} (${path})${variable !== undefined ? `: if ${variable} is empty or wrong this deletes the wrong files` : computed ? ': what it deletes depends on the pipeline input' : ''}`,
        recommendation: 'Validate the path first (non-empty, under the expected root, Test-Path), use -LiteralPath, and guard the delete with $PSCmdlet.ShouldProcess so -WhatIf shows what would go.',
        testIdea: variable !== undefined
          ? `Call ${where} with an empty ${variable} and assert it refuses (throws) and Remove-Item is never invoked (Mock Remove-Item; Should -Invoke Remove-Item -Times 0)`
          : `Run ${where} with -WhatIf and assert nothing is deleted (Mock Remove-Item; Should -Invoke Remove-Item -Times 0)`,
      };
    }
    case 'stop-service':
      return { severity: 'high', whatIfAware: true, what: `Stop-Service ${paramValue(command, 'name') ?? command.positional[0]?.text ?? ''}: stops a service (an outage until it starts again)`.replace(' :', ':'), recommendation: 'Prefer Restart-Service, or restart the service in a finally block so a failure in between does not leave it stopped; support -WhatIf.', testIdea: `Mock Stop-Service/Start-Service, make the step after Stop-Service throw in ${where}, and assert Start-Service is still invoked` };
    case 'restart-service':
    case 'stop-process':
    case 'restart-webapppool':
    case 'stop-webapppool':
    case 'stop-website':
      return { severity: 'medium', whatIfAware: true, what: `${command.name}: interrupts a running service`, recommendation: 'Guard it with $PSCmdlet.ShouldProcess, log it, and check the service is healthy afterwards.', testIdea: `Mock ${command.name} and assert ${where} calls it only once and logs it` };
    case 'restart-computer':
    case 'stop-computer':
    case 'shutdown':
      return { severity: 'high', whatIfAware: command.key !== 'shutdown', what: `${command.name}: reboots or powers off the machine`, recommendation: 'Do not reboot from a maintenance script without an approval gate; schedule it, drain the node first and support -WhatIf/-Confirm.', testIdea: `Mock ${command.name} and assert it is not invoked when the pending-reboot flag is absent or -WhatIf is given` };
    case 'format-volume':
    case 'clear-disk':
    case 'initialize-disk':
    case 'remove-partition':
      return { severity: 'high', whatIfAware: true, what: `${command.name}: destroys the data on a disk or volume`, recommendation: 'Never run this unattended: require an explicit disk identity, -Confirm, and an approval.', testIdea: `Mock ${command.name} and assert ${where} refuses without an explicit disk number` };
    case 'set-executionpolicy': {
      const open = /\b(bypass|unrestricted)\b/i.test(command.node.text);
      return { severity: open ? 'high' : 'medium', whatIfAware: true, what: `Set-ExecutionPolicy${open ? ' Bypass/Unrestricted' : ''}: turns off script signing checks`, recommendation: 'Sign the script and leave the execution policy alone; if it must change, scope it to the process and explain why.' };
    }
    case 'set-itemproperty':
    case 'new-itemproperty':
    case 'remove-itemproperty':
    case 'set-item':
    case 'new-item': {
      if (!isRegistryPath(targetPath(command))) return undefined;
      return { severity: command.key.startsWith('remove') ? 'high' : 'medium', whatIfAware: true, what: `${command.name} on the registry (${targetPath(command) ?? ''})`, recommendation: 'Read and keep the old value first (Get-ItemProperty) so a rollback can restore it; guard the write with $PSCmdlet.ShouldProcess.', testIdea: `Mock ${command.name} and Get-ItemProperty in ${where} and assert the previous value is restored when a later step fails` };
    }
    case 'invoke-expression':
    {
      const argument = command.positional[0]?.text ?? paramValue(command, 'command') ?? '';
      return { severity: 'high', whatIfAware: false, what: `${command.name}: runs a string as code (${argument})`, recommendation: 'Call the command directly (& $command @arguments) or dot-source a signed script; never evaluate text read from files or parameters.', testIdea: argument.includes('$') ? `Give ${where} input containing '; Remove-Item ...' and assert the text is not executed` : undefined };
    }
    case 'reg': {
      const sub = command.positional[0]?.text.toLowerCase();
      if (sub !== 'delete' && sub !== 'add' && sub !== 'import') return undefined;
      return { severity: sub === 'delete' ? 'high' : 'medium', whatIfAware: false, what: `reg ${sub}: writes the registry`, recommendation: 'Use Set-ItemProperty/Remove-ItemProperty (which support -WhatIf) and keep the old value for the rollback.' };
    }
    default:
      return undefined;
  }
}

function isStateChanging(command: PsCommand, stateFunctions: ReadonlySet<string>): boolean {
  if (stateFunctions.has(command.key)) return true;
  if (riskOf(command) !== undefined) return true;
  if (NOT_STATE_CHANGING.has(command.key)) return false;
  const verb = command.key.split('-')[0] ?? '';
  return command.key.includes('-') && STATE_VERBS.has(verb);
}

/** The `[CmdletBinding(SupportsShouldProcess)]` of a param block (not `= $false`). */
function supportsShouldProcess(paramBlock: Node | undefined): boolean {
  if (paramBlock === undefined) return false;
  for (const attribute of paramBlock.descendantsOfType('attribute')) {
    if (attribute === null) continue;
    const name = attribute.descendantsOfType('attribute_name')[0]?.text.toLowerCase();
    if (name !== 'cmdletbinding') continue;
    for (const argument of attribute.descendantsOfType('attribute_argument')) {
      if (argument !== null && /^\s*SupportsShouldProcess\s*(=\s*\$true\s*)?$/i.test(argument.text)) return true;
    }
  }
  return false;
}

function namedChild(node: Node, type: string): Node | undefined {
  return node.namedChildren.find((child) => child?.type === type) ?? undefined;
}

/** True for an empty block: no statements (comments aside). */
function isEmptyBlock(block: Node | undefined): boolean {
  if (block === undefined) return true;
  return !block.namedChildren.some((child) => child !== null && child.type !== 'comment');
}

interface Collected {
  readonly commands: PsCommand[];
  readonly functions: PsFunction[];
  readonly assignments: { readonly variable: string; readonly value: Node; readonly node: Node }[];
  readonly parameterDefaults: { readonly variable: string; readonly value: Node; readonly node: Node }[];
  readonly strings: Node[];
  readonly emptyCatches: Node[];
  /** try statements whose catch or finally does something. */
  readonly handledTries: Node[];
  readonly traps: Node[];
  readonly redirectionsToNull: Node[];
}

function commandOf(node: Node, fn: PsFunction | null, guarded: boolean): PsCommand | undefined {
  const nameNode = namedChild(node, 'command_name') ?? namedChild(node, 'command_name_expr');
  if (nameNode === undefined) return undefined;
  const name = nameNode.text.replace(/^[&.]\s*/, '');
  const lower = name.toLowerCase();
  const params = new Map<string, Node | null>();
  const positional: Node[] = [];
  const elements = namedChild(node, 'command_elements');
  const parts = (elements?.namedChildren ?? []).filter((child): child is Node => child !== null && child.type !== 'command_argument_sep');
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i];
    if (part === undefined) continue;
    if (part.type === 'command_parameter') {
      const next = parts[i + 1];
      const takesValue = next !== undefined && next.type !== 'command_parameter' && next.type !== 'generic_token';
      params.set(part.text.replace(/^-/, '').replace(/:$/, '').toLowerCase(), takesValue ? next : null);
      if (takesValue) i += 1;
    } else if (part.type !== 'generic_token' && part.type !== 'redirection') {
      positional.push(part);
    }
  }
  return { name, key: ALIASES[lower] ?? lower, node, params, positional, fn, guarded };
}

/** Walks the tree once, collecting what the checks need. */
function collect(root: Node): Collected {
  const collected: Collected = { commands: [], functions: [], assignments: [], parameterDefaults: [], strings: [], emptyCatches: [], handledTries: [], traps: [], redirectionsToNull: [] };
  const visit = (node: Node, fn: PsFunction | null, guarded: boolean): void => {
    let currentFn = fn;
    switch (node.type) {
      case 'function_statement': {
        const body = namedChild(node, 'script_block');
        const paramBlock = body === undefined ? undefined : namedChild(body, 'param_block');
        currentFn = {
          name: namedChild(node, 'function_name')?.text ?? '(anonymous)',
          node,
          supportsShouldProcess: supportsShouldProcess(paramBlock),
          callsShouldProcess: /\$PSCmdlet\.Should(Process|Continue)\s*\(/i.test(node.text),
          commands: [],
        };
        collected.functions.push(currentFn);
        break;
      }
      case 'command': {
        const command = commandOf(node, fn, guarded);
        if (command !== undefined) {
          collected.commands.push(command);
          fn?.commands.push(command);
        }
        break;
      }
      case 'if_statement': {
        const condition = namedChild(node, 'pipeline');
        const checks = condition !== undefined && /\$PSCmdlet\.Should(Process|Continue)\s*\(/i.test(condition.text);
        for (const child of node.namedChildren) {
          if (child === null) continue;
          visit(child, currentFn, guarded || (checks && child.type === 'statement_block'));
        }
        return;
      }
      case 'try_statement': {
        const catches = namedChild(node, 'catch_clauses')?.namedChildren.filter((c): c is Node => c !== null) ?? [];
        const finallyBlock = namedChild(node, 'finally_clause');
        for (const clause of catches) {
          const block = namedChild(clause, 'statement_block');
          if (isEmptyBlock(block === undefined ? undefined : namedChild(block, 'statement_list'))) collected.emptyCatches.push(clause);
        }
        const handles = catches.some((clause) => !isEmptyBlock(namedChild(namedChild(clause, 'statement_block') ?? clause, 'statement_list')))
          || (finallyBlock !== undefined && !isEmptyBlock(namedChild(namedChild(finallyBlock, 'statement_block') ?? finallyBlock, 'statement_list')));
        if (handles) collected.handledTries.push(node);
        break;
      }
      case 'trap_statement':
        collected.traps.push(node);
        break;
      case 'assignment_expression': {
        const left = namedChild(node, 'left_assignment_expression');
        const value = namedChild(node, 'pipeline');
        if (left !== undefined && value !== undefined) collected.assignments.push({ variable: left.text.trim(), value, node });
        break;
      }
      case 'script_parameter': {
        const variable = namedChild(node, 'variable');
        const defaultNode = namedChild(node, 'script_parameter_default');
        if (variable !== undefined && defaultNode !== undefined) {
          const value = defaultNode.namedChildren.find((c) => c !== null) ?? defaultNode;
          collected.parameterDefaults.push({ variable: variable.text, value, node });
        }
        break;
      }
      case 'string_literal':
        collected.strings.push(node);
        break;
      case 'generic_token':
      case 'redirection':
        if (/^[0-9*]?>\s*\$null$/i.test(node.text.trim())) collected.redirectionsToNull.push(node);
        break;
      default:
        break;
    }
    for (const child of node.namedChildren) if (child !== null) visit(child, currentFn, guarded);
  };
  visit(root, null, false);
  return collected;
}

function countErrors(root: Node): { count: number; first: Node | undefined } {
  let count = 0;
  let first: Node | undefined;
  const visit = (node: Node): void => {
    if (node.isError || node.isMissing) {
      count += 1;
      first ??= node;
    }
    if (!node.hasError && !node.isMissing) return;
    for (const child of node.children) if (child !== null) visit(child);
  };
  visit(root);
  return { count, first };
}

/** Command names used by Pester test files, and whether they have `Describe`/`It` blocks. */
async function pesterCoverage(tests: readonly ScriptTestFile[]): Promise<{ commands: Set<string>; hasBlocks: boolean }> {
  const commands = new Set<string>();
  let hasBlocks = false;
  for (const test of tests) {
    const tree = await parsePowerShell(test.text);
    try {
      for (const node of tree.rootNode.descendantsOfType('command')) {
        const name = node === null ? undefined : namedChild(node, 'command_name')?.text.toLowerCase();
        if (name === undefined) continue;
        commands.add(name);
        if (name === 'describe' || name === 'it') hasBlocks = true;
      }
      // Script-under-test names also count when they appear as text (e.g. `. $PSScriptRoot/x.ps1` or `& $sut`).
      for (const word of test.text.match(/[A-Za-z]+-[A-Za-z]+/g) ?? []) commands.add(word.toLowerCase());
    } finally {
      tree.delete();
    }
  }
  return { commands, hasBlocks };
}

/**
 * Reviews PowerShell source: parse errors, risky operations, -WhatIf support, logging, secrets,
 * rollback, error handling and test coverage.
 */
export async function analysePowerShell(text: string, tests: readonly ScriptTestFile[] | undefined): Promise<LanguageAnalysis & { secrets: string[] }> {
  const tree = await parsePowerShell(text);
  try {
    const root = tree.rootNode;
    const findings: DraftFinding[] = [];
    const secrets: string[] = [];
    const errors = countErrors(root);
    const c = collect(root);

    if (errors.count > 0) {
      const at = errors.first ?? root;
      findings.push({ category: 'error-handling', severity: 'high', line: line(at), column: column(at), source: at.text, message: `The script does not parse (${errors.count} syntax error(s) from tree-sitter-powershell, the first here); PowerShell would refuse to run it, and this review is best-effort.`, recommendation: 'Fix the syntax and run the review again; check it with the PowerShell parser ([System.Management.Automation.Language.Parser]::ParseFile).' });
    }

    // Which script functions change state, transitively through calls to each other.
    const stateFunctions = new Set<string>();
    for (let changed = true; changed;) {
      changed = false;
      for (const fn of c.functions) {
        const key = fn.name.toLowerCase();
        if (!stateFunctions.has(key) && fn.commands.some((command) => isStateChanging(command, stateFunctions))) {
          stateFunctions.add(key);
          changed = true;
        }
      }
    }
    const stateCommands = c.commands.filter((command) => isStateChanging(command, stateFunctions));
    const changesState = stateCommands.length > 0;

    // Secrets: literals assigned to secret-named variables, secret parameters, plain-text secure strings, URLs, token shapes.
    const secretFinding = (node: Node, value: string, message: string, testIdea?: string): void => {
      secrets.push(value);
      findings.push({ category: 'exposed-secret', severity: 'high', line: line(node), column: column(node), source: node.text, message, recommendation: 'Take the secret from a SecretManagement vault (Get-Secret), a PSCredential parameter or the platform\'s secret store; never write it in the script.', testIdea: testIdea ?? 'Scan the script in a test for literal passwords/tokens (e.g. Pester: the script text must not match the secret patterns) and invoke it without the secret store and assert it fails clearly' });
    };
    for (const { variable, value, node } of [...c.assignments, ...c.parameterDefaults]) {
      const literal = literalValue(value.text);
      if (literal === undefined) continue;
      if (SECRET_NAME.test(variable.replace(/^\[.*\]/, '').replace(/^\$(\w+:)?/, '')) && isSecretValue(literal)) secretFinding(node, literal, `A secret is written in the script: ${variable} is assigned a literal.`);
    }
    for (const command of c.commands) {
      if (command.key === 'convertto-securestring' && hasParam(command, 'asplaintext', 3)) {
        const literal = command.positional.map((node) => literalValue(node.text)).find((value) => value !== undefined) ?? literalValue(paramValue(command, 'string') ?? '');
        if (literal !== undefined && literal !== '') secrets.push(literal);
        findings.push({ category: 'exposed-secret', severity: 'high', line: line(command.node), column: column(command.node), source: command.node.text, message: `ConvertTo-SecureString -AsPlainText${literal !== undefined ? ' with a literal password' : ''}: the secret exists in plain text in the script or its memory.`, recommendation: 'Use a PSCredential parameter (Get-Credential) or Get-Secret from SecretManagement instead of building a secure string from plain text.', testIdea: 'Assert in a Pester test that the script text contains no ConvertTo-SecureString -AsPlainText and that it takes a [PSCredential] parameter' });
        continue;
      }
      for (const [name, value] of command.params) {
        const literal = value === null ? undefined : literalValue(value.text);
        if (literal !== undefined && SECRET_NAME.test(name) && isSecretValue(literal)) secretFinding(command.node, literal, `A secret is passed as a literal to ${command.name} -${name}.`);
      }
    }
    const alreadyReported = new Set(findings.filter((f) => f.category === 'exposed-secret').map((f) => f.line));
    for (const node of c.strings) {
      if (hasUrlCredential(node.text)) {
        findings.push({ category: 'exposed-secret', severity: 'high', line: line(node), column: column(node), source: node.text, message: 'A URL carries a user name and password.', recommendation: 'Send credentials in a header taken from a secret store (Invoke-RestMethod -Credential or -Authentication), not in the URL, where they end up in logs and history.' });
      } else if (hasTokenShape(node.text) && !alreadyReported.has(line(node))) {
        findings.push({ category: 'exposed-secret', severity: 'high', line: line(node), column: column(node), source: node.text, message: 'A string looks like an issued token or key.', recommendation: 'Revoke it, then read it from a secret store at run time.' });
      }
      if (DESTRUCTIVE_SQL.test(node.text)) {
        findings.push({ category: 'risky-operation', severity: 'high', line: line(node), column: column(node), source: node.text, message: 'Inline SQL drops or truncates data.', recommendation: 'Move destructive SQL into a reviewed migration with a backup step; never build it inline in a maintenance script.', testIdea: 'Assert the script issues no DROP/TRUNCATE (mock the SQL client and inspect the queries it receives)' });
      }
    }

    // Risky operations.
    for (const command of c.commands) {
      const risk = riskOf(command);
      if (risk === undefined) continue;
      const passesWhatIf = hasParam(command, 'whatif', 2) || hasParam(command, 'confirm', 2);
      let severity = risk.severity;
      let note = '';
      if (command.guarded || passesWhatIf) {
        severity = 'low';
        note = command.guarded ? ' It runs only when $PSCmdlet.ShouldProcess agrees.' : ' It passes -WhatIf/-Confirm through.';
      } else if (command.fn?.supportsShouldProcess === true && risk.whatIfAware && severity === 'high') {
        severity = 'medium';
        note = ` ${command.fn.name} supports ShouldProcess, so -WhatIf reaches it.`;
      }
      findings.push({ category: 'risky-operation', severity, line: line(command.node), column: column(command.node), source: command.node.text, message: `${risk.what}.${note}`, recommendation: risk.recommendation, testIdea: risk.testIdea });
    }

    // -WhatIf support: per function, then for the script.
    for (const fn of c.functions) {
      const changes = fn.commands.filter((command) => isStateChanging(command, stateFunctions));
      if (changes.length === 0) continue;
      const names = [...new Set(changes.map((command) => command.name))].join(', ');
      if (!fn.supportsShouldProcess) {
        const high = changes.some((command) => riskOf(command)?.severity === 'high');
        findings.push({ category: 'missing-whatif', severity: high ? 'high' : 'medium', line: line(fn.node), column: column(fn.node), source: fn.node.text, message: `Function ${fn.name} changes state (${names}) without [CmdletBinding(SupportsShouldProcess)], so -WhatIf and -Confirm do nothing.`, recommendation: `Add [CmdletBinding(SupportsShouldProcess)] to ${fn.name} and wrap each change in if ($PSCmdlet.ShouldProcess(<target>, <action>)).`, testIdea: `Run ${fn.name} with -WhatIf and assert nothing changes (Mock ${changes[0]?.name ?? 'the cmdlet'}; Should -Invoke ${changes[0]?.name ?? 'it'} -Times 0)` });
      } else if (!fn.callsShouldProcess && changes.some((command) => !command.guarded && riskOf(command)?.whatIfAware === false)) {
        findings.push({ category: 'missing-whatif', severity: 'low', line: line(fn.node), column: column(fn.node), source: fn.node.text, message: `Function ${fn.name} declares SupportsShouldProcess but never calls $PSCmdlet.ShouldProcess; commands that ignore -WhatIf still run.`, recommendation: 'Wrap the changes in if ($PSCmdlet.ShouldProcess(...)).' });
      }
    }
    const scriptParamBlock = namedChild(root, 'param_block');
    const topLevel = stateCommands.filter((command) => command.fn === null && !command.guarded && !hasParam(command, 'whatif', 2));
    if (topLevel.length > 0 && !supportsShouldProcess(scriptParamBlock)) {
      const first = topLevel[0] as PsCommand;
      const names = [...new Set(topLevel.map((command) => command.name))].slice(0, 6).join(', ');
      findings.push({ category: 'missing-whatif', severity: 'medium', line: line(first.node), column: column(first.node), source: first.node.text, message: `The script changes state at top level (${names}) but its param block has no [CmdletBinding(SupportsShouldProcess)], so it cannot be run with -WhatIf first.`, recommendation: 'Add [CmdletBinding(SupportsShouldProcess)] above the script\'s param block and guard the top-level changes with $PSCmdlet.ShouldProcess.', testIdea: 'Run the whole script with -WhatIf against mocks and assert no state-changing cmdlet is invoked' });
    }

    // Logging: errors swallowed, and whether anything is logged at all.
    for (const clause of c.emptyCatches) {
      findings.push({ category: 'weak-logging', severity: 'medium', line: line(clause), column: column(clause), source: clause.text, message: 'An empty catch block swallows the error: the failure is neither logged nor rethrown.', recommendation: 'Log the error (Write-Error/Write-Log with $_) and rethrow (throw) or roll back; never catch and ignore.', testIdea: 'Mock the call inside the try to throw and assert the error is logged and the script ends with a failure' });
    }
    for (const command of c.commands) {
      const action = paramValue(command, 'erroraction', 'ea');
      if (action !== undefined && /silentlycontinue|ignore|^0$/i.test(action)) {
        findings.push({ category: 'weak-logging', severity: 'low', line: line(command.node), column: column(command.node), source: command.node.text, message: `${command.name} -ErrorAction ${action} hides failures.`, recommendation: 'Let the error surface (-ErrorAction Stop) and handle the expected case explicitly (e.g. Test-Path first).' });
      }
    }
    for (const node of c.redirectionsToNull) {
      findings.push({ category: 'weak-logging', severity: 'low', line: line(node), column: column(node), source: node.text, message: 'Error output is redirected to $null.', recommendation: 'Keep error output; it is what explains a failure at 3 a.m.' });
    }
    const logs = c.commands.some((command) => LOGGING.has(command.key) || /^write-.*log$|^log-|-log$/i.test(command.key) || (/^(add-content|out-file|tee-object|set-content)$/.test(command.key) && /log/i.test(command.node.text)));
    if (changesState && !logs) {
      const host = c.commands.find((command) => command.key === 'write-host');
      const at = host?.node ?? stateCommands[0]?.node ?? root;
      findings.push({ category: 'weak-logging', severity: 'medium', line: line(at), column: column(at), source: at.text, message: `The script changes state but keeps no log of what it changed${host === undefined ? '' : ' (only Write-Host, which a scheduled run does not keep)'}.`, recommendation: 'Start-Transcript at the top, and Write-Verbose/Write-Information (or a Write-Log helper) before each change with the target and the old value.', testIdea: 'Run the script against mocks with -Verbose and assert each change is announced in the verbose stream' });
    }

    // Rollback.
    const hasRollback = c.traps.length > 0 || c.handledTries.some((node) => stateCommands.some((command) => command.node.startIndex >= node.startIndex && command.node.endIndex <= node.endIndex));
    if (changesState && !hasRollback) {
      const first = stateCommands[0] as PsCommand;
      const high = stateCommands.some((command) => riskOf(command)?.severity === 'high');
      findings.push({ category: 'missing-rollback', severity: high ? 'high' : 'medium', line: line(first.node), column: column(first.node), source: first.node.text, message: 'The script changes state with no try/catch/finally or trap that restores what was changed when a later step fails.', recommendation: 'Record each change as it is made and undo them in reverse in a catch (then rethrow); put restarts of stopped services in finally.', testIdea: 'Mock a late step to throw and assert the earlier changes are undone (the service is started again, the registry value restored)' });
    }

    // Error handling.
    const stops = c.assignments.some(({ variable, value }) => /^\$ErrorActionPreference$/i.test(variable) && /stop/i.test(value.text));
    if (changesState && !stops) {
      const lax = stateCommands.filter((command) => !/^stop$/i.test((paramValue(command, 'erroraction', 'ea') ?? '').replace(/['"]/g, '')));
      if (lax.length > 0) {
        const first = lax[0] as PsCommand;
        findings.push({ category: 'error-handling', severity: 'medium', line: line(first.node), column: column(first.node), source: first.node.text, message: `No $ErrorActionPreference = 'Stop': ${lax.length} state-changing call(s) without -ErrorAction Stop carry on after a non-terminating error, the first here.`, recommendation: "Set $ErrorActionPreference = 'Stop' (and Set-StrictMode -Version Latest) at the top so every failure stops the script and reaches the catch.", testIdea: 'Mock the first state-changing cmdlet to write a non-terminating error and assert the script stops before the next change' });
      }
    }

    // Tests.
    const destructiveFunctions = c.functions.filter((fn) => stateFunctions.has(fn.name.toLowerCase()) && fn.commands.some((command) => isStateChanging(command, new Set()))).map((fn) => fn.name);
    if (tests === undefined || tests.length === 0) {
      if (changesState) findings.push({ category: 'thin-tests', severity: 'medium', line: 1, column: 1, source: text.split('\n')[0] ?? '', message: `No tests were given${destructiveFunctions.length > 0 ? ` for the functions that change state (${destructiveFunctions.join(', ')})` : ''}.`, recommendation: 'Add Pester tests (Describe/It) that mock the state-changing cmdlets and run each function with -WhatIf, with bad input and with a failing step.' });
    } else {
      const coverage = await pesterCoverage(tests);
      if (!coverage.hasBlocks) {
        findings.push({ category: 'thin-tests', severity: 'medium', line: 1, column: 1, source: text.split('\n')[0] ?? '', message: `The test file(s) given (${tests.map((t) => t.path).join(', ')}) have no Pester Describe/It blocks.`, recommendation: 'Write Pester tests: Describe <function> { It <behaviour> { ... } }.' });
      }
      for (const fn of c.functions) {
        if (!destructiveFunctions.includes(fn.name) || coverage.commands.has(fn.name.toLowerCase())) continue;
        findings.push({ category: 'thin-tests', severity: 'medium', line: line(fn.node), column: column(fn.node), source: fn.node.text, message: `No test calls ${fn.name}, which changes state.`, recommendation: `Add a Pester Describe '${fn.name}' block that mocks its cmdlets and covers -WhatIf, bad input and a failing step.` });
      }
    }
    return { findings, parseErrors: errors.count, secrets, facts: { changesState, hasRollback, destructiveFunctions } };
  } finally {
    tree.delete();
  }
}
