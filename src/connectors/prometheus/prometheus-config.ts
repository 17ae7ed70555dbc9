import { z } from 'zod';
import { checkHttpApiConfig, httpApiConfigShape, type HttpSecrets } from '../shared/http-config.js';

/** Prometheus' own limit of points per series in a range query. */
export const PROMETHEUS_MAX_POINTS = 11_000;

/**
 * Configuration of the Prometheus connector: whether it is on, where the HTTP API v1 is, the
 * credentials' environment variables, and the guard rails on what one call may ask and return.
 * @see https://prometheus.io/docs/prometheus/latest/querying/api/
 */
export const PrometheusConfigSchema = z.object({
  enabled: z.boolean().default(false).describe('Put prometheus.query, prometheus.query_range, prometheus.series and prometheus.alerts in the catalog.'),
  ...httpApiConfigShape({ url: 'http://127.0.0.1:9090', system: 'Prometheus' }),
  maxRangeMs: z.int().min(1000).default(7 * 24 * 60 * 60 * 1000).describe('Longest time range (end − start) a range or series call may ask for, ms.'),
  maxPoints: z.int().min(1).max(PROMETHEUS_MAX_POINTS).default(1000).describe('Most points per series a range query may ask for ((end − start) / step + 1).'),
  maxSeries: z.int().min(1).max(100_000).default(100).describe('Most series (or label sets, or alerts) returned; more are left out and counted.'),
  maxSamples: z.int().min(1).max(10_000_000).default(10_000).describe('Most samples returned over all series; more are left out and counted.'),
}).strict().superRefine(checkHttpApiConfig);

/** Resolved configuration of the Prometheus connector, with the credentials `loadConfig` read from the environment. */
export type PrometheusConfig = z.output<typeof PrometheusConfigSchema> & HttpSecrets;
