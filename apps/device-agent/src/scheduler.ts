/**
 * Every timed thing of a fleet (a device's next check-in, a poll retried after an error) is one
 * entry of one heap, served by one timer: 10,000 devices cost 10,000 small array entries, not
 * 10,000 Node timers.
 */

interface Entry {
  at: number;
  id: number;
}

/**
 * A min-heap of (time, id). Pushing an id again replaces its earlier time: the heap keeps every
 * entry and pop skips the stale ones (cheaper than finding and moving the old one).
 */
export class DueQueue {
  private readonly heap: Entry[] = [];
  /** The time each id is due at now; an entry whose time differs is stale. */
  private readonly dueAt = new Map<number, number>();

  get size(): number {
    return this.dueAt.size;
  }

  push(id: number, at: number): void {
    this.dueAt.set(id, at);
    this.heap.push({ at, id });
    this.up(this.heap.length - 1);
  }

  cancel(id: number): void {
    this.dueAt.delete(id);
  }

  /** When the earliest live entry is due, or undefined when none is. */
  peek(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** The ids due at `now`, earliest first, removed from the queue. */
  popDue(now: number): number[] {
    const due: number[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) return due;
      this.pop();
      this.dueAt.delete(top.id);
      due.push(top.id);
    }
  }

  private dropStale(): void {
    while (this.heap.length > 0 && this.dueAt.get(this.heap[0].id) !== this.heap[0].at) this.pop();
  }

  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    this.down(0);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].at <= h[i].at) return;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && h[l].at < h[min].at) min = l;
      if (r < h.length && h[r].at < h[min].at) min = r;
      if (min === i) return;
      [h[min], h[i]] = [h[i], h[min]];
      i = min;
    }
  }
}

/**
 * When a device checks in for its schedule: the server's `nextCheckInAt` plus a random delay of up
 * to `jitterMs`, so a fleet enrolled in one burst does not come back in one burst (never earlier
 * than the server asked: an early check-in is not the scheduled one).
 */
export function scheduledAt(nextCheckInAt: number, jitterMs: number, random: () => number = Math.random): number {
  return nextCheckInAt + Math.floor(random() * jitterMs);
}

/** Where the scheduler reads the time: the server's clock as this process sees it (see ServerClock). */
export interface TimeSource {
  now(): number;
}

/**
 * The heap and its one timer. Times are in the server's clock; the timer is armed for the earliest
 * entry but never longer than `maxSleepMs`, so a jump of the server's clock (the test clock
 * advancing by days) is noticed within that bound.
 */
export class Scheduler {
  private readonly queue = new DueQueue();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private stopped = false;

  constructor(
    private readonly clock: TimeSource,
    private readonly onDue: (ids: number[]) => void,
    private readonly maxSleepMs = 1000,
  ) {}

  get size(): number {
    return this.queue.size;
  }

  at(id: number, at: number): void {
    this.queue.push(id, at);
    if (at < this.armedFor) this.arm();
  }

  cancel(id: number): void {
    this.queue.cancel(id);
  }

  /** Runs what is due now and re-arms (also what a clock jump calls). */
  tick(): void {
    if (this.stopped) return;
    const due = this.queue.popDue(this.clock.now());
    if (due.length > 0) this.onDue(due);
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const next = this.queue.peek();
    if (next === undefined) {
      this.armedFor = Infinity;
      return;
    }
    this.armedFor = next;
    const wait = Math.min(this.maxSleepMs, Math.max(0, next - this.clock.now()));
    this.timer = setTimeout(() => this.tick(), wait);
    this.timer.unref();
  }
}
