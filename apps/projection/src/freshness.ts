import { Inject, Injectable } from '@nestjs/common';
import { EventEnvelope } from '@mdm/contracts/core';
import { Clock } from '@mdm/platform/clock';
import { ServiceRuntime } from '@mdm/platform/http';
import { Delivery, InboxConsumer } from '@mdm/platform/inbox';

const key = (d: Delivery) => `${d.topic}:${d.partition}`;

/**
 * R29's `lagMs`: how long ago the oldest event not yet applied was recorded. Per partition of the
 * live consumer: while a batch is being applied its first event is the oldest waiting; between
 * batches, a partition with messages still behind waits on events recorded after the newest one
 * applied there, so the time since that one bounds the lag from above.
 */
@Injectable()
export class Freshness {
  private consumer: InboxConsumer | undefined;
  private readonly applying = new Map<string, number>();
  private readonly newestApplied = new Map<string, number>();
  private readonly clock: Clock;

  constructor(@Inject(ServiceRuntime) runtime: ServiceRuntime) {
    this.clock = runtime.clock;
  }

  follow(consumer: InboxConsumer): void {
    this.consumer = consumer;
    this.applying.clear();
    this.newestApplied.clear();
  }

  started(items: { event: EventEnvelope; delivery: Delivery }[]): void {
    for (const { event, delivery } of items) {
      const k = key(delivery);
      const at = Date.parse(event.recordedAt);
      if (!this.applying.has(k) || at < this.applying.get(k)!) this.applying.set(k, at);
    }
  }

  applied(items: { event: EventEnvelope; delivery: Delivery }[]): void {
    for (const { event, delivery } of items) {
      const k = key(delivery);
      this.applying.delete(k);
      this.newestApplied.set(k, Math.max(this.newestApplied.get(k) ?? 0, Date.parse(event.recordedAt)));
    }
  }

  lagMs(): number {
    const now = this.clock.now().getTime();
    let oldest = now;
    for (const at of this.applying.values()) oldest = Math.min(oldest, at);
    for (const [k, behind] of this.consumer?.partitionLag ?? []) {
      if (behind > 0 && this.newestApplied.has(k)) oldest = Math.min(oldest, this.newestApplied.get(k)!);
    }
    return Math.max(0, now - oldest);
  }
}
