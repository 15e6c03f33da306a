import { DueQueue, Scheduler, scheduledAt } from './scheduler';

describe('DueQueue', () => {
  it('pops the ids due at a time in order of their time, and keeps the later ones', () => {
    const q = new DueQueue();
    const times = [50, 10, 40, 30, 20, 60, 5];
    times.forEach((at, id) => q.push(id, at));
    expect(q.popDue(35)).toEqual([6, 1, 4, 3]);
    expect(q.size).toBe(3);
    expect(q.peek()).toBe(40);
    expect(q.popDue(100)).toEqual([2, 0, 5]);
    expect(q.peek()).toBeUndefined();
  });

  it('a device pushed again is due once, at its new time (an earlier or a later one)', () => {
    const q = new DueQueue();
    q.push(1, 100);
    q.push(2, 50);
    q.push(1, 10); // earlier: a notification moves the check-in forward
    q.push(2, 200); // later: a check-in answered with a new schedule
    expect(q.size).toBe(2);
    expect(q.popDue(150)).toEqual([1]);
    expect(q.popDue(1000)).toEqual([2]);
  });

  it('a cancelled id is never due (a removed device)', () => {
    const q = new DueQueue();
    q.push(1, 10);
    q.push(2, 20);
    q.cancel(1);
    expect(q.peek()).toBe(20);
    expect(q.popDue(100)).toEqual([2]);
  });

  it('keeps the heap order over many random pushes', () => {
    const q = new DueQueue();
    const at = Array.from({ length: 5000 }, () => Math.floor(Math.random() * 1e6));
    at.forEach((t, id) => q.push(id, t));
    const popped = q.popDue(Infinity).map((id) => at[id]);
    expect(popped).toHaveLength(5000);
    expect(popped).toEqual([...at].sort((a, b) => a - b));
  });
});

describe('scheduledAt', () => {
  it('is never before the server asked and at most the jitter after', () => {
    expect(scheduledAt(1000, 500, () => 0)).toBe(1000);
    expect(scheduledAt(1000, 500, () => 0.999999)).toBe(1499);
    for (let i = 0; i < 1000; i++) {
      const at = scheduledAt(1000, 500);
      expect(at).toBeGreaterThanOrEqual(1000);
      expect(at).toBeLessThan(1500);
    }
  });
});

describe('Scheduler', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** A server clock that real time moves, plus jumps (the test clock's advance). */
  const serverClock = () => {
    let offset = 0;
    return { now: () => Date.now() + offset, jump: (ms: number) => (offset += ms) };
  };

  /** A scheduler on such a clock, and the batches of ids it ran, in order. */
  const started = (maxSleepMs?: number) => {
    const clock = serverClock();
    const fired: number[][] = [];
    return { clock, fired, s: new Scheduler(clock, (ids) => fired.push(ids), maxSleepMs) };
  };

  it('runs each entry once when its time comes, with one timer', () => {
    const { clock, fired, s } = started(1000);
    const t0 = clock.now();
    s.at(1, t0 + 300);
    s.at(2, t0 + 100);
    s.at(3, t0 + 100);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(99);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(fired).toEqual([[2, 3]]);
    jest.advanceTimersByTime(200);
    expect(fired).toEqual([[2, 3], [1]]);
    jest.advanceTimersByTime(5000);
    expect(fired).toHaveLength(2);
    expect(s.size).toBe(0);
    s.stop();
  });

  it('an earlier entry re-arms the timer', () => {
    const { clock, fired, s } = started(60_000);
    s.at(1, clock.now() + 50_000);
    s.at(2, clock.now() + 10);
    jest.advanceTimersByTime(10);
    expect(fired).toEqual([[2]]);
    s.stop();
  });

  it('follows a jump of the server clock within maxSleepMs (a check-in due in 8 hours, the test clock advanced 9)', () => {
    const { clock, fired, s } = started(1000);
    s.at(7, clock.now() + 8 * 3_600_000);
    jest.advanceTimersByTime(5000);
    expect(fired).toEqual([]);
    clock.jump(9 * 3_600_000);
    jest.advanceTimersByTime(1000);
    expect(fired).toEqual([[7]]);
    s.stop();
  });

  it('stops: nothing runs after stop', () => {
    const { clock, fired, s } = started();
    s.at(1, clock.now() + 10);
    s.stop();
    jest.advanceTimersByTime(100);
    expect(fired).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
