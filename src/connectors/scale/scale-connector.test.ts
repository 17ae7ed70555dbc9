// Unit tests of the scale connector's contracts and refusals; test/connectors/scale.int.test.ts scales
// for real with supervisord and nginx.
import { describe, expect, it } from 'vitest';
import { ToolCatalog } from '../../core/tools/catalog.js';
import type { SupervisorClient } from '../supervisor/supervisor-client.js';
import { ScaleConfigSchema } from './scale-config.js';
import { createScaleConnector } from './scale-connector.js';

/** A supervisord client that must not be called: the checks here come before any request. */
const untouchable: SupervisorClient = {
  getProcessInfo: () => Promise.reject(new Error('supervisord was asked for a process')),
  getAllProcessInfo: () => Promise.reject(new Error('supervisord was asked for all processes')),
  startProcess: () => Promise.reject(new Error('supervisord was asked to start a process')),
  stopProcess: () => Promise.reject(new Error('supervisord was asked to stop a process')),
};

function catalog(services: unknown[]): ToolCatalog {
  const config = ScaleConfigSchema.parse({ enabled: true, nginx: { confDir: '/nonexistent/interlock' }, services });
  const tools = new ToolCatalog(createScaleConnector(config, { supervisor: untouchable }));
  tools.check();
  return tools;
}

const catalogService = {
  name: 'catalog', tier: 'standard', upstream: 'catalog', maxInstances: 2,
  instances: [{ process: 'catalog', address: '127.0.0.1:8103' }, { process: 'catalog-2', address: '127.0.0.1:8104' }, { process: 'catalog-3', address: '127.0.0.1:8105' }],
};

describe('scale connector contracts', () => {
  it('takes the highest risk of the services, and puts service, tier, upstream, risk and instance in the target', () => {
    const tools = catalog([catalogService, { name: 'checkout', upstream: 'checkout', risk: 'write-prod', instances: [{ process: 'checkout', address: '127.0.0.1:8101' }] }]);
    expect(tools.get('scale.status').risk).toBe('read');
    expect(tools.get('scale.out').risk).toBe('write-prod');
    expect(tools.get('scale.in').risk).toBe('write-prod');
    expect(tools.get('scale.out').target!({ service: 'catalog' })).toEqual({ service: 'catalog', tier: 'standard', labels: { system: 'scale', upstream: 'catalog', risk: 'write-low' } });
    expect(tools.get('scale.in').target!({ service: 'checkout', instance: 'checkout' })).toEqual({ service: 'checkout', tier: null, labels: { system: 'scale', upstream: 'checkout', risk: 'write-prod', instance: 'checkout' } });
    expect(tools.describe().map((t) => [t.name, t.compensation, t.idempotent])).toEqual([
      ['scale.in', 'scale.out', true],
      ['scale.out', 'scale.in', true],
      ['scale.status', null, true],
    ]);
    // The nginx tools it uses inside are not in the catalog: only the scale tools are.
    expect(tools.find('nginx.set_weights')).toBeUndefined();
  });

  it('names the field of every bad argument before any I/O', () => {
    const tools = catalog([catalogService]);
    const issues = (tool: string, args: unknown): string[] => {
      const checked = tools.validateArgs(tool, args, 'steps.0');
      return checked.ok ? [] : checked.issues.map((issue) => issue.path);
    };
    expect(issues('scale.out', { service: 'catalog' })).toEqual([]);
    expect(issues('scale.out', { service: 'catalog', instance: 'catalog-2' })).toEqual([]);
    expect(issues('scale.out', { service: 'payments' })).toEqual(['steps.0.args.service']);
    expect(issues('scale.in', { service: 'catalog', instance: 'payments' })).toEqual(['steps.0.args.instance']);
    expect(issues('scale.in', { service: 'catalog', replicas: 3 })).toHaveLength(1);
    expect(issues('scale.status', {})).toEqual(['steps.0.args.service']);
  });

  it('undoes scale.out with scale.in of the same instance and the other way round, and a no-op with nothing', () => {
    const tools = catalog([catalogService]);
    const result = { service: 'catalog', instance: 'catalog-2', address: '127.0.0.1:8104', changed: true, weight: 1, state: 'RUNNING', pid: 42, inService: 2, upstream: null };
    expect(tools.get('scale.out').compensation!.args({ service: 'catalog' }, result)).toEqual({ service: 'catalog', instance: 'catalog-2', compensates: { tool: 'scale.out', changed: true } });
    expect(tools.get('scale.in').compensation!.args({ service: 'catalog' }, { ...result, changed: false })).toEqual({ service: 'catalog', instance: 'catalog-2', compensates: { tool: 'scale.in', changed: false } });
  });
});
