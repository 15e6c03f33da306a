import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Admin, Kafka } from 'kafkajs';
import { EventEnvelope } from '@mdm/contracts/core';
import { Clock } from '@mdm/platform/clock';
import { CLOCK, Consumption, KAFKA, LOGGER, SERVICE_CONFIG } from '@mdm/platform/http';
import { CallSigner, callService } from '@mdm/platform/http-client';
import { Delivery, InboxConsumer } from '@mdm/platform/inbox';
import { Logger } from '@mdm/platform/logging';
import { ProjectionConfig } from './projection.definition';

const key = (d: { topic: string; partition: number }) => `${d.topic}:${d.partition}`;
/** How often the broker's end offsets and the owners' outboxes are looked at. */
const WATCH_MS = 200;
/** Without an answer from the broker for this long, the views no longer claim to know what they miss. */
const BLIND_AFTER_MS = 1000;

/**
 * R29's `lagMs`: how long ago the oldest event the owners have committed and the view has not
 * applied was recorded. It is the largest of three bounds, each for a part of an event's way:
 * - in an owner's outbox: the owners report how long their oldest unpublished event has waited;
 * - at the broker, not fetched yet (or held by a fetch that waits for more): a partition whose end
 *   offset is past what the view applied counts from the last look that found it caught up;
 * - fetched and being applied: the batch's first event's `recordedAt`; between batches, a partition
 *   still behind counts from the newest event applied there.
 * The first two are looked at every WATCH_MS, so the figure errs by at most that much, upwards. While
 * the broker cannot be asked, it grows from the last time it could.
 */
@Injectable()
export class Freshness implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer: InboxConsumer | undefined;
  private readonly applying = new Map<string, number>();
  private readonly newestApplied = new Map<string, number>();
  /** The next offset to apply per partition, as far as this process applied it. */
  private readonly appliedNext = new Map<string, bigint>();
  /**
   * Per partition with unapplied messages at the broker: its end offset then, and the last look (wall
   * clock) that found it caught up. Applying up to that offset clears it at once.
   */
  private readonly behind = new Map<string, { end: bigint; since: number }>();
  /** Per owner: since when (wall clock) its oldest event still in the outbox has waited, if one does. */
  private readonly outboxSince = new Map<string, number>();
  private lastLook = Date.now();
  private lastBrokerAnswer = Date.now();
  private admin: Admin | undefined;
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;
  private running = false;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ProjectionConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(KAFKA) private readonly kafka: Kafka,
    private readonly signer: CallSigner,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly consumption: Consumption,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.looking;
    await this.admin?.disconnect().catch(() => undefined);
  }

  follow(consumer: InboxConsumer): void {
    this.consumer = consumer;
    this.applying.clear();
    this.newestApplied.clear();
    this.appliedNext.clear();
    this.behind.clear();
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
      const next = BigInt(delivery.offset) + 1n;
      if (next > (this.appliedNext.get(k) ?? -1n)) this.appliedNext.set(k, next);
      if (next >= (this.behind.get(k)?.end ?? 0n)) this.behind.delete(k);
    }
  }

  lagMs(): number {
    const now = this.clock.now().getTime();
    let oldest = now;
    for (const at of this.applying.values()) oldest = Math.min(oldest, at);
    for (const [k, behind] of this.consumer?.partitionLag ?? []) {
      if (behind > 0 && this.newestApplied.has(k)) oldest = Math.min(oldest, this.newestApplied.get(k)!);
    }
    // The outbox and broker bounds are durations on the wall clock (the service clock may be a test clock).
    const wall = Date.now();
    let since = wall;
    for (const { since: at } of this.behind.values()) since = Math.min(since, at);
    for (const at of this.outboxSince.values()) since = Math.min(since, at);
    if (wall - this.lastBrokerAnswer > BLIND_AFTER_MS) since = Math.min(since, this.lastBrokerAnswer);
    return Math.max(0, now - oldest, wall - since);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.looking = Promise.all([this.lookAtBroker(), this.lookAtOutboxes()])
        .then(() => undefined)
        .finally(() => {
          this.looking = undefined;
          this.schedule();
        });
    }, WATCH_MS);
    this.timer.unref();
  }

  private async lookAtBroker(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    const look = Date.now();
    try {
      if (!this.admin) {
        const admin = this.kafka.admin();
        await admin.connect();
        this.admin = admin;
      }
      const topics = [...this.consumption.topics];
      const ends = new Map<string, bigint>();
      for (const topic of topics) for (const p of await this.admin.fetchTopicOffsets(topic)) ends.set(key({ topic, partition: p.partition }), BigInt(p.high));
      // Partitions this process has applied nothing of yet: what the group committed is where it stands.
      if ([...ends.keys()].some((k) => !this.appliedNext.has(k))) {
        for (const { topic, partitions } of await this.admin.fetchOffsets({ groupId: consumer.groupId, topics })) {
          for (const p of partitions) {
            const k = key({ topic, partition: p.partition });
            if (!this.appliedNext.has(k) && BigInt(p.offset) >= 0n) this.appliedNext.set(k, BigInt(p.offset));
          }
        }
      }
      if (consumer !== this.consumer) return;
      for (const [k, end] of ends) {
        if (end > (this.appliedNext.get(k) ?? 0n)) this.behind.set(k, { end, since: this.behind.get(k)?.since ?? this.lastLook });
        else this.behind.delete(k);
      }
      this.lastBrokerAnswer = Date.now();
    } catch (err) {
      this.logger.warn({ err }, 'cannot read the topics\' end offsets; the views count their lag from the last answer');
      await this.admin?.disconnect().catch(() => undefined);
      this.admin = undefined;
    } finally {
      this.lastLook = look;
    }
  }

  private async lookAtOutboxes(): Promise<void> {
    const { config } = this;
    const topics = new Set(this.consumption.topics);
    const owners = [config.AUTHORITY_URL, config.LICENSING_URL, config.ENROLLMENT_URL, config.DEVICE_SYNC_URL];
    await Promise.all(
      owners.map(async (owner) => {
        try {
          const res = await callService(`${owner.replace(/\/$/, '')}/internal/outbox`, { timeoutMs: 2000, signer: this.signer });
          if (!res.ok) throw new Error(`${res.status}`);
          const pending = (res.body as { pending: Record<string, { oldestAgeMs: number }> }).pending;
          const age = Math.max(0, ...Object.entries(pending).filter(([t]) => topics.has(t)).map(([, p]) => p.oldestAgeMs));
          if (age > 0) this.outboxSince.set(owner, Date.now() - age);
          else this.outboxSince.delete(owner);
        } catch {
          // An owner that cannot answer keeps what it said last: its outbox was empty, or still waits.
        }
      }),
    );
  }
}
