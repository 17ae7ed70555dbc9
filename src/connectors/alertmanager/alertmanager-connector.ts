import { z } from 'zod';
import { DEFAULT_RETRY, type AnyToolContract, type ToolContract } from '../../core/tools/tool.js';
import { createHttpApiClient } from '../shared/http-client.js';
import { requireHttpSecrets } from '../shared/http-config.js';
import type { AlertmanagerConfig } from './alertmanager-config.js';
import { Alert, AlertsResponse, Matcher, normalizeAlerts, normalizeSilences, readAlertmanagerResponse, Silence, SilencesResponse } from './alertmanager-results.js';

const SILENCE_STATES = ['active', 'pending', 'expired'] as const;

const Filter = z.array(Matcher).max(20).optional().describe('Label matchers the alerts must all satisfy.');

const AlertsInput = z.object({
  filter: Filter,
  active: z.boolean().optional().describe('Include active (neither silenced nor inhibited) alerts. Default true.'),
  silenced: z.boolean().optional().describe('Include silenced alerts. Default true.'),
  inhibited: z.boolean().optional().describe('Include inhibited alerts. Default true.'),
  unprocessed: z.boolean().optional().describe('Include alerts not yet processed. Default true.'),
  receiver: z.string().min(1).max(200).optional().describe('Regular expression the receiver name must match.'),
}).strict();

const AlertsOutput = z.object({
  alerts: z.array(Alert).describe('Newest startsAt first.'),
  truncated: z.boolean().describe('True when alerts were left out (connectors.alertmanager.maxAlerts).'),
  omitted: z.object({ alerts: z.int().min(0) }),
});

const SilencesInput = z.object({
  filter: z.array(Matcher).max(20).optional().describe('Label matchers; a silence is returned when its matchers include all of them.'),
  state: z.array(z.enum(SILENCE_STATES)).min(1).optional().describe('States to return. Default active and pending.'),
}).strict();

const SilencesOutput = z.object({
  silences: z.array(Silence),
  truncated: z.boolean().describe('True when silences were left out (connectors.alertmanager.maxSilences).'),
  omitted: z.object({ silences: z.int().min(0) }),
});

/**
 * The Alertmanager connector: read-only evidence tools over the Alertmanager API v2.
 * `alertmanager.alerts` lists alerts (filtered by label matchers and by active, silenced, inhibited,
 * unprocessed and receiver, as the API does); `alertmanager.silences` lists silences (filtered by
 * matchers and state). At most `maxAlerts` alerts and `maxSilences` silences are returned, the rest
 * counted in `omitted` with `truncated: true`. All risk `read`, idempotent, permission
 * `alertmanager:read`, retried on retryable failures. Creating a silence is a write and is not here.
 *
 * @throws ConfigError `CONFIG_INVALID` when a credential's environment variable is unset.
 * @see https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml
 */
export function createAlertmanagerConnector(config: AlertmanagerConfig): AnyToolContract[] {
  const client = createHttpApiClient({
    system: 'alertmanager',
    url: config.url,
    timeoutMs: config.timeoutMs,
    maxResponseBytes: config.maxResponseBytes,
    headers: requireHttpSecrets('connectors.alertmanager', config),
  });
  const timeoutMs = config.timeoutMs + 1000;
  const flag = (value: boolean | undefined): string | undefined => (value === undefined ? undefined : String(value));

  const alerts: ToolContract<z.output<typeof AlertsInput>, z.output<typeof AlertsOutput>> = {
    name: 'alertmanager.alerts',
    description: 'Lists the alerts Alertmanager holds (filter by label matchers and by active, silenced, inhibited), newest first.',
    input: AlertsInput,
    output: AlertsOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    permission: 'alertmanager:read',
    retry: DEFAULT_RETRY,
    async execute(args, context) {
      const response = await client.get('/api/v2/alerts', {
        filter: args.filter,
        active: flag(args.active),
        silenced: flag(args.silenced),
        inhibited: flag(args.inhibited),
        unprocessed: flag(args.unprocessed),
        receiver: args.receiver,
      }, context.signal);
      const all = normalizeAlerts(readAlertmanagerResponse(response, AlertsResponse, '/api/v2/alerts'));
      const kept = all.slice(0, config.maxAlerts);
      return { alerts: kept, truncated: kept.length < all.length, omitted: { alerts: all.length - kept.length } };
    },
  };

  const silences: ToolContract<z.output<typeof SilencesInput>, z.output<typeof SilencesOutput>> = {
    name: 'alertmanager.silences',
    description: 'Lists the silences in Alertmanager (default active and pending), with their matchers, times, author and comment.',
    input: SilencesInput,
    output: SilencesOutput,
    risk: 'read',
    idempotent: true,
    timeoutMs,
    permission: 'alertmanager:read',
    retry: DEFAULT_RETRY,
    async execute(args, context) {
      const response = await client.get('/api/v2/silences', { filter: args.filter }, context.signal);
      const states = new Set<string>(args.state ?? ['active', 'pending']);
      const all = normalizeSilences(readAlertmanagerResponse(response, SilencesResponse, '/api/v2/silences')).filter((silence) => states.has(silence.state));
      const kept = all.slice(0, config.maxSilences);
      return { silences: kept, truncated: kept.length < all.length, omitted: { silences: all.length - kept.length } };
    },
  };

  return [alerts, silences];
}
