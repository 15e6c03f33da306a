import { backoffDelay, withRetries } from './index';

const quick = { initialMs: 1, maxMs: 4 };

describe('withRetries, the platform retry policy', () => {
  it('backoff doubles from the first wait and stops at the cap; jitter multiplies each wait', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay({ initialMs: 500, maxMs: 4_000 }, n))).toEqual([500, 1000, 2000, 4000, 4000]);
    expect(backoffDelay({ initialMs: 500, maxMs: 30_000, jitter: () => 0.5 }, 3)).toBe(1000);
  });

  it('a retryable error is tried again up to the retries, then thrown', async () => {
    const tries: number[] = [];
    const failing = withRetries({ retries: 2, backoff: quick, retryError: () => true }, async (n) => {
      tries.push(n);
      throw new Error(`try ${n}`);
    });
    await expect(failing).rejects.toThrow('try 3');
    expect(tries).toEqual([1, 2, 3]);
  });

  it('an error not worth another try is thrown at once', async () => {
    let tries = 0;
    const refused = withRetries({ retries: 5, backoff: quick, retryError: (e) => e.message === 'busy' }, async () => {
      tries++;
      throw new Error('bad input');
    });
    await expect(refused).rejects.toThrow('bad input');
    expect(tries).toBe(1);
  });

  it('a retryable answer is tried again until a good one; when the retries are spent, the last answer is returned', async () => {
    const answers = [503, 503, 200];
    expect(await withRetries<number>({ retries: 4, backoff: quick, retryAnswer: (s) => s >= 500 }, async (n) => answers[n - 1])).toBe(200);
    expect(await withRetries<number>({ retries: 1, backoff: quick, retryAnswer: (s) => s >= 500 }, async (n) => answers[n - 1])).toBe(503);
  });

  it('a wait the answer asks for is never undercut, but never exceeds the cap', async () => {
    const waits: number[] = [];
    const answers: { status: number; retryAfterMs?: number }[] = [{ status: 429, retryAfterMs: 3 }, { status: 429, retryAfterMs: 60_000 }, { status: 200 }];
    await withRetries<{ status: number; retryAfterMs?: number }>(
      {
        retries: 3,
        backoff: { initialMs: 1, maxMs: 5 },
        retryAnswer: (a) => a.status === 429,
        requestedWaitMs: (a) => a.retryAfterMs,
        onRetry: ({ delayMs }) => waits.push(delayMs),
      },
      async (n) => answers[n - 1],
    );
    expect(waits).toEqual([3, 5]);
  });

  it('beforeRetry runs before each try again; its failure ends the tries and is thrown as it was', async () => {
    const calls: string[] = [];
    let beats = 0;
    const run = withRetries(
      {
        retries: 5,
        backoff: quick,
        retryError: () => true,
        beforeRetry: async () => {
          calls.push('beat');
          if (++beats === 2) throw new Error('rebalancing');
        },
      },
      async (n) => {
        calls.push(`try ${n}`);
        throw new Error('handler failed');
      },
    );
    await expect(run).rejects.toThrow('rebalancing');
    expect(calls).toEqual(['try 1', 'beat', 'try 2', 'beat']);
  });
  it('with withinMs, no retry starts once that time has passed: the last error is thrown, the last answer returned', async () => {
    let tries = 0;
    const started = Date.now();
    const failing = withRetries({ retries: Infinity, withinMs: 40, backoff: { initialMs: 10, maxMs: 10 }, retryError: () => true }, async (n) => {
      tries = n;
      throw new Error(`try ${n}`);
    });
    const thrown = await failing.catch((err: Error) => err.message);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(tries).toBeGreaterThan(1);
    expect(thrown).toBe(`try ${tries}`);

    const answers: number[] = [];
    const last = await withRetries<number>({ retries: Infinity, withinMs: 40, backoff: { initialMs: 10, maxMs: 10 }, retryAnswer: () => true }, async (n) => {
      answers.push(n);
      return n;
    });
    expect(answers.length).toBeGreaterThan(1);
    expect(last).toBe(answers[answers.length - 1]);
  });

  it('withinMs 0 makes one try only', async () => {
    let tries = 0;
    const once = withRetries({ retries: Infinity, withinMs: 0, backoff: quick, retryError: () => true }, async () => {
      tries++;
      throw new Error('down');
    });
    await expect(once).rejects.toThrow('down');
    expect(tries).toBe(1);
  });
});
