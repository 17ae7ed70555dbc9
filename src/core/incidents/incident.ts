/**
 * Incidents: signals fingerprinted, de-duplicated and grouped. Pure: the store keeps an incident's
 * state and calls {@link applySignal} and {@link sweepIncident} under a row lock; this module decides.
 *
 * - **Grouping**: signals of one source whose values of the `groupBy` labels are equal share a group
 *   key (as Alertmanager's `group_by`); a firing signal opens an incident for its group key unless one
 *   is open, or was resolved less than `reopenWindowMs` ago (then it reopens).
 * - **De-duplication**: per alert fingerprint, a signal whose status is the alert's current status is
 *   a duplicate: counted, nothing changes.
 * - **Resolution**: the incident resolves when every alert in it is resolved.
 * - **Flapping**: an alert that changes status more than `flapping.maxTransitions` times within
 *   `flapping.windowMs` marks the incident flapping: its re-firing starts no new mission and its
 *   resolution waits until every alert has been resolved and quiet for `flapping.windowMs`
 *   ({@link sweepIncident}), in the spirit of Nagios' flap detection.
 */
import type { Signal, SignalStatus } from '../signals/signal.js';

/** How signals become incidents. Times in ms. */
export interface IncidentSettings {
  /** Labels whose values group signals into one incident (Alertmanager's `group_by`); empty: one group per source and name. */
  readonly groupBy: readonly string[];
  /** A firing signal within this long after its group's incident resolved reopens it instead of opening a new one. */
  readonly reopenWindowMs: number;
  readonly flapping: {
    /** Status changes of one alert within `windowMs` above which the incident is flapping. */
    readonly maxTransitions: number;
    readonly windowMs: number;
  };
  /** Most alerts (fingerprints) one incident tracks; more join as counted duplicates of nothing. */
  readonly maxAlerts: number;
}

/** What Interlock knows of one alert (fingerprint) in an incident. */
export interface IncidentAlert {
  readonly fingerprint: string;
  readonly name: string;
  readonly status: SignalStatus;
  readonly labels: Readonly<Record<string, string>>;
  readonly firstSeenAt: number;
  readonly lastSeenAt: number;
  /** Times of its recent status changes, oldest first, within the flapping window. */
  readonly transitions: readonly number[];
  /** Signals received for it, duplicates included. */
  readonly received: number;
}

export const INCIDENT_STATUSES = ['open', 'resolved'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** An incident's state, as stored. */
export interface IncidentState {
  readonly groupKey: string;
  /** The group's label values (the `groupBy` labels present on its first signal, plus `alertname`). */
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly source: string;
  readonly status: IncidentStatus;
  readonly flapping: boolean;
  readonly openedAt: number;
  readonly resolvedAt: number | null;
  readonly lastSignalAt: number;
  readonly alerts: readonly IncidentAlert[];
  /** Signals beyond `maxAlerts` distinct alerts, counted but not tracked. */
  readonly untracked: number;
}

/**
 * What a signal did: `opened` a new incident, `reopened` a resolved one, `joined` (a new alert in an
 * open incident), `changed` (an alert's status changed), `duplicate` (nothing new), `resolved` the
 * incident, `flapping` (the incident just became flapping), `ignored` (a resolved signal for no open
 * incident: nothing to do).
 */
export type IncidentEvent = 'opened' | 'reopened' | 'joined' | 'changed' | 'duplicate' | 'resolved' | 'flapping' | 'ignored';

/** The decision for one signal: the incident's new state (undefined: none), and what happened. */
export interface IncidentDecision {
  readonly incident: IncidentState | undefined;
  readonly events: readonly IncidentEvent[];
}

/**
 * The group key of a signal: its source, its name, and the values of the `groupBy` labels it has,
 * sorted by label name; e.g. `alertmanager|HighErrorRate|service="checkout"`. Stable across label order.
 */
export function groupKeyOf(signal: Signal, groupBy: readonly string[]): string {
  const labels = groupLabelsOf(signal, groupBy);
  const parts = Object.keys(labels).sort().map((name) => `${name}=${JSON.stringify(labels[name])}`);
  return [signal.source, ...parts].join('|');
}

/** The labels a signal is grouped by: `alertname` (its name) and each `groupBy` label it carries. */
export function groupLabelsOf(signal: Signal, groupBy: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = { alertname: signal.name };
  for (const name of groupBy) {
    const value = signal.labels[name];
    if (value !== undefined) labels[name] = value;
  }
  return labels;
}

function recent(transitions: readonly number[], at: number, windowMs: number): number[] {
  return transitions.filter((t) => t > at - windowMs);
}

/**
 * Applies one signal, received at `now` (ms), to its group's latest incident (`current`, undefined
 * when the group has none). Deterministic; never throws. The caller stores the result and acts on
 * the events (start a mission on `opened`, or on `reopened` unless flapping; tell the running
 * mission on `joined` and `changed`; close on `resolved`).
 */
export function applySignal(current: IncidentState | undefined, signal: Signal, now: number, settings: IncidentSettings): IncidentDecision {
  const groupKey = groupKeyOf(signal, settings.groupBy);
  const reopenable = current !== undefined && current.status === 'resolved' && current.resolvedAt !== null && now - current.resolvedAt <= settings.reopenWindowMs;
  if (current === undefined || (current.status === 'resolved' && !reopenable)) {
    if (signal.status === 'resolved') return { incident: current, events: ['ignored'] };
    const incident: IncidentState = {
      groupKey,
      groupLabels: groupLabelsOf(signal, settings.groupBy),
      source: signal.source,
      status: 'open',
      flapping: false,
      openedAt: now,
      resolvedAt: null,
      lastSignalAt: now,
      alerts: [{ fingerprint: signal.fingerprint, name: signal.name, status: 'firing', labels: signal.labels, firstSeenAt: now, lastSeenAt: now, transitions: [now], received: 1 }],
      untracked: 0,
    };
    return { incident, events: ['opened'] };
  }

  const events: IncidentEvent[] = [];
  const index = current.alerts.findIndex((alert) => alert.fingerprint === signal.fingerprint);
  let alerts = current.alerts;
  let untracked = current.untracked;
  let flapping = current.flapping;
  if (index === -1) {
    if (signal.status === 'resolved' && current.status === 'resolved') return { incident: current, events: ['ignored'] };
    if (alerts.length >= settings.maxAlerts) untracked += 1;
    else {
      alerts = [...alerts, { fingerprint: signal.fingerprint, name: signal.name, status: signal.status, labels: signal.labels, firstSeenAt: now, lastSeenAt: now, transitions: [now], received: 1 }];
      events.push('joined');
    }
  } else {
    const alert = current.alerts[index]!;
    if (alert.status === signal.status) {
      alerts = current.alerts.with(index, { ...alert, lastSeenAt: now, received: alert.received + 1 });
      events.push('duplicate');
    } else {
      const transitions = [...recent(alert.transitions, now, settings.flapping.windowMs), now];
      alerts = current.alerts.with(index, { ...alert, status: signal.status, lastSeenAt: now, received: alert.received + 1, transitions });
      events.push('changed');
      if (!flapping && transitions.length > settings.flapping.maxTransitions) {
        flapping = true;
        events.push('flapping');
      }
    }
  }

  const allResolved = alerts.every((alert) => alert.status === 'resolved');
  let status = current.status;
  let resolvedAt = current.resolvedAt;
  if (current.status === 'resolved' && !allResolved) {
    status = 'open';
    resolvedAt = null;
    events.unshift('reopened');
  } else if (current.status === 'open' && allResolved && !flapping) {
    status = 'resolved';
    resolvedAt = now;
    events.push('resolved');
  }
  return { incident: { ...current, alerts, untracked, flapping, status, resolvedAt, lastSignalAt: now }, events };
}

/**
 * Time-based work on an open incident at `now`: a flapping incident whose alerts are all resolved and
 * have not changed status for `flapping.windowMs` resolves, and stops flapping. Returns the incident
 * unchanged (and no events) otherwise.
 */
export function sweepIncident(current: IncidentState, now: number, settings: IncidentSettings): IncidentDecision {
  if (current.status !== 'open' || !current.flapping) return { incident: current, events: [] };
  const quiet = current.alerts.every((alert) => alert.status === 'resolved' && (alert.transitions.at(-1) ?? 0) <= now - settings.flapping.windowMs);
  if (!quiet) return { incident: current, events: [] };
  return { incident: { ...current, status: 'resolved', resolvedAt: now, flapping: false }, events: ['resolved'] };
}
