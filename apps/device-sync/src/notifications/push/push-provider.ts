import { z } from 'zod';
import { PushProviderName } from '@mdm/contracts/authority';
import { DeviceNotification } from '@mdm/contracts/device-sync';
import { withRetries } from '@mdm/platform/retry';

/** How one push ended. `unregistered`: the provider says the token is dead; stop using it (not retried). */
export type PushOutcome =
  | { outcome: 'sent'; attempts: number }
  | { outcome: 'unregistered'; attempts: number; status: number }
  | { outcome: 'failed'; attempts: number; status?: number; error: string };

/**
 * One way of telling a device to check in (R16). The long poll is built in and always on; APNs, FCM
 * and WNS are adapters that are off unless configured, fed by the PushDispatcher.
 */
export interface PushProvider {
  readonly name: PushProviderName;
  send(token: string, notification: DeviceNotification): Promise<PushOutcome>;
  close?(): Promise<void>;
}

/** A credential that may be refreshed (OAuth access tokens, APNs provider JWTs live about an hour). */
export type Credential = () => string | Promise<string>;

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Told of each wait as it starts: tests step fake time by it instead of waiting it out. */
  onRetry?: (delayMs: number) => void;
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
  const sent = (a: ProviderAnswer) => a.status >= 200 && a.status < 300;
  const onRetry = policy.onRetry;
  let attempts = 0;
  const { answer, error } = await withRetries<{ answer?: ProviderAnswer; error?: unknown }>(
    {
      retries: policy.maxAttempts - 1,
      backoff: { initialMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, jitter: () => 0.5 + Math.random() / 2 },
      // A network error is always worth another try; an answer when it is neither final nor refused for good.
      retryAnswer: ({ answer: a }) => !a || (!sent(a) && !rules.unregistered(a) && (rules.retryable ?? throttledOrDown)(a)),
      requestedWaitMs: ({ answer: a }) => retryAfterMs(a?.retryAfter),
      onRetry: onRetry && (({ delayMs }) => onRetry(delayMs)),
    },
    async (n) => {
      attempts = n;
      try {
        return { answer: await attempt() };
      } catch (err) {
        return { error: err };
      }
    },
  );
  if (answer && sent(answer)) return { outcome: 'sent', attempts };
  if (answer && rules.unregistered(answer)) return { outcome: 'unregistered', attempts, status: answer.status };
  const reason = answer ? `HTTP ${answer.status}${answer.body ? ` ${answer.body.slice(0, 200)}` : ''}` : String((error as Error)?.message ?? error);
  return { outcome: 'failed', attempts, status: answer?.status, error: reason };
}

/** Retry-After is either seconds or an HTTP date. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const optional = z.string().trim().min(1).optional();
const appleId = z.string().regex(/^[A-Z0-9]{10}$/, 'the 10-character id Apple shows').optional();

/** The settings that switch the outside providers on (none set, none on) and bound the dispatcher. */
export const pushConfig = z.object({
  /** APNs, token-based: all four of topic, .p8 key file, key id and team id, or none. */
  APNS_ENDPOINT: z.string().url().default('https://api.push.apple.com'),
  APNS_TOPIC: optional,
  APNS_KEY_FILE: optional,
  APNS_KEY_ID: appleId,
  APNS_TEAM_ID: appleId,
  /** FCM HTTP v1 with a service account's key file; the project is the account's unless given. */
  FCM_ENDPOINT: z.string().url().default('https://fcm.googleapis.com'),
  FCM_SERVICE_ACCOUNT_FILE: optional,
  FCM_PROJECT_ID: z.string().regex(/^[a-z0-9-]+$/).optional(),
  WNS_ACCESS_TOKEN: optional,
  /** Hosts a device's WNS channel URI may name (https; `http://host:port` entries allow one plain host, for local fakes). */
  WNS_CHANNEL_HOSTS: z
    .string()
    .default('notify.windows.com')
    .transform((v) => v.split(',').map((h) => h.trim()).filter(Boolean)),
  /** `off` keeps this replica out of the dispatcher's consumer group. */
  PUSH_DISPATCHER: z.enum(['on', 'off']).default('on'),
  PUSH_CONSUMER_GROUP: optional,
  /** Pushes in flight per provider, and waiting beyond them (more are dropped and counted: the long poll and the schedule remain). */
  PUSH_CONCURRENCY: z.coerce.number().int().positive().max(1000).default(32),
  PUSH_QUEUE: z.coerce.number().int().nonnegative().max(1_000_000).default(10_000),
  PUSH_TIMEOUT_MS: z.coerce.number().int().positive().max(120_000).default(10_000),
  PUSH_MAX_ATTEMPTS: z.coerce.number().int().positive().max(10).default(5),
});
export type PushConfig = z.infer<typeof pushConfig>;
