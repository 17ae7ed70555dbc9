import type { Series, SampleValue } from './prometheus-results.js';

/** The condition a `prometheus.check` holds its query's result to. */
export interface CheckCondition {
  /** Every series' value must be strictly below this. */
  readonly below?: number | undefined;
  /** Every series' value must be strictly above this. */
  readonly above?: number | undefined;
  /** What an empty result means: `fail` (no data is no proof, the default) or `pass` (the query selects only bad series). */
  readonly ifEmpty: 'pass' | 'fail';
}

/** The outcome of one check: whether it held, and what was observed, in words. */
export interface CheckOutcome {
  readonly ok: boolean;
  readonly observed: string;
}

/** Most offending series named in `observed`. */
const NAMED = 3;

function numeric(value: SampleValue): number {
  if (value === '+Inf') return Number.POSITIVE_INFINITY;
  if (value === '-Inf') return Number.NEGATIVE_INFINITY;
  return value === 'NaN' ? Number.NaN : value;
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels).filter(([name]) => name !== '__name__');
  return entries.length === 0 ? '{}' : `{${entries.map(([name, value]) => `${name}="${value}"`).join(', ')}}`;
}

function bounds(condition: CheckCondition): string {
  return [condition.above === undefined ? '' : `above ${condition.above}`, condition.below === undefined ? '' : `below ${condition.below}`].filter((part) => part !== '').join(' and ');
}

/**
 * Holds an instant query's result (its last sample per series) to `condition`: it passes when every
 * series' value is strictly inside the bounds (NaN never is), or, for an empty result, as `ifEmpty`
 * says. The same reading of a threshold as an alerting rule's `expr > x`, inverted: the check passes
 * when the alert would not fire.
 */
export function evaluateCheck(series: readonly Series[], condition: CheckCondition): CheckOutcome {
  const wanted = bounds(condition);
  if (series.length === 0) {
    return { ok: condition.ifEmpty === 'pass', observed: `no series${condition.ifEmpty === 'pass' ? ' (an empty result passes)' : ': no data, so nothing shows the value is ' + wanted}` };
  }
  const values = series.map((item) => ({ labels: item.labels, value: item.values.length === 0 ? Number.NaN : numeric(item.values[item.values.length - 1]![1]) }));
  const bad = values.filter(({ value }) => Number.isNaN(value) || (condition.below !== undefined && !(value < condition.below)) || (condition.above !== undefined && !(value > condition.above)));
  if (bad.length === 0) {
    const shown = values.slice(0, NAMED).map(({ labels, value }) => `${labelText(labels)} ${value}`).join(', ');
    return { ok: true, observed: `${values.length} series, all ${wanted}: ${shown}${values.length > NAMED ? ', ...' : ''}` };
  }
  const shown = bad.slice(0, NAMED).map(({ labels, value }) => `${labelText(labels)} ${value}`).join(', ');
  return { ok: false, observed: `${bad.length} of ${values.length} series not ${wanted}: ${shown}${bad.length > NAMED ? ', ...' : ''}` };
}
