import { z } from 'zod';
import { SERIES_ROLES } from '../../core/diagnosis/evidence.js';

/**
 * Configuration of incident diagnosis (`diagnosis`): how an incident's evidence is gathered for the
 * built-in engine. docs/diagnosis.md explains the roles and the engine.
 */
export const DiagnosisConfigSchema = z.object({
  windowBeforeMs: z.int().min(60_000).max(7 * 24 * 3_600_000).default(3_600_000).describe('The evidence window starts this long before the onset, ms.'),
  stepSeconds: z.int().min(1).max(3600).default(15).describe('Resolution of the metric range queries, seconds.'),
  settleMs: z.int().min(0).max(300_000).default(0).describe('Wait this long after an incident opens before querying its evidence, ms, so the evidence covers the fault after the alert (which fires after its `for` duration); 0: at once.'),
  queries: z.array(z.object({
    role: z.enum(SERIES_ROLES).describe('What the series measures (error_rate, heap_bytes, pool_active, ...).'),
    query: z.string().min(1).max(4096).describe('PromQL; $service is replaced by each suspected service.'),
  }).strict()).max(50).default([]).describe('Metric queries run per suspected service through prometheus.query_range.'),
  latency: z.object({
    query: z.string().min(1).max(4096).describe('PromQL giving cumulative latency-histogram bucket counts by le and groupLabel over $range, e.g. sum by (le, version) (increase(http_request_duration_seconds_bucket{service="$service"}[$range])).'),
    groupLabel: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a Prometheus label name').default('version').describe('The label telling a canary from its baseline.'),
    canaryMatch: z.string().min(1).max(200).default('canary').describe('A value of groupLabel containing this text is the canary; the other values are the baseline.'),
    unitSeconds: z.boolean().default(true).describe('The histogram\'s le bounds are seconds (converted to ms); false: already ms.'),
  }).strict().optional().describe('Canary vs baseline latency distributions from a histogram, for the canary-regression signature; unset: none gathered.'),
  changes: z.boolean().default(true).describe('Query the change feed (changes.list) when it is enabled.'),
  logs: z.boolean().default(true).describe('Query the logs (logs.query) when they are enabled.'),
}).strict();

export type DiagnosisConfig = z.output<typeof DiagnosisConfigSchema>;
