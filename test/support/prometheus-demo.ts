// The demo scrape target of the Prometheus tests: a few prom-client metrics served over HTTP on
// 127.0.0.1, and an alerting rule on them that fires. test/fixtures/prometheus/record.ts records the
// fixtures from a real Prometheus scraping it; test/connectors/prometheus-alertmanager.int.test.ts
// queries the same metrics live, so both stay in step with this one definition.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { RuleGroup } from './prometheus.js';

/** The demo metrics, registered in a registry of their own. */
export interface DemoMetrics {
  readonly registry: Registry;
  /** `demo_queue_depth{service}`: checkout 42 (over the QueueDeep threshold), billing 3. */
  readonly depth: Gauge<'service'>;
  /** `demo_odd_values{kind}`: nan NaN, inf +Inf. */
  readonly odd: Gauge<'kind'>;
  /** `demo_requests_total{route}`, for the caller to count on each scrape. */
  readonly requests: Counter<'route'>;
}

/** Alert `QueueDeep` (severity page) for each service whose `demo_queue_depth` is over 10. */
export const DEMO_RULE_GROUPS: readonly RuleGroup[] = [
  { name: 'demo', rules: [{ alert: 'QueueDeep', expr: 'demo_queue_depth > 10', labels: { severity: 'page' }, annotations: { summary: 'Queue of {{ $labels.service }} is deep' } }] },
];

/** A fresh registry of the demo metrics, with their values set (see {@link DemoMetrics}). */
export function demoMetrics(): DemoMetrics {
  const registry = new Registry();
  const depth = new Gauge({ name: 'demo_queue_depth', help: 'Jobs waiting.', labelNames: ['service'], registers: [registry] });
  const odd = new Gauge({ name: 'demo_odd_values', help: 'NaN and infinities.', labelNames: ['kind'], registers: [registry] });
  const requests = new Counter({ name: 'demo_requests_total', help: 'Requests served.', labelNames: ['route'], registers: [registry] });
  depth.set({ service: 'checkout' }, 42);
  depth.set({ service: 'billing' }, 3);
  odd.set({ kind: 'nan' }, Number.NaN);
  odd.set({ kind: 'inf' }, Number.POSITIVE_INFINITY);
  return { registry, depth, odd, requests };
}

/**
 * Serves `registry` in the text format on 127.0.0.1 and a free port, calling `onScrape` before each
 * answer. Resolves once listening, with the server and its `host:port`, a Prometheus scrape target.
 */
export async function serveMetrics(registry: Registry, onScrape: () => void): Promise<{ server: Server; target: string }> {
  const server = createServer((_request, response) => {
    onScrape();
    void registry.metrics().then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, target: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}
