import { z } from 'zod';
import { checkHttpApiConfig, httpApiConfigShape, type HttpSecrets } from '../shared/http-config.js';

/**
 * Configuration of the Alertmanager connector: whether it is on, where the API v2 is, the
 * credentials' environment variables, and how many alerts and silences one call returns.
 * @see https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml
 */
export const AlertmanagerConfigSchema = z.object({
  enabled: z.boolean().default(false).describe('Put alertmanager.alerts and alertmanager.silences in the catalog.'),
  ...httpApiConfigShape({ url: 'http://127.0.0.1:9093', system: 'Alertmanager' }),
  maxAlerts: z.int().min(1).max(100_000).default(200).describe('Most alerts one alertmanager.alerts call returns; more are left out and counted.'),
  maxSilences: z.int().min(1).max(100_000).default(200).describe('Most silences one alertmanager.silences call returns; more are left out and counted.'),
}).strict().superRefine(checkHttpApiConfig);

/** Resolved configuration of the Alertmanager connector, with the credentials `loadConfig` read from the environment. */
export type AlertmanagerConfig = z.output<typeof AlertmanagerConfigSchema> & HttpSecrets;
