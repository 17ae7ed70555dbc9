/**
 * A shell tokenizer and simple-command splitter for the script review. sh-syntax (mvdan/sh) decides
 * whether the script parses, but the AST it hands to JavaScript stops at top-level statement spans,
 * so the commands inside them (words, quoting, variables, `$(...)`, pipelines, redirections,
 * functions, assignments) come from here. It follows the POSIX/bash token rules closely enough for
 * review; it does not expand anything.
 */

/** A variable reference inside a word. */
export interface ShVariable {
  readonly name: string;
  /** Inside double quotes (no word splitting). */
  readonly quoted: boolean;
  /** `${NAME:?message}` or `${NAME?}`: the shell stops when it is unset or empty. */
  readonly required: boolean;
}

/** A word: `text` as written, `value` with quotes removed (expansions kept as written). */
export interface ShWord {
  readonly kind: 'word';
  readonly text: string;
  readonly value: string;
  readonly offset: number;
  readonly end: number;
  readonly vars: readonly ShVariable[];
  /** Bodies of `$(...)`, backticks and `<(...)`/`>(...)` with their offsets. */
  readonly substitutions: readonly { text: string; offset: number }[];
}

interface ShOp {
  readonly kind: 'op';
  readonly text: string;
  readonly offset: number;
}

type ShToken = ShWord | ShOp;

/** A simple command: its assignments, command word, arguments and redirections. */
export interface ShCommand {
  readonly assignments: readonly { name: string; value: ShWord; word: ShWord }[];
  /** The command name (unquoted), or '' for a pure assignment. */
  readonly name: string;
  readonly words: readonly ShWord[];
  readonly args: readonly ShWord[];
  readonly redirects: readonly { op: string; target: ShWord | undefined; offset: number }[];
  readonly offset: number;
  readonly end: number;
  /** The operator before and after it (`|`, `||`, `&&`, `;`, newline) or null. */
  readonly prevOp: string | null;
  readonly nextOp: string | null;
  /** The function it is defined in, or null at top level. */
  readonly fn: string | null;
}

/** A function definition with the offsets of its name and body. */
export interface ShFunction {
  readonly name: string;
  readonly offset: number;
  end: number;
}

const OPERATORS = ['&>>', '&>', '<<<', '<<-', '<<', '>>', '>&', '<&', '<>', '>|', '||', '&&', '|&', ';;', '|', '&', ';', '(', ')', '>', '<'];
const REDIRECT = /^\d*(&>>|&>|<<<|<<-|<<|>>|>&|<&|<>|>\||>|<)$/;
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'esac', 'time']);
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/;

/** Index of the `close` matching the `open` before `from`, skipping quotes; `text.length` when unclosed. */
function findClose(text: string, from: number, open: string, close: string): number {
  let depth = 1;
  for (let j = from; j < text.length; j += 1) {
    const c = text[j];
    if (c === '\\') j += 1;
    else if (c === "'" && open !== '{') j = Math.max(j, text.indexOf("'", j + 1) === -1 ? text.length : text.indexOf("'", j + 1));
    else if (c === '"') {
      for (j += 1; j < text.length && text[j] !== '"'; j += 1) if (text[j] === '\\') j += 1;
    } else if (c === open) depth += 1;
    else if (c === close) {
      depth -= 1;
      if (depth === 0) return j;
    }
  }
  return text.length;
}

/** Splits `text` into words and operators; comments are dropped and heredoc bodies skipped. */
function tokenize(text: string, base: number): ShToken[] {
  const tokens: ShToken[] = [];
  const heredocs: { delimiter: string; strip: boolean }[] = [];
  let i = 0;
  const n = text.length;

  const readWord = (): ShWord => {
    const start = i;
    let value = '';
    const vars: ShVariable[] = [];
    const substitutions: { text: string; offset: number }[] = [];
    /** A `...` command substitution at `i`: recorded, kept in the value, `i` past its closing backtick. */
    const backtick = (): void => {
      const close = text.indexOf('`', i + 1);
      const to = close === -1 ? n : close;
      substitutions.push({ text: text.slice(i + 1, to), offset: base + i + 1 });
      value += text.slice(i, to + 1);
      i = to + 1;
    };
    const dollar = (quoted: boolean): void => {
      const next = text[i + 1] ?? '';
      if (next === '(') {
        const arithmetic = text[i + 2] === '(';
        const close = findClose(text, i + 2, '(', ')');
        if (!arithmetic) substitutions.push({ text: text.slice(i + 2, close), offset: base + i + 2 });
        value += text.slice(i, close + 1);
        i = close + 1;
      } else if (next === '{') {
        const close = findClose(text, i + 2, '{', '}');
        const inner = text.slice(i + 2, close);
        const name = /^[#!]?([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(inner)?.[1];
        if (name !== undefined) vars.push({ name, quoted, required: /^[#!]?[A-Za-z_0-9@*#?$!-][A-Za-z0-9_]*:?\?/.test(inner) });
        value += text.slice(i, close + 1);
        i = close + 1;
      } else if (/[A-Za-z_]/.test(next)) {
        const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0] ?? next;
        vars.push({ name, quoted, required: false });
        value += `$${name}`;
        i += 1 + name.length;
      } else if (/[0-9@*#?$!-]/.test(next)) {
        vars.push({ name: next, quoted, required: false });
        value += `$${next}`;
        i += 2;
      } else {
        value += '$';
        i += 1;
      }
    };
    if ((text[i] === '<' || text[i] === '>') && text[i + 1] === '(') {
      const close = findClose(text, i + 2, '(', ')');
      substitutions.push({ text: text.slice(i + 2, close), offset: base + i + 2 });
      i = close + 1;
      return { kind: 'word', text: text.slice(start, i), value: text.slice(start, i), offset: base + start, end: base + i, vars, substitutions };
    }
    while (i < n) {
      const c = text[i] as string;
      if (' \t\r\n|&;()<>'.includes(c)) break;
      if (c === '\\') {
        if (text[i + 1] !== '\n') value += text[i + 1] ?? '';
        i += 2;
      } else if (c === "'") {
        const close = text.indexOf("'", i + 1);
        const to = close === -1 ? n : close;
        value += text.slice(i + 1, to);
        i = to + 1;
      } else if (c === '"') {
        i += 1;
        while (i < n && text[i] !== '"') {
          const d = text[i] as string;
          if (d === '\\') {
            value += text[i + 1] ?? '';
            i += 2;
          } else if (d === '$') dollar(true);
          else if (d === '`') backtick();
          else {
            value += d;
            i += 1;
          }
        }
        i += 1;
      } else if (c === '$') {
        dollar(false);
      } else if (c === '`') {
        backtick();
      } else {
        value += c;
        i += 1;
      }
    }
    return { kind: 'word', text: text.slice(start, Math.min(i, n)), value, offset: base + start, end: base + Math.min(i, n), vars, substitutions };
  };

  while (i < n) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t' || c === '\r') {
      i += 1;
    } else if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
    } else if (c === '#') {
      while (i < n && text[i] !== '\n') i += 1;
    } else if (c === '\n') {
      tokens.push({ kind: 'op', text: '\n', offset: base + i });
      i += 1;
      for (const heredoc of heredocs.splice(0)) {
        while (i < n) {
          const eol = text.indexOf('\n', i);
          const lineText = text.slice(i, eol === -1 ? n : eol);
          i = eol === -1 ? n : eol + 1;
          if ((heredoc.strip ? lineText.replace(/^\t+/, '') : lineText) === heredoc.delimiter) break;
        }
      }
    } else if ((c === '<' || c === '>') && text[i + 1] === '(') {
      tokens.push(readWord());
    } else {
      const digits = /^\d+(?=[<>])/.exec(text.slice(i, i + 4))?.[0] ?? '';
      const op = OPERATORS.find((candidate) => text.startsWith(candidate, i + digits.length));
      if (op !== undefined && (digits === '' || REDIRECT.test(digits + op))) {
        tokens.push({ kind: 'op', text: digits + op, offset: base + i });
        i += digits.length + op.length;
        if (op === '<<' || op === '<<-') {
          while (text[i] === ' ' || text[i] === '\t') i += 1;
          const delimiter = readWord();
          tokens.push(delimiter);
          heredocs.push({ delimiter: delimiter.value, strip: op === '<<-' });
        }
      } else {
        tokens.push(readWord());
      }
    }
  }
  return tokens;
}

/** The simple commands and functions of a shell script (commands in `$(...)` included). */
export function shellCommands(text: string): { commands: ShCommand[]; functions: ShFunction[] } {
  const commands: ShCommand[] = [];
  const functions: ShFunction[] = [];
  const scan = (source: string, base: number, outerFn: string | null): void => {
    const tokens = tokenize(source, base);
    const fnStack: { fn: ShFunction; depth: number }[] = [];
    let braceDepth = 0;
    let parenDepth = 0;
    let pendingFn: { name: string; offset: number } | null = null;
    let words: ShWord[] = [];
    let redirects: { op: string; target: ShWord | undefined; offset: number }[] = [];
    let prevOp: string | null = null;
    const currentFn = (): string | null => fnStack.at(-1)?.fn.name ?? outerFn;

    const openBrace = (at: number): void => {
      if (pendingFn !== null) {
        const fn: ShFunction = { name: pendingFn.name, offset: pendingFn.offset, end: at };
        functions.push(fn);
        fnStack.push({ fn, depth: braceDepth });
        pendingFn = null;
      }
      braceDepth += 1;
    };
    const closeBrace = (at: number): void => {
      braceDepth = Math.max(0, braceDepth - 1);
      const top = fnStack.at(-1);
      if (top !== undefined && top.depth === braceDepth) {
        top.fn.end = at + 1;
        fnStack.pop();
      }
    };

    const finish = (nextOp: string | null): void => {
      let list = words;
      const pending = redirects;
      words = [];
      redirects = [];
      while (list.length > 0 && RESERVED.has(list[0]?.text ?? '')) {
        const word = list[0] as ShWord;
        if (word.text === '{') openBrace(word.offset);
        if (word.text === '}') closeBrace(word.offset);
        list = list.slice(1);
      }
      // A trailing `}` (e.g. `{ log x; exit 1; }` split at `;`) closes a block too.
      while (list.length > 0 && list.at(-1)?.text === '}' && list.length === 1) {
        closeBrace(list[0]?.offset ?? 0);
        list = [];
      }
      const first = list[0];
      if (first === undefined) {
        prevOp = nextOp;
        return;
      }
      if (first.text === 'function') {
        const name = list[1]?.value.replace(/\(\)$/, '');
        if (name !== undefined) pendingFn = { name, offset: first.offset };
        if (list.at(-1)?.text === '{') openBrace(list.at(-1)?.offset ?? first.offset);
        prevOp = nextOp;
        return;
      }
      if (first.text === 'for' || first.text === 'select' || first.text === 'case') {
        prevOp = nextOp;
        return;
      }
      const assignments: { name: string; value: ShWord; word: ShWord }[] = [];
      let k = 0;
      for (; k < list.length; k += 1) {
        const word = list[k] as ShWord;
        const match = ASSIGNMENT.exec(word.text);
        if (match === null) break;
        assignments.push({ name: match[1] ?? '', value: valueAfterEquals(word), word });
      }
      const rest = list.slice(k);
      const last = [...list, ...pending.flatMap((r) => (r.target === undefined ? [] : [r.target]))].reduce((max, w) => Math.max(max, w.end), first.end);
      commands.push({ assignments, name: rest[0]?.value ?? '', words: rest, args: rest.slice(1), redirects: pending, offset: first.offset, end: last, prevOp, nextOp, fn: currentFn() });
      for (const word of list) for (const sub of word.substitutions) scan(sub.text, sub.offset, currentFn());
      prevOp = nextOp;
    };

    for (let t = 0; t < tokens.length; t += 1) {
      const token = tokens[t] as ShToken;
      if (token.kind === 'word') {
        words.push(token);
        continue;
      }
      if (REDIRECT.test(token.text)) {
        const target = tokens[t + 1];
        if (target?.kind === 'word') {
          t += 1;
          redirects.push({ op: token.text, target, offset: token.offset });
          for (const sub of target.substitutions) scan(sub.text, sub.offset, currentFn());
        } else redirects.push({ op: token.text, target: undefined, offset: token.offset });
        continue;
      }
      if (token.text === '(' && tokens[t + 1]?.text === ')' && words.length === 1) {
        const name = words[0] as ShWord;
        pendingFn = { name: name.value, offset: name.offset };
        words = [];
        t += 1;
        continue;
      }
      if (token.text === '(') {
        finish('(');
        parenDepth += 1;
        continue;
      }
      if (token.text === ')') {
        if (parenDepth === 0) {
          // The pattern of a case branch: `start|restart)`.
          words = [];
          redirects = [];
          prevOp = ')';
          continue;
        }
        parenDepth -= 1;
      }
      finish(token.text);
    }
    finish(null);
  };
  scan(text, 0, null);
  commands.sort((a, b) => a.offset - b.offset);
  return { commands, functions };
}

/** The value part of an assignment word `NAME=value` as its own word. */
function valueAfterEquals(word: ShWord): ShWord {
  const at = word.text.indexOf('=');
  const valueAt = word.value.indexOf('=');
  const rawValue = word.text.slice(at + 1);
  return { ...word, text: rawValue, value: word.value.slice(valueAt + 1), offset: word.offset + at + 1 };
}
