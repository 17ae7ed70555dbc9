// Delivery of notifications (docs/tickets.md, "Notifications"): the ticket store queues one outbox row
// per delivery in the transaction that records what it notifies; the dispatcher of every serving
// worker claims due rows (FOR UPDATE SKIP LOCKED, under a lease), hands each to its target's notifier
// (a webhook now, Slack later) and marks it delivered, due again after a backoff, or failed once it
// is too old. At least once: receivers de-duplicate by the delivery ID.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { NotificationsConfig } from '../config/index.js';
import { ConfigError } from '../core/errors.js';
import type { Notification, NotificationPayload, Notifier, NotifierFailure } from '../core/tickets/ports.js';
import { PgNotificationOutbox, type ClaimedNotification } from '../store/notification-outbox.js';
import type { Database } from '../store/schema.js';
import { postOnce, retryDelayMs } from './http-delivery.js';

/** Deliveries claimed (and attempted concurrently) per round. */
const CLAIM_BATCH = 20;
/** Added to the longest webhook timeout to make the claim lease, ms: a claimed row is retried by another worker only after it. */
const LEASE_MARGIN_MS = 30_000;

/** What the dispatcher logs: failed attempts (warn, or error when persistent or given up). */
export interface NotificationsLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** One webhook as {@link createWebhookNotifier} takes it (a resolved `notifications.webhooks` item). */
export interface WebhookOptions {
  readonly name: string;
  readonly url: string;
  /** The HMAC-SHA256 key; without it no signature header is sent. Never logged. */
  readonly secret?: string;
  /** Time allowed for one POST, answer included, ms. */
  readonly timeoutMs: number;
}

/**
 * The signature of a webhook body: `sha256=` and the hex HMAC-SHA256 of the body's UTF-8 bytes under
 * `secret` (as GitHub signs its webhooks). A receiver recomputes it over the raw body it received and
 * compares in constant time.
 *
 * @see https://www.rfc-editor.org/rfc/rfc2104 (HMAC)
 */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/**
 * A {@link Notifier} that POSTs each notification's body (JSON, `NotificationPayload`) to `url` with
 * `Content-Type: application/json`, `X-Interlock-Event` (the event), `X-Interlock-Delivery` (the
 * delivery ID, the same on every attempt) and, with a `secret`, `X-Interlock-Signature:
 * sha256=<hex>` ({@link webhookSignature}). Any 2xx answer delivers; redirects are not followed; a
 * failure is `timeout`, `network` or `http` (persistent for 3xx and 4xx other than 408 and 429, with
 * the receiver's Retry-After).
 */
export function createWebhookNotifier(webhook: WebhookOptions): Notifier {
  const { name, url, secret, timeoutMs } = webhook;
  const hide = (text: string): string => (secret === undefined || secret === '' ? text : text.split(secret).join('***'));
  return {
    name,
    async deliver(notification, signal) {
      const headers: Record<string, string> = {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'interlock-notifications',
        'x-interlock-event': notification.event,
        'x-interlock-delivery': notification.id,
        ...(secret === undefined ? {} : { 'x-interlock-signature': webhookSignature(secret, notification.body) }),
      };
      const { failure } = await postOnce({ url, body: notification.body, headers, timeoutMs, signal, redact: hide });
      return failure;
    },
  };
}

/** Settings of {@link NotificationDispatcher}. */
export interface NotificationDispatcherOptions {
  readonly outbox: PgNotificationOutbox;
  /** One per target; outbox rows addressed to another target are left alone. */
  readonly notifiers: readonly Notifier[];
  /** `notifications.pollIntervalMs` and `notifications.retry`, ms. */
  readonly settings: Pick<NotificationsConfig, 'pollIntervalMs' | 'retry'>;
  /** How long a claimed delivery is left to its claimer before another worker may retry it, ms. */
  readonly leaseMs: number;
  readonly logger: NotificationsLogger;
  /** Clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Uniform in [0, 1), for the retry jitter. @default Math.random */
  readonly random?: () => number;
}

/**
 * Delivers queued notifications until {@link stop}: each round claims up to 20 due deliveries of its
 * targets ({@link PgNotificationOutbox.claimDue}, `FOR UPDATE SKIP LOCKED` with a lease, so several
 * workers share the outbox and each row is attempted by one at a time), attempts them concurrently,
 * and marks each delivered on success. A failure is retried after the receiver's Retry-After, else
 * after {@link retryDelayMs} of its attempt count (`notifications.retry`), logged as a warning (an
 * error for a persistent one, such as a 4xx); a delivery still failing `retry.maxAgeMs` after it was
 * queued is marked `failed` and logged as an error. When a round finds nothing due, the dispatcher
 * waits `pollIntervalMs` or until {@link wake}.
 */
export class NotificationDispatcher {
  readonly #outbox: PgNotificationOutbox;
  readonly #notifiers: ReadonlyMap<string, Notifier>;
  readonly #settings: NotificationDispatcherOptions['settings'];
  readonly #leaseMs: number;
  readonly #logger: NotificationsLogger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #woken = false;
  #wakeUp: AbortController | undefined;

  constructor(options: NotificationDispatcherOptions) {
    this.#outbox = options.outbox;
    this.#notifiers = new Map(options.notifiers.map((notifier) => [notifier.name, notifier]));
    this.#settings = options.settings;
    this.#leaseMs = options.leaseMs;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Starts delivering in the background. Safe to call more than once. */
  start(): void {
    if (this.#running !== undefined || this.#abort.signal.aborted) return;
    this.#running = this.#serve();
  }

  /** Ends the wait between rounds at once: deliveries were just queued. */
  wake(): void {
    this.#woken = true;
    this.#wakeUp?.abort();
  }

  /**
   * Stops: aborts the attempts in flight (their rows stay pending and are retried when their lease
   * ends, here or by another worker) and waits for the loop to end. Call before closing the database.
   */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wakeUp?.abort();
    await this.#running;
  }

  async #serve(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      let claimed = 0;
      try {
        claimed = await this.#round();
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        this.#logger.warn({ err: error }, 'the notification dispatcher could not claim deliveries from the outbox; retrying');
      }
      if (claimed < CLAIM_BATCH) await this.#pause(this.#settings.pollIntervalMs);
    }
  }

  /** One claim and its attempts; resolves with the number claimed. */
  async #round(): Promise<number> {
    const due = await this.#outbox.claimDue([...this.#notifiers.keys()], CLAIM_BATCH, this.#leaseMs, this.#now());
    const results = await Promise.allSettled(due.map((row) => this.#attempt(row)));
    for (const result of results) {
      if (result.status === 'rejected' && !this.#abort.signal.aborted) this.#logger.warn({ err: result.reason as unknown }, 'a notification delivery could not be recorded; it is retried when its lease ends');
    }
    return due.length;
  }

  async #attempt(row: ClaimedNotification): Promise<void> {
    const notifier = this.#notifiers.get(row.target);
    if (notifier === undefined) return;
    let failure: NotifierFailure | undefined;
    try {
      const notification: Notification = { id: row.id, target: row.target, event: row.event, body: row.body, payload: JSON.parse(row.body) as NotificationPayload, attempt: row.attempt };
      failure = await notifier.deliver(notification, this.#abort.signal);
    } catch (error) {
      failure = { reason: 'internal', message: `the notifier failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`, persistent: true };
    }
    // An attempt cut short by stop() is not a failure of the receiver: the lease brings it back.
    if (failure !== undefined && this.#abort.signal.aborted) return;
    const now = this.#now();
    if (failure === undefined) {
      await this.#outbox.markDelivered(row.id, now, null);
      return;
    }
    const age = now - row.createdAt;
    const fields = { webhook: row.target, deliveryId: row.id, event: row.event, attempt: row.attempt, reason: failure.reason, ...(failure.status === undefined ? {} : { status: failure.status }) };
    if (age >= this.#settings.retry.maxAgeMs) {
      await this.#outbox.markFailed(row.id, failure.message, failure.status ?? null);
      this.#logger.error(fields, `notification ${row.event} to webhook ${row.target} (delivery ${row.id}) failed: ${failure.message}; given up after ${row.attempt} attempt(s) over ${age} ms (notifications.retry.maxAgeMs)`);
      return;
    }
    const delayMs = failure.retryAfterMs ?? retryDelayMs(row.attempt, this.#settings.retry, this.#random);
    await this.#outbox.markRetry(row.id, now + delayMs, failure.message, failure.status ?? null);
    const message = `notification ${row.event} to webhook ${row.target} (delivery ${row.id}) failed: ${failure.message}; retrying in ${delayMs} ms`;
    if (failure.persistent) this.#logger.error({ ...fields, retryInMs: delayMs }, `${message} (it will not succeed until the receiver or the webhook's configuration is fixed)`);
    else this.#logger.warn({ ...fields, retryInMs: delayMs }, message);
  }

  /** Waits `ms`, or until {@link wake} or {@link stop}. */
  async #pause(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    const wakeUp = new AbortController();
    this.#wakeUp = wakeUp;
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any([this.#abort.signal, wakeUp.signal]) });
    } catch {
      // woken or stopped
    } finally {
      this.#wakeUp = undefined;
      this.#woken = false;
    }
  }
}

/**
 * The dispatcher of `notifications` on `db`, with one webhook notifier per configured webhook; the
 * claim lease is the longest webhook timeout plus 30 s.
 *
 * @throws ConfigError `CONFIG_INVALID` naming `notifications.webhooks.<i>.secretEnv` when the variable a
 *   webhook's `secretEnv` names was unset or empty when the configuration was loaded.
 */
export function createNotificationDispatcher(options: { readonly db: Kysely<Database>; readonly notifications: NotificationsConfig; readonly logger: NotificationsLogger; readonly now?: () => number; readonly random?: () => number }): NotificationDispatcher {
  const { webhooks } = options.notifications;
  const missing = webhooks.flatMap((webhook, index) => (webhook.secretEnv !== undefined && webhook.secret === undefined ? [{ webhook, index }] : []));
  if (missing.length > 0) {
    throw new ConfigError('CONFIG_INVALID', `notification webhook ${missing.map(({ webhook }) => webhook.name).join(', ')} needs its signing key: set the environment variable its secretEnv names`, missing.map(({ webhook, index }) => ({
      path: `notifications.webhooks.${index}.secretEnv`,
      message: `names the environment variable ${webhook.secretEnv ?? ''}, which is not set; set it to the key`,
      expected: 'a set, non-empty environment variable',
      received: 'unset',
    })));
  }
  return new NotificationDispatcher({
    outbox: new PgNotificationOutbox(options.db),
    notifiers: webhooks.map((webhook) => createWebhookNotifier({ name: webhook.name, url: webhook.url, timeoutMs: webhook.timeoutMs, ...(webhook.secret === undefined ? {} : { secret: webhook.secret }) })),
    settings: options.notifications,
    leaseMs: Math.max(0, ...webhooks.map((webhook) => webhook.timeoutMs)) + LEASE_MARGIN_MS,
    logger: options.logger,
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
}
