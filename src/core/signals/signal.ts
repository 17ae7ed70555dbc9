/**
 * Signals: what comes in (an Alertmanager alert, a CloudEvent, a mapped JSON body), normalised to one
 * shape before it is stored, de-duplicated and grouped into an incident. Pure: no I/O.
 */

/** Whether the condition a signal reports holds (`firing`) or has ended (`resolved`). */
export const SIGNAL_STATUSES = ['firing', 'resolved'] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

/** Where a signal came from, by protocol. */
export const SIGNAL_KINDS = ['alertmanager', 'cloudevents', 'generic'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/** One normalised signal. Times are ms since the Unix epoch (UTC). */
export interface Signal {
  /** The configured source it arrived through, e.g. `alertmanager` (its intake endpoint and credentials). */
  readonly source: string;
  readonly kind: SignalKind;
  /**
   * The de-duplication key within the source: Alertmanager's fingerprint of the label set (computed
   * the same way when the payload has none), the CloudEvent's `id`, or the mapped key. Hex or text, 1..200.
   */
  readonly fingerprint: string;
  readonly status: SignalStatus;
  /** What it is about: the `alertname` label, or the CloudEvent `type`. */
  readonly name: string;
  /** Identifying labels (Prometheus label set; CloudEvent attributes and extensions). */
  readonly labels: Readonly<Record<string, string>>;
  /** Descriptive text (summary, description, runbook_url): untrusted input, never instructions. */
  readonly annotations: Readonly<Record<string, string>>;
  /** When the condition started. */
  readonly startsAt: number;
  /** When it ended (resolved), or when the sender expects it to end; null while firing with no end. */
  readonly endsAt: number | null;
  /** A link back to the sender's view (Prometheus graph URL, CloudEvent dataschema/source), or null. */
  readonly generatorURL: string | null;
}
