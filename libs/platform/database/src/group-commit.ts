import { PgErrorCode, pgErrorCode } from './database';
import { unavailableDependency } from './dependency-errors';

export interface GroupCommitOptions<I> {
  /** Items one batch takes at most. */
  maxBatch: number;
  /**
   * Items with the same key never share a batch, nor run in two batches at once (two check-ins of
   * one device); the later one waits for a later batch, so it sees what the other wrote.
   */
  key?: (item: I) => string;
  /**
   * An item's size, and the most a batch takes beyond its first item: small items gather, big ones
   * (a replay's long Kafka batches) are better written apart, where the next can be read meanwhile.
   */
  weight?: (item: I) => number;
  maxWeight?: number;
  /**
   * Batches that may run at once (default 1): more overlap one batch's waits with another's work.
   * A queue that fits one batch still makes one.
   */
  concurrency?: number;
  /**
   * A failure that says nothing of the items and that any part of the batch would meet again: every
   * item still open gets it at once, nothing is rerun. Default: an unreachable dependency (Postgres,
   * Kafka, a peer's address). A runner whose refusals answer a whole batch (an owner out of reach, an
   * inbox lagging past its bound) adds them.
   */
  failsAll?: (error: unknown) => boolean;
}

/** Reruns of a whole batch that lost to another transaction (each loss is a fresh race). */
const CONFLICT_RERUNS = 3;

/** A failure of the transaction's timing, not of its items: Postgres broke a deadlock or a serialization conflict. */
function isConflict(error: unknown): boolean {
  const code = pgErrorCode(error);
  return code === PgErrorCode.deadlock || code === PgErrorCode.serializationFailure;
}

const unreachable = (error: unknown) => unavailableDependency(error) !== undefined;

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: items submitted while a batch is being written wait and go together in the next
 * one, so a burst of N requests costs one transaction and a few statements instead of N of each (a
 * round trip to Postgres costs more here than the statement it carries). Reads are grouped the same
 * way (the gateway's token lookups). Under light load a batch is one item and waits for nothing but
 * the end of the event loop's turn.
 *
 * The runner answers every item or throws: a batch is all or nothing, like the transaction it
 * writes. When it throws a conflict with another transaction (a deadlock, a serialization failure),
 * which says nothing of its items, the batch runs again whole, a few times; a failure any part
 * would meet (`failsAll`) is every item's answer at once. Any other failure (one item's fault)
 * splits it in halves, and halves of the failing half, until the item at fault runs alone: the
 * fault reaches only that item, found in about log2(n) reruns, where running each item alone in
 * turn kept the others waiting for n of them. An item whose answer is known before the batch ends (a
 * device credential no one issued) may be answered early with `settle`: it waits for nothing else,
 * and what the runner returns for it later is ignored, as is a rerun after a throw.
 */
export class GroupCommit<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private running = 0;
  private scheduled = false;
  /** Keys of the items in running batches. */
  private readonly busy = new Set<string>();

  constructor(
    private readonly run: (items: I[], settle: (index: number, output: O) => void) => Promise<O[]>,
    private readonly options: GroupCommitOptions<I>,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Batches start on the next turn of the event loop: what is submitted in this one goes together. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startBatches();
    });
  }

  private keyOf(item: I): string | undefined {
    return this.options.key?.(item);
  }

  private startBatches(): void {
    const concurrency = this.options.concurrency ?? 1;
    // As few batches as the queue needs (a transaction each), shared evenly when it needs several:
    // a live stream's few events make one, a replay's backlog fills every free slot, none taking everything.
    const { maxBatch, maxWeight = Infinity } = this.options;
    const weight = this.options.weight ? this.queue.reduce((sum, w) => sum + this.options.weight!(w.item), 0) : this.queue.length;
    const needed = Math.max(Math.ceil(this.queue.length / maxBatch), Math.ceil(weight / maxWeight));
    const size = Math.min(maxBatch, Math.ceil(this.queue.length / Math.max(1, Math.min(needed, concurrency - this.running))));
    while (this.running < concurrency) {
      const batch = this.take(size);
      if (batch.length === 0) return;
      this.running++;
      const keys = batch.map((w) => this.keyOf(w.item));
      keys.forEach((k) => k !== undefined && this.busy.add(k));
      void this.runBatch(batch).finally(() => {
        keys.forEach((k) => k !== undefined && this.busy.delete(k));
        this.running--;
        this.schedule();
      });
    }
  }

  /** The oldest queued items, at most one per key and none of a running batch's keys, in submission order. */
  private take(size: number): Waiting<I, O>[] {
    const batch: Waiting<I, O>[] = [];
    const keys = new Set<string>();
    let weight = 0;
    for (let i = 0; i < this.queue.length && batch.length < size; ) {
      const itemWeight = this.options.weight?.(this.queue[i].item) ?? 1;
      if (batch.length > 0 && weight + itemWeight > (this.options.maxWeight ?? Infinity)) break;
      const key = this.keyOf(this.queue[i].item);
      if (key !== undefined && (keys.has(key) || this.busy.has(key))) {
        i++;
        continue;
      }
      if (key !== undefined) keys.add(key);
      weight += itemWeight;
      batch.push(...this.queue.splice(i, 1));
    }
    return batch;
  }

  private async runBatch(batch: Waiting<I, O>[], conflicts = 0): Promise<void> {
    const settled = new Set<number>();
    const settle = (index: number, output: O) => {
      if (settled.has(index) || !batch[index]) return;
      settled.add(index);
      batch[index].resolve(output);
    };
    let results: O[];
    try {
      results = await this.run(batch.map((w) => w.item), settle);
    } catch (error) {
      const open = batch.filter((_, i) => !settled.has(i));
      if (conflicts < CONFLICT_RERUNS && open.length > 0 && isConflict(error)) return this.runBatch(open, conflicts + 1);
      if (batch.length === 1 || (this.options.failsAll ?? unreachable)(error)) {
        open.forEach((w) => w.reject(error));
        return;
      }
      // An item that ran with others only (the rest were answered early) runs alone before it is refused.
      if (open.length === 1) return this.runBatch(open);
      const half = Math.ceil(open.length / 2);
      await this.runBatch(open.slice(0, half));
      await this.runBatch(open.slice(half));
      return;
    }
    batch.forEach((w, i) => settled.has(i) || w.resolve(results[i]));
  }
}
