import { BrokenCircuitError, BulkheadPolicy, BulkheadRejectedError, CircuitBreakerPolicy, ConsecutiveBreaker, bulkhead, circuitBreaker, handleWhenResult } from 'cockatiel';
import { Counter, Histogram, Registry } from 'prom-client';
import { Platform, PushProviderName, pushProviderOf } from '@mdm/contracts/authority';
import { TopicSpec, deadLetterTopic } from '@mdm/contracts/core';
import { DeviceNotification, deviceNotificationSchema } from '@mdm/contracts/device-sync';
import { Clock } from '@mdm/platform/clock';
import { Sql } from '@mdm/platform/database';
import { Consumer, EachBatchPayload, GROUP_SESSION, Kafka, KafkaMessage, Producer, ensureTopics } from '@mdm/platform/kafka';
import { Logger } from '@mdm/platform/logging';
import { PushOutcome, PushProvider } from './push-provider';
import { PushProviders } from './push-providers';
import { PushTokens } from './push-tokens';

const DROP_WARNING_EVERY_MS = 10_000;

/** Per provider: pushes sent, failed (by why), and how long each took, retries included. */
export class PushMetrics {
  readonly sent: Counter<'provider'>;
  readonly failed: Counter<'provider' | 'reason'>;
  readonly latency: Histogram<'provider' | 'outcome'>;

  constructor(registry: Registry) {
    this.sent = new Counter({ name: 'push_sent_total', help: 'Pushes the provider accepted', labelNames: ['provider'], registers: [registry] });
    this.failed = new Counter({
      name: 'push_failed_total',
      help: 'Pushes not delivered: unregistered (the token was cleared), error (refused, or down after the retries), unavailable (the provider kept failing: not tried), overloaded (dropped)',
      labelNames: ['provider', 'reason'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'push_latency_seconds',
      help: 'Time from taking a push to its outcome, retries included',
      labelNames: ['provider', 'outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
  }
}

export interface PushDispatcherDeps {
  kafka: Kafka;
  /** Publishes what cannot be read to the dispatcher's dead-letter topic. */
  producer: Producer;
  db: Sql;
  clock: Clock;
  logger: Logger;
  providers: PushProviders;
  tokens: PushTokens;
  metrics: PushMetrics;
  /** mdm.device.notifications, as this instance names it. */
  topic: string;
  groupId: string;
  /** Pushes in flight per provider, and how many may wait beyond them. */
  concurrency: number;
  queue: number;
  /**
   * Where a group with no committed offsets starts: by default at the end (a week of old
   * notifications is no reason to wake devices now); a test on a fresh topic starts at the beginning,
   * so that nothing it produces right after the join can fall before the group's first offset.
   */
  fromBeginning?: boolean;
  /** A provider that failed this many pushes in a row (after their retries) is not tried for a while. */
  breaker?: { failures: number; halfOpenAfterMs: number };
}

const DEFAULT_BREAKER = { failures: 10, halfOpenAfterMs: 30_000 };

/** A push that failed because the provider is unreachable, overloaded or broken, not because of this push. */
const providerTrouble = (result: unknown) => {
  const o = result as PushOutcome;
  return o.outcome === 'failed' && (o.status === undefined || o.status === 429 || o.status >= 500);
};

interface Target {
  notification: DeviceNotification;
  platform: Platform;
  token: string;
}

/**
 * R16: sends each check-in notification through the device's push provider. A consumer group of its
 * own on mdm.device.notifications: the fan-out and the long poll never wait for it (they are done
 * when the notification is committed), and its replicas share the topic's partitions among
 * themselves whatever the rest of device-sync does.
 *
 * A batch's notifications are claimed in one statement (`pushed_at`, with each device's token and
 * platform): a redelivered message, or one another replica took, is not pushed twice; a crash after
 * the claim loses that push (at most once: the device still has its long poll and its schedule,
 * R18). Sends go through a bulkhead per provider (bounded concurrency and queue) and are not waited
 * for: a provider that is down holds its own slots, never the consumer or the other providers; past
 * its queue, pushes are dropped and counted. A provider that keeps failing (network errors, 429, 5xx
 * after the retries) trips its circuit breaker: its pushes fail at once until a trial push succeeds.
 */
export class PushDispatcher {
  private consumer: Consumer | undefined;
  private readonly bulkheads = new Map<PushProviderName, BulkheadPolicy>();
  private readonly breakers = new Map<PushProviderName, CircuitBreakerPolicy>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly drops = new Map<PushProviderName, { count: number; warnedAt: number }>();
  private readonly deadLetters: TopicSpec;

  constructor(private readonly deps: PushDispatcherDeps) {
    const { failures, halfOpenAfterMs } = deps.breaker ?? DEFAULT_BREAKER;
    for (const p of deps.providers.all) {
      this.bulkheads.set(p.name, bulkhead(deps.concurrency, deps.queue));
      const breaker = circuitBreaker(handleWhenResult(providerTrouble), { halfOpenAfter: halfOpenAfterMs, breaker: new ConsecutiveBreaker(failures) });
      breaker.onBreak(() => deps.logger.warn({ provider: p.name, failures, retryInMs: halfOpenAfterMs }, 'push provider unavailable: its pushes fail at once for a while'));
      breaker.onReset(() => deps.logger.info({ provider: p.name }, 'push provider available again'));
      this.breakers.set(p.name, breaker);
    }
    this.deadLetters = deadLetterTopic(deps.groupId);
  }

  get groupId(): string {
    return this.deps.groupId;
  }

  /** Resolves once the consumer has joined its group. */
  async start(): Promise<void> {
    const { kafka, groupId, topic, logger } = this.deps;
    await ensureTopics(kafka, [this.deadLetters]);
    // The start of a restarted device-sync waits for this join, which waits out the killed member's session.
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, ...GROUP_SESSION, maxWaitTimeInMs: 100 });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: this.deps.fromBeginning ?? false });
    await consumer.run({ partitionsConsumedConcurrently: 4, eachBatch: (payload) => this.onBatch(payload) });
    await joined;
    logger.info({ providers: this.deps.providers.all.map((p) => p.name) }, 'push dispatcher started');
  }

  /** Leaves the group, then waits (bounded) for the pushes under way. */
  async stop(waitMs = 5_000): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
    const settled = Promise.allSettled([...this.inFlight]);
    await Promise.race([settled, new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  private async onBatch({ batch }: EachBatchPayload): Promise<void> {
    const notifications: DeviceNotification[] = [];
    for (const message of batch.messages) {
      const parsed = decode(message);
      if (parsed.ok) notifications.push(parsed.notification);
      else await this.deadLetter(batch.topic, batch.partition, message, parsed.reason);
    }
    if (notifications.length === 0) return;
    for (const target of await this.claim(notifications)) this.dispatch(target);
  }

  /**
   * Marks the batch's notifications taken and answers those with somewhere to go: an active device
   * with a token whose provider this process has. Others are left as they are. A row a long poll is
   * handing out at this moment is waited for, not skipped: its push is due all the same.
   */
  private async claim(notifications: DeviceNotification[]): Promise<Target[]> {
    const platforms = (['ios', 'ipados', 'macos', 'android', 'windows'] as Platform[]).filter((p) => this.bulkheads.has(pushProviderOf(p)));
    const byId = new Map(notifications.map((n) => [n.notificationId, n]));
    const rows = await this.deps.db.query<{ notification_id: string; platform: Platform; push_token: string }>(
      `with targets as (
         select n.notification_id, d.platform, d.push_token
           from notifications n join devices d on d.device_id = n.device_id
          where n.notification_id = any($1::uuid[]) and n.pushed_at is null
            and d.status = 'active' and d.push_token is not null and d.platform = any($3::text[])
          for update of n),
       claimed as (
         update notifications n set pushed_at = $2 from targets t where n.notification_id = t.notification_id
         returning n.notification_id)
       select t.* from targets t join claimed using (notification_id)`,
      [[...byId.keys()], this.deps.clock.now(), platforms],
    );
    return rows.map((r) => ({ notification: byId.get(r.notification_id)!, platform: r.platform, token: r.push_token }));
  }

  private dispatch(target: Target): void {
    const provider = this.deps.providers.get(pushProviderOf(target.platform))!;
    const run = this.bulkheads
      .get(provider.name)!
      .execute(() => this.push(provider, target))
      .catch((err: unknown) => {
        if (err instanceof BulkheadRejectedError) return this.dropped(provider.name);
        this.deps.metrics.failed.inc({ provider: provider.name, reason: 'error' });
        this.log(target).warn({ err, provider: provider.name }, 'push failed');
      })
      .finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  private async push(provider: PushProvider, { notification, token }: Target): Promise<void> {
    const { metrics } = this.deps;
    const timer = metrics.latency.startTimer({ provider: provider.name });
    let outcome: PushOutcome;
    try {
      outcome = await this.breakers.get(provider.name)!.execute(() => provider.send(token, notification));
    } catch (err) {
      if (!(err instanceof BrokenCircuitError)) throw err;
      timer({ outcome: 'unavailable' });
      metrics.failed.inc({ provider: provider.name, reason: 'unavailable' });
      return;
    }
    timer({ outcome: outcome.outcome });
    const log = this.log({ notification });
    if (outcome.outcome === 'sent') {
      metrics.sent.inc({ provider: provider.name });
      log.debug({ provider: provider.name, attempts: outcome.attempts }, 'push sent');
      return;
    }
    if (outcome.outcome === 'failed') {
      metrics.failed.inc({ provider: provider.name, reason: 'error' });
      log.warn({ provider: provider.name, attempts: outcome.attempts, status: outcome.status, error: outcome.error }, 'push failed');
      return;
    }
    metrics.failed.inc({ provider: provider.name, reason: 'unregistered' });
    const cleared = await this.deps.tokens.clear(notification.deviceId, token, provider.name, outcome.status);
    log.info({ provider: provider.name, status: outcome.status, cleared }, 'the provider no longer knows the push token');
  }

  /**
   * A push its provider's queue had no room for. A fan-out to a fleet while a provider is down drops
   * thousands at once: one warning per provider every 10 seconds says how many, the metric counts each.
   */
  private dropped(provider: PushProviderName): void {
    this.deps.metrics.failed.inc({ provider, reason: 'overloaded' });
    const drops = this.drops.get(provider) ?? { count: 0, warnedAt: 0 };
    drops.count++;
    this.drops.set(provider, drops);
    if (Date.now() - drops.warnedAt < DROP_WARNING_EVERY_MS) return;
    this.deps.logger.warn({ provider, dropped: drops.count }, 'pushes dropped: the provider is too far behind (the long poll and the schedule remain)');
    drops.count = 0;
    drops.warnedAt = Date.now();
  }

  private log({ notification }: { notification: DeviceNotification }): Logger {
    return this.deps.logger.child({ tenantId: notification.tenantId, deviceId: notification.deviceId, notificationId: notification.notificationId });
  }

  private async deadLetter(topic: string, partition: number, message: KafkaMessage, reason: string): Promise<void> {
    this.deps.logger.error({ topic, partition, offset: message.offset, reason }, 'unreadable notification sent to the dead-letter topic');
    await this.deps.producer.send({
      topic: this.deadLetters.topic,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: { 'dlq-reason': reason, 'dlq-topic': topic, 'dlq-partition': String(partition), 'dlq-offset': message.offset, 'dlq-consumer-group': this.deps.groupId },
        },
      ],
    });
  }
}

function decode(message: KafkaMessage): { ok: true; notification: DeviceNotification } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(message.value?.toString() ?? '');
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = deviceNotificationSchema.safeParse(json);
  return parsed.success ? { ok: true, notification: parsed.data } : { ok: false, reason: `invalid: ${parsed.error.message}` };
}
