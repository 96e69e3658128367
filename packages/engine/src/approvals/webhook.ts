import { createHmac, randomBytes } from 'node:crypto';
import type { Approval } from './approval.js';

/** An org's webhook (document `settings`/`webhook`): where approval events go, and the HMAC key. */
export interface WebhookConfig {
  url: string;
  secret: string;
  createdAt: string;
}

export interface WebhookEvent {
  type: 'approval.requested' | 'approval.decided';
  orgId: string;
  approval: Approval;
}

export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

/**
 * The signature scheme (docs/approvals.md): `Mandate-Signature: t=<unix seconds>,v1=<hex>` where
 * v1 = HMAC-SHA256(secret, `${t}.${body}`). A receiver recomputes it over the raw body, compares
 * in constant time and refuses a `t` too far from its clock (replays).
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

export interface WebhookSenderOptions {
  /** Delays before each retry (ms); the number of attempts is one more. */
  backoffMs?: number[];
  timeoutMs?: number;
  /** Told of each delivery's end (tests, logs). */
  onResult?: (result: {
    url: string;
    event: WebhookEvent['type'];
    ok: boolean;
    attempts: number;
    status?: number;
  }) => void;
}

/**
 * Delivers events to the one URL an org configured, signed, retried with backoff on failure
 * (network error, timeout, non-2xx). Redirects are not followed: the event goes to the
 * configured URL and nowhere else. In process and best effort: a restart drops retries in
 * flight (the approval itself is durable and can be listed or long-polled).
 */
export class WebhookSender {
  private readonly backoff: number[];
  private readonly timeoutMs: number;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: WebhookSenderOptions = {}) {
    this.backoff = options.backoffMs ?? [1_000, 5_000, 30_000, 120_000];
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  send(config: WebhookConfig, event: WebhookEvent): void {
    const run = this.deliver(config, event).finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  /** Waits for deliveries in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async deliver(config: WebhookConfig, event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    let status: number | undefined;
    for (let attempt = 0; attempt <= this.backoff.length; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, this.backoff[attempt - 1]).unref?.());
      try {
        const response = await fetch(config.url, {
          method: 'POST',
          redirect: 'manual',
          signal: AbortSignal.timeout(this.timeoutMs),
          headers: {
            'content-type': 'application/json',
            'user-agent': 'mandate-webhook',
            'mandate-event': event.type,
            'mandate-signature': signWebhook(config.secret, body, Math.floor(Date.now() / 1000)),
          },
          body,
        });
        status = response.status;
        await response.body?.cancel().catch(() => undefined);
        if (status >= 200 && status < 300) {
          this.options.onResult?.({
            url: config.url,
            event: event.type,
            ok: true,
            attempts: attempt + 1,
            status,
          });
          return;
        }
      } catch {
        status = undefined;
      }
    }
    this.options.onResult?.({
      url: config.url,
      event: event.type,
      ok: false,
      attempts: this.backoff.length + 1,
      ...(status !== undefined ? { status } : {}),
    });
  }
}
