import { z } from 'zod';
import { SERIES_ROLES } from '../../core/diagnosis/evidence.js';

/**
 * Configuration of incident diagnosis (`diagnosis`): how an incident's evidence is gathered for the
 * built-in engine. docs/diagnosis.md explains the roles and the engine.
 */
export const DiagnosisConfigSchema = z.object({
  windowBeforeMs: z.int().min(60_000).max(7 * 24 * 3_600_000).default(3_600_000).describe('The evidence window starts this long before the onset, ms.'),
  stepSeconds: z.int().min(1).max(3600).default(15).describe('Resolution of the metric range queries, seconds.'),
  queries: z.array(z.object({
    role: z.enum(SERIES_ROLES).describe('What the series measures (error_rate, heap_bytes, pool_active, ...).'),
    query: z.string().min(1).max(4096).describe('PromQL; $service is replaced by each suspected service.'),
  }).strict()).max(50).default([]).describe('Metric queries run per suspected service through prometheus.query_range.'),
  changes: z.boolean().default(true).describe('Query the change feed (changes.list) when it is enabled.'),
  logs: z.boolean().default(true).describe('Query the logs (logs.query) when they are enabled.'),
}).strict();

export type DiagnosisConfig = z.output<typeof DiagnosisConfigSchema>;
