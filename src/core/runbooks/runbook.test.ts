import { describe, expect, it } from 'vitest';
import { placeholders, renderFollowUp, renderRunbook, RunbookRenderError, RunbookSchema, selectRunbook, type MatchedHypothesis, type Runbook } from './runbook.js';

const document = (overrides: { name?: string; match?: Record<string, unknown>; plan?: unknown[]; verify?: unknown[]; title?: string } = {}) => ({
  apiVersion: 'interlock.dev/v1',
  kind: 'Runbook',
  metadata: { name: overrides.name ?? 'restart-on-leak', version: 2 },
  spec: {
    match: overrides.match ?? { hypothesis: 'memory_leak' },
    ...(overrides.title === undefined ? {} : { title: overrides.title }),
    plan: overrides.plan ?? [{ id: 'restart', tool: 'supervisor.restart', args: { process: '${service}' } }],
    verify: overrides.verify ?? [{ tool: 'prometheus.check', args: { query: 'deriv(heap{service="${service}"}[30s])', below: '${vars.maxGrowth}' }, windowMs: 10_000 }],
  },
});

const runbook = (overrides: Parameters<typeof document>[0] = {}): Runbook => RunbookSchema.parse(document(overrides));
const leak: MatchedHypothesis = { kind: 'memory_leak', service: 'catalog', confidence: 0.8, summary: 'heap of catalog grows' };

describe('runbook documents', () => {
  it('fill defaults: minConfidence 0.5, verification timing', () => {
    const parsed = runbook();
    expect(parsed.spec.match.minConfidence).toBe(0.5);
    expect(parsed.spec.verify[0]).toMatchObject({ windowMs: 10_000, intervalMs: 1000, timeoutMs: 60_000 });
  });

  it('refuse unknown placeholders, unknown kinds, unknown fields and a runbook without verification, naming each path', () => {
    const result = RunbookSchema.safeParse({ ...document({ plan: [{ tool: 'x.y', args: { a: ['${servce}'] } }], verify: [], match: { hypothesis: 'gremlins' } }), extra: 1 });
    expect(result.success).toBe(false);
    const issues = result.error!.issues.map((issue) => [issue.path.join('.'), issue.message]);
    expect(issues).toEqual(expect.arrayContaining([
      ['', expect.stringContaining('extra')],
      ['spec.match.hypothesis', expect.any(String)],
    ]));
    const nested = RunbookSchema.safeParse(document({ plan: [{ tool: 'x.y', args: { a: ['${servce}'] } }], verify: [] }));
    expect(nested.error!.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['spec.plan.0.args.a.0', expect.stringContaining('unknown placeholder ${servce}')],
      ['spec.verify', expect.stringContaining('must verify its outcome')],
    ]);
  });

  it('finds placeholders anywhere in nested values', () => {
    expect(placeholders({ a: 'x ${service} y ${vars.k}', b: [1, { c: '${incident}' }] }).map((p) => [p.path.join('.'), p.name])).toEqual([['a', 'service'], ['a', 'vars.k'], ['b.1.c', 'incident']]);
  });
});

describe('selectRunbook', () => {
  it('picks the runbook of the top hypothesis kind, the most specific first', () => {
    const general = runbook({ name: 'general' });
    const specific = runbook({ name: 'catalog-only', match: { hypothesis: 'memory_leak', services: ['catalog'] } });
    expect(selectRunbook([general, specific], leak)).toMatchObject({ runbook: { metadata: { name: 'catalog-only' } }, reason: 'runbook catalog-only v2 handles memory_leak in catalog (confidence 0.80)' });
    expect(selectRunbook([general, specific], { ...leak, service: 'payments' }).runbook?.metadata.name).toBe('general');
  });

  it('says why none matches: no runbook for the kind, a service not covered, too little confidence, no service', () => {
    expect(selectRunbook([runbook()], { ...leak, kind: 'bad_deploy' }).reason).toBe('no runbook handles bad_deploy');
    expect(selectRunbook([runbook({ match: { hypothesis: 'memory_leak', services: ['checkout'] } })], leak).reason).toContain('covers service catalog');
    expect(selectRunbook([runbook({ match: { hypothesis: 'memory_leak', minConfidence: 0.9 } })], leak).reason).toContain('below the 0.90 confidence');
    expect(selectRunbook([runbook()], { ...leak, service: null }).reason).toContain('names no service');
  });
});

describe('renderRunbook', () => {
  const bindings = { incident: '7f1c', service: 'catalog', tier: 'standard', hypothesis: leak, vars: { maxGrowth: 1000 } };

  it('fills placeholders, keeping the type of a value that is the whole string, and labels the mission', () => {
    const request = renderRunbook(runbook({ title: 'Restart ${service} (${tier})' }), bindings);
    expect(request).toMatchObject({
      title: 'Restart catalog (standard)',
      steps: [{ id: 'restart', tool: 'supervisor.restart', args: { process: 'catalog' } }],
      verify: [{ tool: 'prometheus.check', args: { query: 'deriv(heap{service="catalog"}[30s])', below: 1000 }, windowMs: 10_000 }],
      labels: { incident: '7f1c', service: 'catalog', tier: 'standard', runbook: 'restart-on-leak', runbookVersion: '2', hypothesis: 'memory_leak' },
      hypothesis: 'heap of catalog grows',
      confidence: 0.8,
    });
  });

  it('refuses to render with a site value missing, naming it and where to set it', () => {
    expect(() => renderRunbook(runbook(), { ...bindings, vars: {} })).toThrow(RunbookRenderError);
    expect(() => renderRunbook(runbook(), { ...bindings, vars: {} })).toThrow('needs ${vars.maxGrowth}, which has no value for service catalog (set runbooks.vars.catalog in the configuration)');
  });

  it('renders a follow-up due afterMs later, labelled as one, and none without followUp', () => {
    const withFollowUp = RunbookSchema.parse({
      ...document(),
      spec: { ...document().spec, followUp: { afterMs: 600_000, plan: [{ tool: 'postgres.revert_pool_size', args: { service: '${service}' } }], verify: [{ tool: 'prometheus.check', args: { query: 'up{service="${service}"}', above: 0 } }] } },
    });
    expect(renderFollowUp(withFollowUp, bindings, 1_000_000)).toMatchObject({
      title: 'restart-on-leak: follow-up for catalog',
      steps: [{ tool: 'postgres.revert_pool_size', args: { service: 'catalog' } }],
      verify: [{ args: { query: 'up{service="catalog"}' } }],
      notBefore: 1_600_000,
      labels: { incident: '7f1c', runbook: 'restart-on-leak', followUp: 'true' },
    });
    expect(renderFollowUp(runbook(), bindings, 1_000_000)).toBeUndefined();
    expect(() => RunbookSchema.parse({ ...document(), spec: { ...document().spec, followUp: { afterMs: 1000, plan: [{ tool: 'x.y' }], verify: [] } } })).toThrow();
  });
});
