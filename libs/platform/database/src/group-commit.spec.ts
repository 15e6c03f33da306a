import { GroupCommit } from './group-commit';

/**
 * A group commit whose runner records its batches, answers negative items 'refused' early (settle),
 * then fails the batch with `broken(items)`'s message when it gives one, else answers `done <n>`.
 */
function refusingNegatives(broken: (items: number[]) => string | undefined) {
  const runs: number[][] = [];
  const gc = new GroupCommit<number, string>(
    async (items, settle) => {
      runs.push(items);
      items.forEach((n, i) => n < 0 && settle(i, 'refused'));
      const failure = broken(items);
      if (failure) throw new Error(failure);
      return items.map((n) => `done ${n}`);
    },
    { maxBatch: 10 },
  );
  return { gc, runs };
}

/** A runner that records its batches and answers each item doubled; `bad` items break a whole batch. */
function recorder(bad = new Set<number>()) {
  const batches: number[][] = [];
  const overlap = { running: 0, most: 0 };
  const run = async (items: { id: string; n: number }[]): Promise<number[]> => {
    batches.push(items.map((i) => i.n));
    overlap.most = Math.max(overlap.most, ++overlap.running);
    await new Promise((r) => setTimeout(r, 5));
    overlap.running--;
    if (items.some((i) => bad.has(i.n))) throw new Error(`broken by ${items.find((i) => bad.has(i.n))!.n}`);
    return items.map((i) => i.n * 2);
  };
  return { batches, run, overlap };
}

describe('GroupCommit', () => {
  it('an item settled early is answered before its batch ends, and what the batch returns for it later is ignored', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number, string>(
      async (items, settle) => {
        items.forEach((n, i) => n < 0 && settle(i, 'refused'));
        await held;
        return items.map((n) => `done ${n}`);
      },
      { maxBatch: 10 },
    );
    const early = gc.submit(-1);
    const late = gc.submit(2);
    expect(await early).toBe('refused');
    let lateDone = false;
    void late.then(() => (lateDone = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(lateDone).toBe(false);
    release();
    expect(await late).toBe('done 2');
  });

  it('an item settled early is not run again when its batch fails: only the others are retried', async () => {
    const { gc, runs } = refusingNegatives((items) => (items.includes(3) ? 'broken by 3' : undefined));
    const answers = await Promise.allSettled([-1, 2, 3].map((n) => gc.submit(n)));
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual(['refused', 'done 2', 'broken by 3']);
    expect(runs).toEqual([[-1, 2, 3], [2], [3]]);
  });

  it('groups what is submitted in one turn of the event loop, and what arrives while a batch runs into the next one', async () => {
    const { batches, run } = recorder();
    const gc = new GroupCommit(run, { maxBatch: 10, key: (i) => i.id });
    const first = Promise.all([1, 2].map((n) => gc.submit({ id: `d${n}`, n })));
    await new Promise((r) => setImmediate(r)); // the batch of 1 and 2 has started
    const answers = await Promise.all([first, ...[3, 4].map((n) => gc.submit({ id: `d${n}`, n }))]);
    expect(answers).toEqual([[2, 4], 6, 8]);
    expect(batches).toEqual([[1, 2], [3, 4]]);
  });

  it('never puts two items of one key in a batch, and keeps their order', async () => {
    const { batches, run } = recorder();
    const gc = new GroupCommit(run, { maxBatch: 10, key: (i) => i.id });
    await Promise.all([1, 2, 3].map((n) => gc.submit({ id: n === 2 ? 'b' : 'a', n })));
    expect(batches).toEqual([[1, 2], [3]]);
  });

  it('takes at most maxBatch items', async () => {
    const { batches, run } = recorder();
    const gc = new GroupCommit(run, { maxBatch: 2, key: (i) => i.id });
    await Promise.all([0, 1, 2, 3, 4].map((n) => gc.submit({ id: `d${n}`, n })));
    expect(batches).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('a batch that fails is run again in halves until the item at fault is alone: only that item gets the error', async () => {
    const { batches, run } = recorder(new Set([3]));
    const gc = new GroupCommit(run, { maxBatch: 10, key: (i) => i.id });
    const settled = await Promise.allSettled([1, 2, 3, 4, 5, 6, 7, 8].map((n) => gc.submit({ id: `d${n}`, n })));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([2, 4, 'broken by 3', 8, 10, 12, 14, 16]);
    expect(batches).toEqual([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4], [1, 2], [3, 4], [3], [4], [5, 6, 7, 8]]);
  });

  it('a failure any part would meet (an unreachable dependency, or what failsAll names) is every item\'s answer at once: nothing is rerun', async () => {
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const lagging = new Error('the inbox is lagging');
    for (const [error, options] of [
      [down, { maxBatch: 10 }],
      [lagging, { maxBatch: 10, failsAll: (e: unknown) => e === lagging }],
    ] as const) {
      const runs: number[][] = [];
      const gc = new GroupCommit<number, number>(async (items) => {
        runs.push(items);
        throw error;
      }, options);
      const answers = await Promise.allSettled([1, 2, 3, 4].map((n) => gc.submit(n)));
      expect(answers.map((a) => a.status === 'rejected' && a.reason)).toEqual([error, error, error, error]);
      expect(runs).toEqual([[1, 2, 3, 4]]);
    }
  });

  it('an item that ran only beside items answered early runs alone before it is refused', async () => {
    const { gc, runs } = refusingNegatives((items) => (items.length > 1 ? 'broken together' : undefined));
    expect(await Promise.all([-1, 3].map((n) => gc.submit(n)))).toEqual(['refused', 'done 3']);
    expect(runs).toEqual([[-1, 3], [3]]);
  });

  it('a batch that loses a deadlock or a serialization conflict runs again whole (three times at most), not split', async () => {
    const conflict = (code: string) => Object.assign(new Error(`conflict ${code}`), { code });
    const runs: number[][] = [];
    const losses = ['40P01', '40001', '40P01', '40P01'];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        runs.push(items);
        const loss = losses.shift();
        if (loss && items.length > 1) throw conflict(loss);
        return items.map((n) => n * 2);
      },
      { maxBatch: 10 },
    );
    expect(await Promise.all([1, 2, 3].map((n) => gc.submit(n)))).toEqual([2, 4, 6]);
    // Three reruns whole, then the fourth loss is treated as any failure: halves.
    expect(runs).toEqual([[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2], [3]]);
  });

  it('with concurrency 2 two batches run at once, and a key in a running batch waits for a later one', async () => {
    const { batches, run } = recorder();
    const gc = new GroupCommit(run, { maxBatch: 10, key: (i) => i.id, concurrency: 2 });
    const a1 = gc.submit({ id: 'a', n: 1 });
    await new Promise((r) => setImmediate(r));
    await Promise.all([a1, gc.submit({ id: 'a', n: 2 }), gc.submit({ id: 'b', n: 3 })]);
    expect(batches).toEqual([[1], [3], [2]]);
  });

  it('a queue that fits one batch makes one, even with free slots', async () => {
    const { batches, run } = recorder();
    const gc = new GroupCommit(run, { maxBatch: 10, concurrency: 2 });
    await Promise.all([1, 2, 3, 4].map((n) => gc.submit({ id: `d${n}`, n })));
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it('free slots share a queue that needs several batches evenly: five items, maxBatch 3 and two slots make batches of three and two, run at once', async () => {
    const { batches, run, overlap } = recorder();
    const gc = new GroupCommit(run, { maxBatch: 3, concurrency: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((n) => gc.submit({ id: `d${n}`, n })));
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(overlap.most).toBe(2);
  });

  it('free slots share by weight too: four items of weight 3 with maxWeight 6 and four slots make two batches of two, run at once', async () => {
    const { batches, run, overlap } = recorder();
    const gc = new GroupCommit(run, { maxBatch: 10, weight: (i) => i.n, maxWeight: 6, concurrency: 4 });
    await Promise.all([3, 3, 3, 3].map((n, i) => gc.submit({ id: `d${i}`, n })));
    expect(batches).toEqual([
      [3, 3],
      [3, 3],
    ]);
    expect(overlap.most).toBe(2);
  });

  it('a batch takes items up to maxWeight, and always its first one', async () => {
    const { batches, run } = recorder();
    const gc = new GroupCommit(run, { maxBatch: 10, weight: (i) => i.n, maxWeight: 5 });
    await Promise.all([9, 1, 2, 2, 3].map((n, i) => gc.submit({ id: `d${i}`, n })));
    expect(batches).toEqual([[9], [1, 2, 2], [3]]);
  });
});
