/**
 * The shell half of the script review: sh-syntax (mvdan/sh compiled to WebAssembly) decides whether
 * the script parses and where it fails; the commands, pipelines, redirections, functions,
 * `set -euo pipefail` and `trap` come from {@link shellCommands}.
 */
import { LangVariant, parse as parseShell } from 'sh-syntax';
import {
  DESTRUCTIVE_SQL, hasTokenShape, hasUrlCredential, isSecretValue, lineStarts, positionAt, SECRET_NAME,
  type DraftFinding, type FindingSeverity, type LanguageAnalysis, type ScriptTestFile,
} from './common.js';
import { shellCommands, type ShCommand, type ShWord } from './shell-lexer.js';

/** Commands that run their arguments as another command. */
const WRAPPERS = new Set(['sudo', 'doas', 'env', 'nohup', 'time', 'exec', 'command', 'builtin', 'nice', 'ionice', 'timeout', 'xargs']);
const SHELLS = new Set(['sh', 'bash', 'zsh', 'ksh', 'dash', 'python', 'python3', 'perl']);
/** Commands that change state whatever their arguments (risky ones are decided by {@link riskOf}). */
const STATE_COMMANDS = new Set(['rm', 'mv', 'cp', 'ln', 'mkdir', 'rmdir', 'rsync', 'chmod', 'chown', 'dd', 'truncate', 'useradd', 'userdel', 'usermod', 'mysql', 'psql', 'sqlplus', 'iptables', 'crontab', 'install', 'shutdown', 'reboot', 'halt', 'poweroff']);
const STATE_SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = {
  kubectl: ['apply', 'create', 'delete', 'patch', 'replace', 'rollout', 'scale', 'set', 'drain', 'cordon', 'label', 'annotate', 'edit'],
  helm: ['install', 'upgrade', 'uninstall', 'delete', 'rollback'],
  docker: ['run', 'rm', 'rmi', 'stop', 'kill', 'restart', 'system', 'compose'],
  systemctl: ['start', 'stop', 'restart', 'reload', 'enable', 'disable', 'mask', 'kill', 'daemon-reload'],
  service: [],
  'apt-get': ['install', 'remove', 'purge', 'upgrade', 'dist-upgrade'],
  apt: ['install', 'remove', 'purge', 'upgrade'],
  yum: ['install', 'remove', 'erase', 'update'],
  dnf: ['install', 'remove', 'erase', 'update', 'upgrade'],
  terraform: ['apply', 'destroy', 'import'],
  aws: ['s3', 'ec2', 'rds', 'iam'],
  git: ['push', 'reset', 'clean'],
  tar: [],
  sed: [],
};

interface Step {
  /** The command as run, after wrappers such as sudo and the script's own dry-run helpers. */
  readonly name: string;
  readonly args: readonly ShWord[];
  readonly command: ShCommand;
  /** Run through a script function that checks a dry-run flag. */
  readonly viaDryRunHelper: boolean;
}

interface RiskVerdict {
  readonly severity: FindingSeverity;
  readonly what: string;
  readonly recommendation: string;
  readonly testIdea?: string;
}

function shortFlags(args: readonly ShWord[]): string {
  return args.filter((a) => /^-[A-Za-z]+$/.test(a.value)).map((a) => a.value.slice(1)).join('');
}

function unwrap(command: ShCommand, dryRunHelpers: ReadonlySet<string>): Step {
  let words = command.words;
  let viaDryRunHelper = false;
  for (let guard = 0; guard < 4 && words.length > 1; guard += 1) {
    const head = words[0]?.value ?? '';
    if (WRAPPERS.has(head)) {
      let k = 1;
      while (k < words.length && (/^-/.test(words[k]?.value ?? '') || /^[A-Za-z_]\w*=/.test(words[k]?.value ?? '') || (head === 'timeout' && /^\d/.test(words[k]?.value ?? '')))) k += 1;
      words = words.slice(k);
    } else if (dryRunHelpers.has(head) && /^[a-z][\w.-]*$/.test(words[1]?.value ?? '')) {
      viaDryRunHelper = true;
      words = words.slice(1);
    } else break;
  }
  return { name: words[0]?.value.replace(/^.*\//, '') ?? '', args: words.slice(1), command, viaDryRunHelper };
}

function riskOf(step: Step, checkedVars: ReadonlySet<string>, where: string): RiskVerdict | undefined {
  const { name, args } = step;
  const sub = args[0]?.value ?? '';
  switch (name) {
    case 'rm': {
      const flags = shortFlags(args);
      const recursive = /[rR]/.test(flags) || args.some((a) => a.value === '--recursive');
      const force = flags.includes('f') || args.some((a) => a.value === '--force');
      const targets = args.filter((a) => !a.value.startsWith('-'));
      const unchecked = targets.flatMap((t) => t.vars.filter((v) => !v.required && !checkedVars.has(v.name)).map((v) => ({ v, t })));
      const unquoted = targets.some((t) => t.vars.some((v) => !v.quoted));
      const rootish = targets.some((t) => /^\$\{?\w+\}?\/\*?$/.test(t.value) || t.value === '/' || t.value === '/*');
      if (!recursive && !force && unchecked.length === 0) return undefined;
      const severity: FindingSeverity = recursive && (unchecked.length > 0 || rootish) ? 'high' : recursive ? 'medium' : unchecked.length > 0 ? 'medium' : 'low';
      const variable = unchecked[0]?.v.name;
      const details = [
        variable !== undefined ? `$${variable} is never checked, so if it is empty or unset this removes ${unchecked[0]?.t.value.replace(/\$\{?\w+\}?/, '') || 'the current directory'}` : '',
        unquoted ? 'an unquoted variable is split and globbed' : '',
      ].filter((d) => d !== '');
      return {
        severity,
        what: `rm ${recursive ? '-r' : ''}${force ? 'f' : ''} ${targets.map((t) => t.text).join(' ')}`.replace('rm  ', 'rm ').replace('rm f', 'rm -f') + (details.length > 0 ? `: ${details.join('; ')}` : ''),
        recommendation: 'Refuse empty paths (${VAR:?}), quote every expansion, check the path is under the expected root before deleting, and support a dry run.',
        testIdea: variable !== undefined
          ? `bats: run ${where} with ${variable} empty and assert it exits non-zero before rm runs (put an rm shim on PATH that records its arguments)`
          : `bats: run ${where} in a temporary directory and assert only the intended files are removed`,
      };
    }
    case 'dd':
      return args.some((a) => /^of=\/dev\//.test(a.value)) ? { severity: 'high', what: `dd writes to a device (${args.map((a) => a.text).join(' ')})`, recommendation: 'Never write raw devices from an automation script without an explicit, verified device identity and an approval.' } : undefined;
    case 'wipefs':
    case 'fdisk':
    case 'sfdisk':
    case 'parted':
      return { severity: 'high', what: `${name}: changes disk partitions`, recommendation: 'Keep disk partitioning out of unattended scripts; require an explicit device and an approval.' };
    case 'chmod': {
      const open = args.find((a) => /^0?777$|^a\+rwx$|^o\+w$/.test(a.value));
      if (open === undefined) return undefined;
      const recursive = /R/.test(shortFlags(args)) || args.some((a) => a.value === '--recursive');
      return { severity: recursive ? 'high' : 'medium', what: `chmod ${recursive ? '-R ' : ''}${open.value}: makes ${args.filter((a) => !a.value.startsWith('-') && a !== open).map((a) => a.text).join(' ') || 'files'} world-writable`, recommendation: 'Grant the least access needed (e.g. 750 with the right owner) instead of 777.', testIdea: `bats: run ${where} in a temporary directory and assert no file ends up world-writable (find -perm -o+w is empty)` };
    }
    case 'kubectl':
      if (sub === 'delete') return { severity: 'high', what: `kubectl delete ${args.slice(1).map((a) => a.text).join(' ')}: removes live resources`, recommendation: 'Prefer kubectl apply/rollout of a reviewed manifest; if deleting is required, pass --dry-run=server first, scope it with an explicit namespace and name, and record what was deleted so it can be re-applied.', testIdea: `bats: with a kubectl shim on PATH, run ${where} in dry-run mode and assert kubectl delete is never called` };
      if (sub === 'drain' || (sub === 'scale' && args.some((a) => /--replicas=0$/.test(a.value)))) return { severity: 'medium', what: `kubectl ${sub}: takes capacity away`, recommendation: 'Check the blast radius first and restore it in the rollback.' };
      return undefined;
    case 'helm':
      return sub === 'uninstall' || sub === 'delete' ? { severity: 'high', what: `helm ${sub}: removes a release`, recommendation: 'Roll back (helm rollback) rather than uninstall; require an approval.' } : undefined;
    case 'terraform':
      return sub === 'destroy' ? { severity: 'high', what: 'terraform destroy: removes infrastructure', recommendation: 'Never destroy from a deploy script; run plan, review it, and apply a reviewed change.' } : undefined;
    case 'aws':
      return sub === 's3' && (args[1]?.value === 'rm' || args[1]?.value === 'rb') && args.some((a) => a.value === '--recursive' || a.value === '--force') ? { severity: 'high', what: `aws s3 ${args[1]?.value ?? ''} --recursive: deletes objects in bulk`, recommendation: 'Use versioned buckets and a --dryrun first; scope the prefix explicitly.' } : undefined;
    case 'systemctl':
    case 'service': {
      const action = name === 'service' ? (args[1]?.value ?? '') : sub;
      const unit = name === 'service' ? sub : (args[1]?.text ?? '');
      if (['stop', 'disable', 'mask', 'kill'].includes(action)) return { severity: 'high', what: `${name} ${action} ${unit}: stops a service (an outage until it starts again)`, recommendation: 'Prefer a restart or reload; if it must stop, start it again in an EXIT/ERR trap so a failure in between does not leave it down.', testIdea: `bats: with a systemctl shim on PATH, make the step after the stop fail and assert ${unit || 'the service'} is started again` };
      if (action === 'restart') return { severity: 'medium', what: `${name} restart ${unit}: interrupts a running service`, recommendation: 'Check the service is healthy afterwards and roll back when it is not.' };
      return undefined;
    }
    case 'shutdown':
    case 'reboot':
    case 'halt':
    case 'poweroff':
      return { severity: 'high', what: `${name}: reboots or powers off the machine`, recommendation: 'Do not reboot from an automation script without an approval gate; drain the node first.' };
    case 'init':
      return sub === '0' || sub === '6' ? { severity: 'high', what: `init ${sub}: reboots or powers off the machine`, recommendation: 'Do not reboot from an automation script without an approval gate.' } : undefined;
    case 'eval': {
      const dynamic = args.some((a) => a.vars.length > 0 || a.substitutions.length > 0);
      return { severity: dynamic ? 'high' : 'medium', what: `eval ${args.map((a) => a.text).join(' ')}: runs a string as code`, recommendation: 'Call the command directly with quoted arguments ("$@"); never eval text built from input.' };
    }
    default:
      if (SHELLS.has(name) && args.some((a) => a.substitutions.some((s) => /^\s*(curl|wget)\b/.test(s.text)))) {
        return { severity: 'high', what: `${name} runs a script downloaded on the fly`, recommendation: 'Download to a file, verify its checksum or signature, review it, then run it.' };
      }
      return undefined;
  }
}

function isStateChanging(step: Step, risky: boolean, stateFunctions: ReadonlySet<string>): boolean {
  if (risky || stateFunctions.has(step.name)) return true;
  if (STATE_COMMANDS.has(step.name)) return true;
  const subs = STATE_SUBCOMMANDS[step.name];
  if (subs === undefined) return false;
  if (step.name === 'tar') return /x/.test(shortFlags(step.args)) || step.args.some((a) => /^-?[a-z]*x[a-z]*$/.test(a.value) || a.value === '--extract');
  if (step.name === 'sed') return step.args.some((a) => /^-[a-zA-Z]*i/.test(a.value) || a.value.startsWith('--in-place'));
  if (subs.length === 0) return true;
  return subs.includes(step.args[0]?.value ?? '');
}

function excerptSource(text: string, command: ShCommand): string {
  return text.slice(command.offset, command.end);
}

/** Names of the `set` options in force: e, u, pipefail (also from the shebang). */
function setOptions(commands: readonly ShCommand[], text: string): Set<string> {
  const options = new Set<string>();
  const shebang = /^#!\S+(?:\s+\S+)?((?:\s+-[a-z]+)+)/.exec(text);
  for (const flag of (shebang?.[1] ?? '').replace(/[\s-]/g, '')) options.add(flag);
  for (const command of commands) {
    if (command.name !== 'set') continue;
    const args = command.args.map((a) => a.value);
    for (let k = 0; k < args.length; k += 1) {
      const arg = args[k] ?? '';
      if (arg === '-o') {
        const long = args[k + 1] ?? '';
        if (long === 'errexit') options.add('e');
        else if (long === 'nounset') options.add('u');
        else if (long === 'xtrace') options.add('x');
        else options.add(long);
        k += 1;
      } else if (/^-[a-zA-Z]+$/.test(arg)) {
        for (const flag of arg.slice(1)) options.add(flag);
        if (arg.includes('o') && args[k + 1] !== undefined) {
          options.add(args[k + 1] ?? '');
          k += 1;
        }
      }
    }
  }
  return options;
}

/**
 * Reviews bash/sh source: parse errors, risky operations, dry-run support, logging, secrets,
 * rollback (trap), `set -euo pipefail` and test coverage.
 */
export async function analyseShell(text: string, tests: readonly ScriptTestFile[] | undefined, bats = false): Promise<LanguageAnalysis & { secrets: string[] }> {
  const findings: DraftFinding[] = [];
  const secrets: string[] = [];
  const starts = lineStarts(text);
  const at = (offset: number) => positionAt(starts, offset);
  let parseErrors = 0;
  try {
    await parseShell(text, { variant: bats ? LangVariant.LangBats : LangVariant.LangBash, keepComments: false });
  } catch (error) {
    parseErrors = 1;
    const pos = (error as { Pos?: { Line: number; Col: number } }).Pos;
    const where = pos !== undefined && pos.Line > 0 ? { line: pos.Line, column: pos.Col } : { line: 1, column: 1 };
    const message = error instanceof Error ? error.message : String(error);
    findings.push({ category: 'error-handling', severity: 'high', line: where.line, column: where.column, source: text.split('\n')[where.line - 1] ?? '', message: `The script does not parse (sh-syntax: ${message}); bash would run the statements before this point and then fail, and this review is best-effort.`, recommendation: 'Fix the syntax (bash -n or shfmt shows it) and run the review again.' });
  }

  const { commands, functions } = shellCommands(text);
  const functionNames = new Set(functions.map((fn) => fn.name));
  // The script's own helpers that honour a dry-run flag (`run() { [[ $DRY_RUN ]] && return; "$@"; }`).
  const dryRunHelpers = new Set(functions.filter((fn) => /dry[-_]?run|DRYRUN|NOOP/i.test(text.slice(fn.offset, fn.end)) && /"\$@"|\$\*/.test(text.slice(fn.offset, fn.end))).map((fn) => fn.name));

  // Variables the script checks before use: ${VAR:?}, [ -n "$VAR" ], [[ -d $VAR ]], or assigned a plain literal.
  const checkedVars = new Set<string>();
  for (const command of commands) {
    for (const word of command.words) for (const v of word.vars) if (v.required) checkedVars.add(v.name);
    for (const a of command.assignments) {
      for (const v of a.value.vars) if (v.required) checkedVars.add(a.name);
      if (a.value.vars.length === 0 && a.value.substitutions.length === 0 && a.value.value !== '') checkedVars.add(a.name);
    }
    // Operands of test commands (`[[ a && b ]]` is split at `&&`, so a part may start with its operator).
    const words = command.name === '[' || command.name === '[[' || command.name === 'test' || /^-[a-z]$/.test(command.name) ? command.words : [];
    for (let k = 0; k + 1 < words.length; k += 1) {
      if (/^-[nzdefs]$/.test(words[k]?.value ?? '')) for (const v of words[k + 1]?.vars ?? []) checkedVars.add(v.name);
    }
  }

  const steps = commands.map((command) => unwrap(command, dryRunHelpers));
  const whereOf = (command: ShCommand): string => (command.fn === null ? 'the script' : `${command.fn}()`);
  const risks = steps.map((step) => riskOf(step, checkedVars, whereOf(step.command)));
  const stateFunctions = new Set<string>();
  for (let changed = true; changed;) {
    changed = false;
    steps.forEach((step, k) => {
      const fn = step.command.fn;
      if (fn !== null && !stateFunctions.has(fn) && isStateChanging(step, risks[k] !== undefined, stateFunctions)) {
        stateFunctions.add(fn);
        changed = true;
      }
    });
  }
  const stateSteps = steps.filter((step, k) => step.name !== '' && isStateChanging(step, risks[k] !== undefined, stateFunctions));
  const changesState = stateSteps.length > 0;
  const firstState = stateSteps[0]?.command;
  const pointAt = (command: ShCommand | undefined) => (command === undefined ? { line: 1, column: 1, source: text.split('\n')[0] ?? '' } : { ...at(command.offset), source: excerptSource(text, command) });

  // Risky operations, including curl | sh and inline SQL.
  steps.forEach((step, k) => {
    const risk = risks[k];
    const command = step.command;
    if (risk !== undefined) {
      const severity: FindingSeverity = step.viaDryRunHelper ? 'low' : risk.severity;
      findings.push({ category: 'risky-operation', severity, line: at(command.offset).line, column: at(command.offset).column, source: excerptSource(text, command), message: `${risk.what}.${step.viaDryRunHelper ? ' It runs through a helper that honours the dry-run flag.' : ''}`, recommendation: risk.recommendation, testIdea: risk.testIdea });
    }
    if ((step.name === 'curl' || step.name === 'wget') && command.nextOp === '|') {
      const next = steps[k + 1];
      if (next !== undefined && SHELLS.has(next.name)) {
        findings.push({ category: 'risky-operation', severity: 'high', ...at(command.offset), source: text.slice(command.offset, next.command.end), message: `${step.name} | ${next.name}: runs a script downloaded from the network without checking it.`, recommendation: 'Download to a file, verify its checksum or signature against a pinned value, then run it.', testIdea: 'bats: with a curl shim returning a tampered installer, assert the script refuses to run it (checksum mismatch)' });
      }
    }
    for (const word of command.words) {
      if (DESTRUCTIVE_SQL.test(word.value)) findings.push({ category: 'risky-operation', severity: 'high', ...at(word.offset), source: excerptSource(text, command), message: 'Inline SQL drops or truncates data.', recommendation: 'Move destructive SQL into a reviewed migration with a backup; never run it inline from a deploy script.', testIdea: 'bats: with a mysql/psql shim on PATH, assert the script sends no DROP/TRUNCATE' });
    }
  });

  // Secrets.
  for (const command of commands) {
    const assigned = [...command.assignments];
    if (['export', 'readonly', 'local', 'declare', 'typeset'].includes(command.name)) {
      for (const word of command.args) {
        const match = /^([A-Za-z_]\w*)=/.exec(word.text);
        if (match !== null) assigned.push({ name: match[1] ?? '', value: { ...word, text: word.text.slice(word.text.indexOf('=') + 1), value: word.value.slice(word.value.indexOf('=') + 1) }, word });
      }
    }
    for (const { name, value, word } of assigned) {
      if (SECRET_NAME.test(name) && value.vars.length === 0 && value.substitutions.length === 0 && isSecretValue(value.value)) {
        secrets.push(value.value);
        findings.push({ category: 'exposed-secret', severity: 'high', ...at(word.offset), source: excerptSource(text, command), message: `A secret is written in the script: ${name} is assigned a literal${command.name === 'export' ? ' and exported to every child process' : ''}.`, recommendation: 'Read it at run time from the secret store (Vault, AWS Secrets Manager, a mounted file with 0400) and keep it out of the environment of child processes.', testIdea: 'bats: grep the script in a test and assert it contains no literal passwords, tokens or keys' });
      }
    }
    for (let k = 0; k < command.args.length; k += 1) {
      const word = command.args[k] as ShWord;
      const option = /^--?([A-Za-z][\w-]*)=(.+)$/.exec(word.value);
      const literalAfter = /^-p(.+)$/.exec(word.value);
      const candidate = option !== null && SECRET_NAME.test(option[1] ?? '') ? option[2] : command.name === 'mysql' && literalAfter !== null && word.vars.length === 0 ? literalAfter[1] : undefined;
      if (candidate !== undefined && word.vars.length === 0 && isSecretValue(candidate)) {
        secrets.push(candidate);
        findings.push({ category: 'exposed-secret', severity: 'high', ...at(word.offset), source: excerptSource(text, command), message: `A secret is passed on the command line of ${command.name}, where ps and the shell history show it.`, recommendation: 'Pass secrets through a file or the tool\'s own credential store (e.g. ~/.my.cnf, PGPASSFILE), never as an argument.' });
      }
    }
    const reported = new Set(findings.filter((f) => f.category === 'exposed-secret').map((f) => f.line));
    for (const word of command.words) {
      if (hasUrlCredential(word.value)) findings.push({ category: 'exposed-secret', severity: 'high', ...at(word.offset), source: excerptSource(text, command), message: 'A URL carries a user name and password.', recommendation: 'Send credentials from a secret store in a header or a netrc file, not in the URL, where they end up in logs and history.' });
      else if (hasTokenShape(word.value) && !reported.has(at(word.offset).line)) findings.push({ category: 'exposed-secret', severity: 'high', ...at(word.offset), source: excerptSource(text, command), message: 'A word looks like an issued token or key.', recommendation: 'Revoke it, then read it from a secret store at run time.' });
    }
  }

  // Dry run.
  const hasDryRun = /dry[-_]?run|DRYRUN|\bNOOP\b|WHAT_?IF/i.test(text.replace(/^\s*#.*$/gm, ''));
  if (changesState && !hasDryRun) {
    const p = pointAt(firstState);
    findings.push({ category: 'missing-whatif', severity: 'medium', ...p, message: 'The script changes state but has no dry-run mode, so nobody can see what it would do before it does it.', recommendation: 'Add a --dry-run flag and route every change through a helper (run() { log "$*"; [[ $DRY_RUN == 1 ]] || "$@"; }).', testIdea: 'bats: run the script with --dry-run and command shims on PATH and assert no state-changing command is called' });
  }

  // Logging: swallowed errors, then whether anything is logged.
  steps.forEach((step, k) => {
    const command = step.command;
    for (const redirect of command.redirects) {
      if (/^(2>|2>>|&>|&>>)$/.test(redirect.op) && redirect.target?.value === '/dev/null') {
        const changes = stateSteps.includes(step);
        findings.push({ category: 'weak-logging', severity: changes ? 'medium' : 'low', ...at(redirect.offset), source: excerptSource(text, command), message: `Error output of ${step.name} is thrown away (${redirect.op}/dev/null)${changes ? ' on a command that changes state' : ''}.`, recommendation: 'Keep stderr (send it to the log) so a failure explains itself.' });
      }
    }
    if (command.prevOp === '||' && (command.name === 'true' || command.name === ':')) {
      const previous = steps[k - 1];
      const changes = previous !== undefined && stateSteps.includes(previous);
      findings.push({ category: 'weak-logging', severity: changes ? 'medium' : 'low', ...at(command.offset), source: previous === undefined ? excerptSource(text, command) : text.slice(previous.command.offset, command.end), message: `A failure${previous === undefined ? '' : ` of ${previous.name}`} is ignored (|| ${command.name}): it is neither logged nor handled.`, recommendation: 'Handle the expected failure explicitly (check first, or log and continue on a specific exit code) instead of || true.', testIdea: previous === undefined ? undefined : `bats: make ${previous.name} fail (a shim exiting 1) and assert the failure is logged` });
    }
  });
  const options = setOptions(commands, text);
  const logs = options.has('x') || commands.some((c) => c.name === 'logger' || c.name === 'tee' || (functionNames.has(c.name) && /^(log|info|warn|error|die)\w*$|_log$/.test(c.name)))
    || commands.some((c) => c.redirects.some((r) => /^(>>|>|&>>|&>)$/.test(r.op) && /log/i.test(r.target?.value ?? '')));
  if (changesState && !logs) {
    const p = pointAt(firstState);
    findings.push({ category: 'weak-logging', severity: 'medium', ...p, message: 'The script changes state but keeps no log of what it did (no logger, log file, tee or set -x; echo to a terminal is lost in a scheduled run).', recommendation: 'Log each change with a timestamp to a file or syslog (logger -t <name>), e.g. exec > >(tee -a "$LOG_FILE") 2>&1 and a log() helper.', testIdea: 'bats: run the script with shims and assert the log file names every change it made' });
  }

  // Rollback: a trap on ERR or EXIT that does something.
  const traps = commands.filter((c) => c.name === 'trap' && c.args.length >= 2 && c.args.slice(1).some((a) => /^(ERR|EXIT|0|SIGTERM|TERM|INT)$/.test(a.value)) && (c.args[0]?.value.trim() ?? '') !== '' && c.args[0]?.value !== '-');
  const hasRollback = traps.length > 0;
  if (changesState && !hasRollback) {
    const p = pointAt(firstState);
    const high = risks.some((r, k) => r !== undefined && r.severity === 'high' && !(steps[k]?.viaDryRunHelper ?? false));
    findings.push({ category: 'missing-rollback', severity: high ? 'high' : 'medium', ...p, message: 'The script changes state with no trap on ERR or EXIT, so a failure half-way leaves the system half-changed.', recommendation: 'Record what each step changed and add trap rollback ERR (and a cleanup on EXIT) that restores it in reverse order.', testIdea: 'bats: make a late step fail (a shim exiting 1) and assert the rollback restores the previous release and restarts the service' });
  }

  // Error handling: set -euo pipefail.
  const missing = [options.has('e') ? '' : '-e', options.has('u') ? '' : '-u', options.has('pipefail') ? '' : '-o pipefail'].filter((m) => m !== '');
  if (missing.length > 0 && (changesState || commands.length > 3)) {
    findings.push({ category: 'error-handling', severity: missing.includes('-e') && changesState ? 'medium' : 'low', line: 1, column: 1, source: text.split('\n')[0] ?? '', message: `The script does not set ${missing.join(', ')}: ${missing.includes('-e') ? 'a failing command does not stop it, ' : ''}${missing.includes('-u') ? 'an unset variable expands to nothing, ' : ''}${missing.includes('-o pipefail') ? 'a failure inside a pipeline is hidden, ' : ''}and it carries on.`.replace(', and', ' and'), recommendation: 'Start the script with set -euo pipefail (after the shebang) and handle the failures you expect explicitly.', testIdea: 'bats: make an early command fail (a shim exiting 1) and assert the script stops with a non-zero status before the next change' });
  }

  // Tests.
  const destructiveFunctions = functions.map((fn) => fn.name).filter((name) => stateFunctions.has(name));
  const scriptFirstLine = text.split('\n')[0] ?? '';
  if (tests === undefined || tests.length === 0) {
    if (changesState) findings.push({ category: 'thin-tests', severity: 'medium', line: 1, column: 1, source: scriptFirstLine, message: `No tests were given${destructiveFunctions.length > 0 ? ` for the functions that change state (${destructiveFunctions.join(', ')})` : ''}.`, recommendation: 'Add bats tests (@test) that put shims for the state-changing commands on PATH and cover the dry run, bad input and a failing step.' });
  } else {
    const words = new Set<string>();
    let hasBlocks = false;
    for (const test of tests) {
      const parsed = shellCommands(test.text);
      for (const command of parsed.commands) {
        if (command.name === '@test') hasBlocks = true;
        for (const word of command.words) for (const part of word.value.split(/[\s/]+/)) words.add(part);
      }
      for (const fn of parsed.functions) words.add(fn.name);
    }
    if (!hasBlocks) findings.push({ category: 'thin-tests', severity: 'medium', line: 1, column: 1, source: scriptFirstLine, message: `The test file(s) given (${tests.map((t) => t.path).join(', ')}) have no bats @test blocks.`, recommendation: 'Write bats tests: @test "what it does" { run ...; [ "$status" -eq 0 ]; }.' });
    for (const fn of functions) {
      if (!destructiveFunctions.includes(fn.name) || words.has(fn.name)) continue;
      findings.push({ category: 'thin-tests', severity: 'medium', ...at(fn.offset), source: text.slice(fn.offset, fn.end), message: `No test calls ${fn.name}(), which changes state.`, recommendation: `Add a bats @test that runs ${fn.name} with shims on PATH and checks what it changes, including when a step fails.` });
    }
  }

  return { findings, parseErrors, secrets, facts: { changesState, hasRollback, destructiveFunctions } };
}
