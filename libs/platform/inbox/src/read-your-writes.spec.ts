import { DomainError } from '@mdm/contracts/core';
import { Sql } from '@mdm/platform/database';
import { CallSigner } from '@mdm/platform/http-client';
import { createLogger } from '@mdm/platform/logging';
import { TEST_SIGNING_KEY } from '@mdm/platform/testing';
import { ReadYourWrites } from './read-your-writes';

describe('ReadYourWrites: what a wait for the inbox records (read_your_writes_seconds, step apply)', () => {
  /** A service whose inbox has applied stream `s` to each version in turn, one per look, and what it recorded. */
  function inboxAt(versions: number[], timeoutMs = 3000) {
    let looks = 0;
    const db: Sql = { query: async <T>() => [{ stream_id: 's', version: String(versions[Math.min(looks++, versions.length - 1)]) }] as T[] };
    const recorded: { step: string; seconds: number }[] = [];
    const ryw = new ReadYourWrites({
      db,
      signer: new CallSigner(TEST_SIGNING_KEY, 'test'),
      logger: createLogger('test', 'silent'),
      timeoutMs,
      pollMs: 20,
      observe: (step, seconds) => recorded.push({ step, seconds }),
    });
    return { ryw, recorded, looks: () => looks };
  }

  it('caught up at the first look: one look, a wait of 0', async () => {
    const { ryw, recorded, looks } = inboxAt([5]);
    await ryw.applied({ s: 5 });
    expect(looks()).toBe(1);
    expect(recorded).toEqual([{ step: 'apply', seconds: 0 }]);
  });

  it('behind at two looks: the wait from the first look, at least the two polls between', async () => {
    const { ryw, recorded, looks } = inboxAt([3, 4, 5]);
    await ryw.applied({ s: 5 });
    expect(looks()).toBe(3);
    expect(recorded).toHaveLength(1);
    expect(recorded[0].step).toBe('apply');
    // Two polls of 20 ms (a timer may fire a millisecond early).
    expect(recorded[0].seconds).toBeGreaterThanOrEqual(0.035);
  });

  it('still behind at its bound: refused DEPENDENCY_LAGGING, and the wait recorded too', async () => {
    const { ryw, recorded } = inboxAt([3], 50);
    const refused = await ryw.applied({ s: 5 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).code).toBe('DEPENDENCY_LAGGING');
    expect(recorded).toHaveLength(1);
    // The bound counts from the call, the wait from the end of the first look.
    expect(recorded[0].seconds).toBeGreaterThanOrEqual(0.04);
  });

  it('nothing wanted: no look and nothing recorded', async () => {
    const { ryw, recorded, looks } = inboxAt([0]);
    await ryw.applied({});
    expect([looks(), recorded]).toEqual([0, []]);
  });
});
