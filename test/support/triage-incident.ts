// A realistic incident for the triage assistant's tests, built from the repository's own material:
// - the alert: the estate's DbPoolExhausted rule (examples/estate/alert-rules.yml), its labels and
//   annotation templates rendered for service `payments` as Prometheus would, sent in the envelope of a
//   real Alertmanager webhook payload (test/fixtures/payloads/alertmanager-webhook/prom2teams/all_ok.json)
//   and parsed by Interlock's own intake (signalsFromAlertmanager) and grouped by applySignal;
// - the diagnosis: the built-in engine's real output (diagnose) on the synthetic pool-exhaustion
//   scenario `pool_exhaustion/positive/2` of test/support/diagnosis-scenarios.ts (SYNTHETIC evidence:
//   see that file), shaped as diagnosis.run answers;
// - the runbooks: the estate's runbooks (examples/estate/runbooks/*.yaml), checked by RunbookSchema.
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { diagnose, type Diagnosis } from '../../src/core/diagnosis/engine.js';
import type { EvidenceBundle } from '../../src/core/diagnosis/evidence.js';
import { applySignal, type IncidentSettings } from '../../src/core/incidents/incident.js';
import { parseYamlFile } from '../../src/core/policy/yaml-source.js';
import { RunbookSchema, type Runbook } from '../../src/core/runbooks/runbook.js';
import { AlertmanagerWebhookSchema, signalsFromAlertmanager } from '../../src/core/signals/alertmanager.js';
import { incidentTitle, type IncidentRecord, type SignalRecord } from '../../src/store/signal-store.js';
import { EVALUATION_SEED, generateScenarios } from './diagnosis-scenarios.js';

const ROOT = new URL('../../', import.meta.url);
const SETTINGS: IncidentSettings = { groupBy: ['service'], reopenWindowMs: 5 * 60_000, flapping: { maxTransitions: 4, windowMs: 10 * 60_000 }, maxAlerts: 100 };

/** The estate's runbooks, parsed and checked. */
export function estateRunbooks(): Runbook[] {
  const dir = new URL('examples/estate/runbooks/', ROOT);
  return readdirSync(dir).filter((name) => name.endsWith('.yaml')).sort().flatMap((name) => {
    const parsed = parseYamlFile(name, readFileSync(new URL(name, dir), 'utf8'));
    return parsed.documents.map((doc) => RunbookSchema.parse(doc.value));
  });
}

interface AlertRule { alert: string; labels?: Record<string, string>; annotations?: Record<string, string> }

/** Renders `{{ $labels.x }}` and `{{ $value }}` as Prometheus' templates would (no functions are used by the rule below). */
function renderTemplate(template: string, labels: Record<string, string>, value: string): string {
  return template.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_, name: string) => labels[name] ?? '').replace(/\{\{\s*\$value\s*\}\}/g, value);
}

let scenario: { bundle: EvidenceBundle; result: Diagnosis } | undefined;
/** The scenario and the engine's diagnosis of it, computed once. */
function poolScenario(): { bundle: EvidenceBundle; result: Diagnosis } {
  if (scenario === undefined) {
    const { bundle } = generateScenarios(EVALUATION_SEED, { positives: 3, negatives: 0, none: 0, blind: 0 }).find((one) => one.id === 'pool_exhaustion/positive/2')!;
    scenario = { bundle, result: diagnose(bundle) };
  }
  return scenario;
}

/** The realistic incident: its record, its signals (with `extraAnnotations` on the alert), its diagnosis. */
export function poolExhaustionIncident(extraAnnotations: Record<string, string> = {}): { incident: IncidentRecord; signals: SignalRecord[]; diagnosis: Record<string, unknown> } {
  const rules = parse(readFileSync(new URL('examples/estate/alert-rules.yml', ROOT), 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  const rule = rules.groups.flatMap((group) => group.rules).find((one) => one.alert === 'DbPoolExhausted')!;
  // The target labels Prometheus adds (docs/estate.md, "Metrics"), the rule's by-labels and its own labels.
  const labels = { alertname: rule.alert, service: 'payments', tier: 'standard', program: 'payments', ...rule.labels };
  const annotations = { ...Object.fromEntries(Object.entries(rule.annotations ?? {}).map(([name, text]) => [name, renderTemplate(text, labels, '3')])), ...extraAnnotations };
  const envelope = JSON.parse(readFileSync(new URL('test/fixtures/payloads/alertmanager-webhook/prom2teams/all_ok.json', ROOT), 'utf8')) as Record<string, unknown>;
  const startsAt = '2026-03-25T02:58:40.123Z';
  const body = {
    ...envelope,
    status: 'firing',
    receiver: 'interlock',
    groupLabels: { alertname: rule.alert, service: 'payments' },
    commonLabels: labels,
    commonAnnotations: annotations,
    alerts: [{ status: 'firing', labels, annotations, startsAt, endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://127.0.0.1:9090/graph?g0.expr=db_pool_waiting', fingerprint: '5f0c1a7e9b2d4c31' }],
  };
  const { signals } = signalsFromAlertmanager(AlertmanagerWebhookSchema.parse(body), 'alertmanager');
  const receivedAt = Date.parse(startsAt) + 1200;
  const incidentId = '0e7f8d2c-3b1a-4c5d-9e6f-7a8b9c0d1e2f';
  const signal = signals[0]!;
  const state = applySignal(undefined, signal, receivedAt, SETTINGS).incident!;
  const incident: IncidentRecord = {
    id: incidentId, title: incidentTitle(state), groupKey: state.groupKey, source: 'alertmanager', project: 'default', status: 'open', flapping: false,
    openedAt: receivedAt, resolvedAt: null, lastSignalAt: receivedAt, missionId: '6a1d3c4e-5f60-4718-92a3-b4c5d6e7f809', missionsStarted: 1, state,
  };
  const records: SignalRecord[] = [{ ...signal, id: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a', intakeId: 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e', receivedAt, incidentId, events: ['opened'] }];

  const { bundle, result } = poolScenario();
  const references = [...bundle.series.map((s) => s.evidence), ...bundle.changes.map((c) => c.evidence), ...bundle.logs.map((l) => l.evidence), ...bundle.latencySamples.map((l) => l.evidence), ...bundle.signals.map((s) => s.evidence)];
  const diagnosis = {
    incidentId,
    engine: result.engine,
    onset: { ms: result.onset.ms, source: result.onset.source, evidence: [...result.onset.evidence] },
    hypotheses: JSON.parse(JSON.stringify(result.hypotheses)) as unknown[],
    ranking: result.ranking.map((item) => ({ ...item })),
    evidence: references.map((ref) => ({ id: ref.id, source: ref.source, query: ref.query })),
    unavailable: [{ stepId: 'logs-payments', reason: 'the step failed: TOOL_TIMEOUT logs.query did not answer within 10000 ms' }],
  };
  return { incident, signals: records, diagnosis };
}
