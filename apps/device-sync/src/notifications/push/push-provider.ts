import { z } from 'zod';
import { DeviceNotification } from '@mdm/contracts/device-sync';

/** How one push ended. `unregistered`: the provider says the token is dead; stop using it (not retried). */
export type PushOutcome =
  | { outcome: 'sent'; attempts: number }
  | { outcome: 'unregistered'; attempts: number; status: number }
  | { outcome: 'failed'; attempts: number; status?: number; error: string };

/**
 * One way of telling a device to check in (R16). The long poll is built in and always on; APNs, FCM
 * and WNS are adapters that are off unless configured, and nothing feeds them yet: a consumer of
 * mdm.device.notifications (key: device id) would look up the device's push token and call send.
 */
export interface PushProvider {
  readonly name: 'longPoll' | 'apns' | 'fcm' | 'wns';
  readonly enabled: boolean;
  send(token: string, notification: DeviceNotification): Promise<PushOutcome>;
  close?(): Promise<void>;
}

/** A credential that may be refreshed (OAuth access tokens, APNs provider JWTs live about an hour). */
export type Credential = () => string | Promise<string>;

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Injected by tests to observe the delays without waiting them out. */
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 30_000 };

/** What a provider answered to one attempt. */
export interface ProviderAnswer {
  status: number;
  retryAfter?: string | null;
  body?: string;
}

export interface AnswerRules {
  /** The token is dead (410 for all three; each provider adds its own). */
  unregistered(a: ProviderAnswer): boolean;
  /** Worth trying again later (throttled, unavailable); network errors always are. */
  retryable?(a: ProviderAnswer): boolean;
}

const throttledOrDown = (a: ProviderAnswer) => a.status === 429 || a.status >= 500;

/**
 * Attempts until sent, a final answer, or the attempts are spent. Waits between attempts grow
 * exponentially (with jitter, so that throttled replicas do not retry in step) and never undercut
 * the provider's Retry-After.
 */
export async function sendWithRetries(policy: RetryPolicy, attempt: () => Promise<ProviderAnswer>, rules: AnswerRules): Promise<PushOutcome> {
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let n = 1; ; n++) {
    let answer: ProviderAnswer | undefined;
    let error: unknown;
    try {
      answer = await attempt();
    } catch (err) {
      error = err;
    }
    if (answer && answer.status >= 200 && answer.status < 300) return { outcome: 'sent', attempts: n };
    if (answer && rules.unregistered(answer)) return { outcome: 'unregistered', attempts: n, status: answer.status };
    const retryable = !answer || (rules.retryable ?? throttledOrDown)(answer);
    if (!retryable || n >= policy.maxAttempts) {
      const reason = answer ? `HTTP ${answer.status}${answer.body ? ` ${answer.body.slice(0, 200)}` : ''}` : String((error as Error)?.message ?? error);
      return { outcome: 'failed', attempts: n, status: answer?.status, error: reason };
    }
    const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)) * (0.5 + Math.random() / 2);
    await sleep(Math.min(policy.maxDelayMs, Math.max(backoff, retryAfterMs(answer?.retryAfter) ?? 0)));
  }
}

/** Retry-After is either seconds or an HTTP date. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The built-in channel: NotifierService has already queued the notification and woken the long
 * polls (LongPollHub), so there is nothing left to send.
 */
export class LongPollPush implements PushProvider {
  readonly name = 'longPoll' as const;
  readonly enabled = true;
  async send(): Promise<PushOutcome> {
    return { outcome: 'sent', attempts: 1 };
  }
}

/** The settings that switch the outside providers on; none set, none on. */
export const pushConfig = z.object({
  APNS_ENDPOINT: z.string().url().optional(),
  APNS_TOPIC: z.string().min(1).optional(),
  APNS_BEARER_TOKEN: z.string().min(1).optional(),
  FCM_ENDPOINT: z.string().url().default('https://fcm.googleapis.com'),
  FCM_PROJECT_ID: z.string().regex(/^[a-z0-9-]+$/).optional(),
  FCM_ACCESS_TOKEN: z.string().min(1).optional(),
  WNS_ACCESS_TOKEN: z.string().min(1).optional(),
});
export type PushConfig = z.infer<typeof pushConfig>;
