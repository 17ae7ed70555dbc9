import Table from 'cli-table3';

/** A plain, compact table (no colours, so output piped to a file stays clean) with a header row. */
export function renderTable(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const table = new Table({ head: [...head], style: { head: [], border: [], compact: true } });
  for (const row of rows) table.push([...row]);
  return table.toString();
}

/** JSON for scripts: two-space indented. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** A coarse age for tables: `45s`, `12m`, `3h`, `5d`. Negative ages (clock skew) show as `0s`. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** A duration between two instants (ms since the epoch): `350ms`, `1.2s`, `3m 5s`; `-` when either is missing. */
export function formatDuration(start: number | null, end: number | null): string {
  if (start === null || end === null) return '-';
  const ms = Math.max(0, end - start);
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m ${Math.floor((ms % 60_000) / 1000)}s`;
}

/** An instant (ms since the epoch) as an ISO 8601 UTC timestamp, or `-`. */
export function formatTime(at: number | null): string {
  return at === null ? '-' : new Date(at).toISOString();
}

/** `text` cut to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
