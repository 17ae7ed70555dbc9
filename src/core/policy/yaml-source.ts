import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node, type Scalar } from 'yaml';
import type { PolicyIssue } from './policy-errors.js';

/**
 * YAML documents with their positions, so every problem found later (by the schema, a calendar or
 * the CEL type checker) can be reported at `file:line:column` of the value at fault.
 */

/** One YAML document of a file: its plain value and a way to find where a field of it is. */
export interface SourcedDocument {
  readonly file: string;
  /** 0-based index of the document in its file (documents are separated by `---`). */
  readonly index: number;
  /** The document as plain data (maps as objects, sequences as arrays). */
  readonly value: unknown;
  /** An issue at the value of `path` (or at the deepest part of it that exists). */
  issueAt(path: readonly (string | number)[], message: string, extra?: { readonly expected?: string; readonly received?: string }): PolicyIssue;
  /** An issue at the key of the last segment of `path` (for unknown or duplicate keys). */
  issueAtKey(path: readonly (string | number)[], message: string): PolicyIssue;
  /**
   * An issue at character `offset` of the string scalar at `path` (a CEL expression): the position is
   * exact for single-line plain and quoted scalars and for `|` and `>` block scalars (without blank
   * lines), else the scalar's start.
   */
  issueInScalar(path: readonly (string | number)[], offset: number, message: string): PolicyIssue;
}

/** Options of {@link parseYamlFile}. */
export interface ParseYamlOptions {
  /** Resolve `<<` merge keys (policy test files use them to share inputs). @default false */
  readonly merge?: boolean;
}

/**
 * Parses every document of a YAML file. Syntax errors (and duplicate keys) come back as issues with
 * their position; a file with errors yields no documents. Empty documents are skipped.
 */
export function parseYamlFile(file: string, text: string, options: ParseYamlOptions = {}): { readonly documents: SourcedDocument[]; readonly issues: PolicyIssue[] } {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: options.merge ?? false });
  const at = (offset: number, path: string, message: string, extra: { readonly expected?: string; readonly received?: string } = {}): PolicyIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, source: `${file}:${line}:${col}`, path, message, ...extra };
  };
  const issues: PolicyIssue[] = [];
  if ('empty' in parsed) {
    for (const error of parsed.errors) issues.push(at(error.pos[0], '(document)', `invalid YAML: ${firstLine(error.message)}`));
    return { documents: [], issues };
  }
  const documents = parsed;
  for (const doc of documents) {
    for (const error of doc.errors) issues.push(at(error.pos[0], '(document)', `invalid YAML: ${firstLine(error.message)}`));
  }
  if (issues.length > 0) return { documents: [], issues };

  const sourced: SourcedDocument[] = [];
  documents.forEach((doc, index) => {
    if (doc.contents === null) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      issues.push(at(doc.contents.range[0], '(document)', `invalid YAML: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    const dotted = (path: readonly (string | number)[]): string => (path.length === 0 ? '(document)' : path.join('.'));
    sourced.push({
      file,
      index,
      value,
      issueAt: (path, message, extra) => at(locate(doc, path, 'value'), dotted(path), message, extra),
      issueAtKey: (path, message) => at(locate(doc, path, 'key'), dotted(path), message),
      issueInScalar: (path, offset, message) => {
        const node = nodeAt(doc, path);
        const position = isScalar(node) ? scalarOffset(node, text, offset) : undefined;
        return at(position ?? locate(doc, path, 'value'), dotted(path), message);
      },
    });
  });
  return { documents: sourced, issues };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

/** The node at `path`, or undefined when some segment does not exist. */
function nodeAt(doc: Document, path: readonly (string | number)[]): unknown {
  let node: unknown = doc.contents;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) return undefined;
      node = pair.value;
    } else if (isSeq(node)) {
      node = node.items[Number(segment)];
    } else {
      return undefined;
    }
  }
  return node;
}

/** Offset of the value (or key) at `path`, or of the deepest existing part of it. */
function locate(doc: Document, path: readonly (string | number)[], which: 'value' | 'key'): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) return offset;
      if (last && which === 'key') return rangeStart(pair.key) ?? offset;
      node = pair.value;
      offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
    } else if (isSeq(node)) {
      const item: unknown = node.items[Number(segment)];
      if (item === undefined) return offset;
      node = isPair(item) ? item.value : item;
      offset = rangeStart(node) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  return node !== null && typeof node === 'object' && 'range' in node ? (node as Node).range?.[0] : undefined;
}

/**
 * The file offset of character `offset` of a string scalar's value, or undefined when the scalar's
 * layout (folded or multi-line flow scalars) makes it ambiguous.
 */
function scalarOffset(node: Scalar, text: string, offset: number): number | undefined {
  const range = node.range;
  if (range === undefined || range === null) return undefined;
  const [start, end] = range;
  const source = text.slice(start, end);
  switch (node.type) {
    case 'PLAIN':
      return source.includes('\n') ? undefined : start + offset;
    case 'QUOTE_SINGLE':
      return source.includes('\n') ? undefined : walk(text, start + 1, offset, (index) => (text[index] === "'" && text[index + 1] === "'" ? 2 : 1));
    case 'QUOTE_DOUBLE':
      return source.includes('\n') ? undefined : walk(text, start + 1, offset, (index) => (text[index] === '\\' ? escapeLength(text[index + 1]) : 1));
    case 'BLOCK_LITERAL':
    case 'BLOCK_FOLDED': // a folded line break is one space: the same offsets, unless blank lines intervene
      return blockOffset(text, start, end, offset);
    default:
      return undefined;
  }
}

/** Advances over `count` value characters from `index`, each taking `width(index)` source characters. */
function walk(text: string, index: number, count: number, width: (index: number) => number): number {
  let position = index;
  for (let consumed = 0; consumed < count && position < text.length; consumed++) position += width(position);
  return position;
}

function escapeLength(next: string | undefined): number {
  if (next === 'x') return 4;
  if (next === 'u') return 6;
  if (next === 'U') return 10;
  return 2;
}

/** Offset in a block scalar: value line n is source line n after the header, less its indentation. */
function blockOffset(text: string, start: number, end: number, offset: number): number | undefined {
  const headerEnd = text.indexOf('\n', start);
  if (headerEnd === -1 || headerEnd >= end) return undefined;
  const lines = text.slice(headerEnd + 1, end).split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim() !== '').map((line) => line.length - line.trimStart().length));
  if (!Number.isFinite(indent)) return undefined;
  let remaining = offset;
  let lineStart = headerEnd + 1;
  for (const line of lines) {
    const content = Math.max(0, line.length - indent);
    if (remaining <= content) return lineStart + Math.min(indent, line.length) + remaining;
    remaining -= content + 1; // the newline
    lineStart += line.length + 1;
  }
  return undefined;
}
