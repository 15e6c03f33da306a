import { DelegateBackoff, IRetryBackoffContext, handleWhen, retry } from 'cockatiel';

/** Exponential backoff: the first wait `initialMs`, doubled after each failure, never above `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A factor drawn for each wait, so that many callers failing together do not retry in step; 1 by default. */
  jitter?: () => number;
}

/** No wait between tries: for conflicts that the next try resolves at once. */
export const NO_BACKOFF: Backoff = { initialMs: 0, maxMs: 0 };

/** The wait before retry `n` (1: the first retry). */
export function backoffDelay(backoff: Backoff, n: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** (n - 1)) * (backoff.jitter?.() ?? 1);
}

export interface RetryOptions<R> {
  /** Tries after the first one (`Infinity` with `withinMs`: a wait bounded by time alone). */
  retries: number;
  backoff: Backoff;
  /** How long after the first try a retry may still start (a start-up wait for a dependency); no bound unless given. */
  withinMs?: number;
  /** The thrown errors worth another try; none unless given (the error is thrown at once). */
  retryError?: (error: Error) => boolean;
  /** The answers worth another try; none unless given. When the tries are spent, the last answer is returned. */
  retryAnswer?: (answer: R) => boolean;
  /** A wait the failed try asked for (an HTTP Retry-After): the backoff never undercuts it, up to `backoff.maxMs`. */
  requestedWaitMs?: (answer: R) => number | undefined;
  /** Told of each wait as it starts (a log line; a test with fake timers steps time by it). */
  onRetry?: (retry: { attempt: number; delayMs: number; error?: Error; answer?: R }) => void;
  /** Runs after each wait, before the next try (a Kafka heartbeat after a long wait); its failure ends the tries and is thrown. */
  beforeRetry?: () => Promise<void>;
}

/** A `beforeRetry` failure on its way through the policy, which must not take it for a try's. */
class BeforeRetryFailed {
  constructor(readonly error: unknown) {}
}

/**
 * Runs `attempt` (given 1 for the first try) until it succeeds, fails in a way not worth another
 * try, or the retries are spent: the platform's one retry policy, on cockatiel.
 */
export async function withRetries<R>(options: RetryOptions<R>, attempt: (n: number) => Promise<R>): Promise<R> {
  const { retryAnswer, retryError, beforeRetry, withinMs } = options;
  const until = withinMs === undefined ? Infinity : Date.now() + withinMs;
  const inTime = () => Date.now() < until;
  const handler = handleWhen((err) => !(err instanceof BeforeRetryFailed) && inTime() && (retryError?.(err) ?? false)).orWhenResult(
    (r) => inTime() && (retryAnswer?.(r as R) ?? false),
  );
  const policy = retry(handler, {
    maxAttempts: options.retries,
    backoff: new DelegateBackoff<IRetryBackoffContext<unknown>>(({ attempt: n, result }) => {
      const requested = 'value' in result && options.requestedWaitMs ? options.requestedWaitMs(result.value as R) : undefined;
      return Math.min(options.backoff.maxMs, Math.max(backoffDelay(options.backoff, n), requested ?? 0));
    }),
  });
  const onRetry = options.onRetry;
  const listener = onRetry
    ? policy.onRetry((r) =>
        onRetry({ attempt: r.attempt, delayMs: r.delay, ...('error' in r ? { error: r.error } : { answer: r.value as R }) }),
      )
    : undefined;
  try {
    return await policy.execute(async ({ attempt: retried }) => {
      if (retried > 0 && beforeRetry) await beforeRetry().catch((err) => Promise.reject(new BeforeRetryFailed(err)));
      return attempt(retried + 1);
    });
  } catch (err) {
    throw err instanceof BeforeRetryFailed ? err.error : err;
  } finally {
    listener?.dispose();
  }
}
