import { ConnectorError } from '../../core/errors.js';
import { readLinesBackward, type LineInfo } from '../shared/read-backward.js';
import { ORDER_TOLERANCE_MS } from '../shared/time-window.js';
import { createLineParser, type ParsedLine } from './log-lines.js';
import type { LogsConfig } from './logs-config.js';
import { capMessage, keepEntries, type LogEntry, type PartRead, type SourceRead, type WindowPart } from './log-window.js';

/**
 * Reading the parts of a window from one configured log file, from its end: lines newer than the
 * window are passed over, the read stops at the first line more than {@link ORDER_TOLERANCE_MS} older
 * than the window (or when every `newest` part is full), and never reads more than `maxBytes`
 * (the file and its rotation `<path>.1` together).
 */

/** One configured log file. */
export type LogFileConfig = LogsConfig['files'][number];

/** Continuation lines (a stack trace ...) kept per entry; more are dropped. */
const MAX_CONTINUATION_LINES = 200;

interface PartState {
  readonly part: WindowPart;
  /** Matching entries as read: newest first. */
  entries: LogEntry[];
  full: boolean;
  dropped: boolean;
}

/**
 * The entries of `file` in each part of the window that pass `filter`, oldest first per part.
 * A line that does not match the file's format (no header, no readable time) continues the entry
 * written before it (multi-line messages such as stack traces); such lines before the first entry
 * read are counted in a note. The last line of the file, when it has no line end yet, is being
 * written and is skipped (it is read once its line end is there).
 *
 * Throws `TOOL_FAILED` (system `logs`) when the file cannot be read: missing or a directory (not
 * retryable), or another file system error.
 */
export async function readLogFile(file: LogFileConfig, parts: readonly WindowPart[], filter: (message: string, level: string | null) => boolean, maxBytes: number, signal?: AbortSignal): Promise<SourceRead> {
  const parse = createLineParser(file.format);
  const states: PartState[] = parts.map((part) => ({ part, entries: [], full: false, dropped: false }));
  const earliest = Math.min(...parts.map((part) => part.from));
  let pending: string[] = []; // continuation lines, newest first, waiting for the line that starts their entry
  let orphans = 0;
  let skippedPartial = false;

  const onEntry = (parsed: ParsedLine): 'stop' | undefined => {
    const continuation = pending.length === 0 ? '' : `\n${pending.slice(0, MAX_CONTINUATION_LINES).reverse().join('\n')}`;
    pending = [];
    const { time } = parsed;
    if (time < earliest - ORDER_TOLERANCE_MS) return 'stop';
    let matched: boolean | undefined;
    for (const state of states) {
      const { part } = state;
      if (time < part.from || time > part.to) continue;
      const entry: LogEntry = { time, level: parsed.level, message: capMessage(parsed.message + continuation), source: file.name, service: file.service ?? null };
      matched ??= filter(entry.message, entry.level);
      if (!matched) continue;
      if (part.keep === 'newest') {
        if (state.full) state.dropped = true;
        else {
          state.entries.push(entry);
          state.full = state.entries.length >= part.max;
        }
      } else {
        state.entries.push(entry);
        if (state.entries.length > 2 * part.max) {
          state.entries.splice(0, state.entries.length - part.max); // keep the oldest read so far (the last pushed)
          state.dropped = true;
        }
      }
    }
    // Nothing older is needed once every part is either full of its newest entries or behind us.
    if (states.every((state) => (state.part.keep === 'newest' && state.full && state.dropped) || time < state.part.from - ORDER_TOLERANCE_MS)) return 'stop';
    return undefined;
  };

  const onLine = (line: string, info: LineInfo): 'stop' | undefined => {
    if (info.unterminated) {
      skippedPartial = true;
      return undefined;
    }
    const parsed = parse(line);
    if (parsed === undefined) {
      if (pending.length < MAX_CONTINUATION_LINES * 2) pending.push(line);
      return undefined;
    }
    return onEntry(parsed);
  };

  const notes: string[] = [];
  let budget = maxBytes;
  let result = await readOne(file.path, budget, onLine, signal, file.name, true);
  budget -= result.bytesRead;
  if (result.overlongLines > 0) notes.push(`${file.name}: ${result.overlongLines} line(s) longer than 1 MiB were skipped.`);
  if (file.rotated && result.reachedStart && !result.stopped && budget > 0) {
    const rotated = await readOne(`${file.path}.1`, budget, onLine, signal, file.name, false);
    if (rotated.exists) {
      result = rotated;
      if (rotated.overlongLines > 0) notes.push(`${file.name}.1: ${rotated.overlongLines} line(s) longer than 1 MiB were skipped.`);
    }
  }
  orphans += pending.length;
  const cut = !result.stopped && !result.reachedStart;
  if (cut) notes.push(`${file.name}: only the last ${maxBytes} bytes were read (maxReadBytes); older lines in the window may be missing.`);
  if (skippedPartial) notes.push(`${file.name}: the last line is incomplete (being written) and was skipped.`);
  if (orphans > 0 && !cut) notes.push(`${file.name}: ${orphans} line(s) at the start of the file match no entry and were skipped (check its format).`);

  const reads: PartRead[] = states.map((state) => {
    const ascending = state.entries.reverse();
    const kept = keepEntries(ascending, state.part);
    return { entries: kept.entries, truncated: state.dropped || kept.dropped || cut };
  });
  return { parts: reads, notes };
}

interface OneRead {
  readonly exists: boolean;
  readonly bytesRead: number;
  readonly reachedStart: boolean;
  readonly stopped: boolean;
  readonly overlongLines: number;
}

/** Reads one file backward; a missing rotation (`required` false) reads as empty. */
async function readOne(path: string, maxBytes: number, onLine: (line: string, info: LineInfo) => 'stop' | undefined, signal: AbortSignal | undefined, name: string, required: boolean): Promise<OneRead> {
  try {
    const read = await readLinesBackward(path, { maxBytes, signal }, onLine);
    return { exists: true, ...read };
  } catch (error) {
    if (signal?.aborted === true) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return { exists: false, bytesRead: 0, reachedStart: true, stopped: false, overlongLines: 0 };
    const reason = code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a directory' : code ?? (error instanceof Error ? error.message : String(error));
    throw new ConnectorError('TOOL_FAILED', `Could not read log file ${name} (${path}): ${reason}.`, {
      system: 'logs', status: code, retryable: code === 'EBUSY' || code === 'EAGAIN' || code === 'EMFILE', cause: error,
    });
  }
}
