/**
 * What the logs tools ask a source (files, Loki) for: parts of a time window, each with how many
 * entries to keep and from which end, and what comes back.
 */

/**
 * One part of a window, ms since the Unix epoch, both ends included. When it holds more than `max`
 * entries, `keep` says which ones are returned: the `newest` (closest to `to`) or the `oldest`
 * (closest to `from`).
 */
export interface WindowPart {
  readonly from: number;
  readonly to: number;
  readonly keep: 'newest' | 'oldest';
  readonly max: number;
}

/** One log entry as the logs tools return it. */
export interface LogEntry {
  /** ms since the Unix epoch. */
  readonly time: number;
  /** The level as written, or null. */
  readonly level: string | null;
  /** The message (for files: without the line's header, with continuation lines joined by `\n`). */
  readonly message: string;
  /** The configured file's name, or `loki`. */
  readonly source: string;
  readonly service: string | null;
  /** Loki: the entry's stream labels. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** The entries of one {@link WindowPart}, oldest first. */
export interface PartRead {
  readonly entries: LogEntry[];
  /** True when the part may have had more matching entries than were returned. */
  readonly truncated: boolean;
}

/** What a source read: one {@link PartRead} per part asked, and notes for a reader. */
export interface SourceRead {
  readonly parts: PartRead[];
  readonly notes: string[];
}

/** Longest message kept, characters; longer ones end with `…`. */
export const MAX_MESSAGE_CHARS = 8192;

/** `text` cut to {@link MAX_MESSAGE_CHARS}. */
export function capMessage(text: string): string {
  return text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

/** The entries to keep of `entries` (oldest first) for `part`, and whether some were dropped. */
export function keepEntries(entries: LogEntry[], part: WindowPart): { entries: LogEntry[]; dropped: boolean } {
  if (entries.length <= part.max) return { entries, dropped: false };
  return { entries: part.keep === 'newest' ? entries.slice(entries.length - part.max) : entries.slice(0, part.max), dropped: true };
}

/** The reads of several sources for the same parts, merged part by part (oldest first, `max` kept). */
export function mergeReads(reads: readonly SourceRead[], parts: readonly WindowPart[]): SourceRead {
  return {
    parts: parts.map((part, index) => {
      const entries = reads.flatMap((read) => read.parts[index]?.entries ?? []).sort((a, b) => a.time - b.time);
      const kept = keepEntries(entries, part);
      return { entries: kept.entries, truncated: kept.dropped || reads.some((read) => read.parts[index]?.truncated === true) };
    }),
    notes: reads.flatMap((read) => read.notes),
  };
}
