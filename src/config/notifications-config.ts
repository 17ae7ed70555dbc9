import { z } from 'zod';
import { NOTIFICATION_EVENTS } from '../core/tickets/ticket.js';

/**
 * Configuration of notifications (`notifications`): the webhooks told about tickets and `auto-notify`
 * actions, and how deliveries are retried. docs/tickets.md explains them, docs/configuration.md lists
 * every key. Times in ms.
 */

/** Largest delay Node's timers accept (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

const WEBHOOK_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** One webhook: where notifications are POSTed, which events, and the variable holding its signing key. */
const WebhookSchema = z
  .object({
    name: z.string().regex(WEBHOOK_NAME, 'a lowercase slug: letters, digits, ".", "_" or "-", at most 63 characters')
      .describe('The webhook\'s name, unique: its deliveries are addressed to it (API, logs).'),
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).describe('Where notifications are POSTed (JSON).'),
    secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional()
      .describe('Environment variable holding the key of the HMAC-SHA256 signature sent as X-Interlock-Signature: sha256=<hex>.'),
    events: z.array(z.enum(NOTIFICATION_EVENTS)).min(1).default([...NOTIFICATION_EVENTS])
      .describe('Events delivered to this webhook.'),
    timeoutMs: z.int().min(1).max(600_000).default(10_000).describe('Time allowed for one POST, answer included, ms.'),
  })
  .strict()
  .superRefine((webhook, ctx) => {
    let url: URL;
    try {
      url = new URL(webhook.url);
    } catch {
      return; // the url check reports it
    }
    if (url.username !== '' || url.password !== '') {
      ctx.addIssue({ code: 'custom', path: ['url'], input: `${url.protocol}//***@${url.host}`, params: { expected: 'a URL without user or password (sign with secretEnv instead)' }, message: 'holds credentials' });
    }
    const seen = new Set<string>();
    webhook.events.forEach((event, index) => {
      if (seen.has(event)) ctx.addIssue({ code: 'custom', path: ['events', index], input: event, params: { expected: 'each event once' }, message: `lists ${event} twice` });
      seen.add(event);
    });
  })
  // `secret` is never read from a file: `loadConfig` fills it from the variable `secretEnv` names.
  .transform((webhook) => webhook as typeof webhook & { readonly secret?: string });

/** Notifications of ticket changes and `auto-notify` actions (docs/tickets.md). */
export const NotificationsConfigSchema = z
  .object({
    webhooks: z.array(WebhookSchema).max(50).default([])
      .check(z.superRefine((webhooks: unknown, ctx) => {
        if (!Array.isArray(webhooks)) return;
        const seen = new Set<string>();
        (webhooks as unknown[]).forEach((webhook, index) => {
          const name = (webhook as { name?: unknown } | null)?.name;
          if (typeof name !== 'string') return;
          if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], input: name, params: { expected: 'a name no other webhook has' }, message: 'is the name of another webhook' });
          seen.add(name);
        });
      }, { when: () => true }))
      .describe('Where notifications are delivered; empty: none (people are told through the log).'),
    pollIntervalMs: z.int().min(10).max(MAX_TIMER_MS).default(1000)
      .describe('Pause of the dispatcher when no delivery is due before it looks again, ms.'),
    retry: z
      .object({
        initialMs: z.int().min(1).max(MAX_TIMER_MS).default(1000).describe('Delay before the first retry of a failed delivery, ms (doubled per failure, with jitter).'),
        maxMs: z.int().min(1).max(MAX_TIMER_MS).default(300_000).describe('Longest delay between two attempts, ms.'),
        maxAgeMs: z.int().min(1000).max(MAX_TIMER_MS).default(86_400_000).describe('A delivery still failing this long after it was queued is given up (marked failed), ms.'),
      })
      .strict()
      .prefault({})
      .superRefine((retry, ctx) => {
        if (retry.maxMs < retry.initialMs) {
          ctx.addIssue({ code: 'custom', path: ['maxMs'], input: retry.maxMs, params: { expected: `>= ${retry.initialMs} (notifications.retry.initialMs)`, related: 'notifications.retry.initialMs' }, message: 'must be at least notifications.retry.initialMs' });
        }
      }),
  })
  .strict();
