import { EventContractError, EventEnvelope, EventHeaders, EventRegistry, deadLetterTopic } from '@mdm/contracts/core';
import { GroupCommit, Sql, unavailableDependency } from '@mdm/platform/database';
import { Consumer, ConsumerConfig, EachBatchPayload, GROUP_SESSION, Kafka, KafkaMessage, Producer, createReliableProducer } from '@mdm/platform/kafka';
import { LogContext, Logger, runWithContext } from '@mdm/platform/logging';
import { withRetries } from '@mdm/platform/retry';

export interface Delivery {
  topic: string;
  partition: number;
  offset: string;
}

export type EventHandler = (event: EventEnvelope, sql: Sql, delivery: Delivery) => Promise<void>;
export type BatchHandler = (events: { event: EventEnvelope; delivery: Delivery }[], sql: Sql) => Promise<void>;

/** How the consumer applies what it claimed: one event at a time, or a transaction's events at once. */
export type InboxHandler =
  | {
      /** Applies one event, in the event's log context. */
      handle: EventHandler;
      handleBatch?: never;
    }
  | {
      /** Applies a transaction's fresh events at once, in their order. */
      handleBatch: BatchHandler;
      handle?: never;
    };

export type InboxConsumerOptions = InboxConsumerSettings & InboxHandler;

export interface InboxConsumerSettings {
  kafka: Kafka;
  db: { transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> };
  /** Also the inbox's consumer name and the dead-letter topic's suffix. */
  groupId: string;
  topics: string[];
  registry: EventRegistry;
  logger: Logger;
  /**
   * 'batch': one transaction per Kafka batch (high-volume consumers); a batch that fails is
   * replayed message by message so that one bad event cannot hold back the others.
   */
  mode?: 'message' | 'batch';
  maxAttempts?: number;
  retryBackoffMs?: number;
  /** Partitions whose batches are taken at once (default: 8 in batch mode, else 1). */
  partitionsConsumedConcurrently?: number;
  /**
   * Batch mode: transactions applying batches at once (default 2: one's round trips overlap the
   * other's). Small batches of other partitions that arrive meanwhile are applied together in the
   * next transaction. Batches of different partitions hold different streams; should two
   * transactions still deadlock, Postgres breaks it and the loser runs again (GroupCommit).
   */
  transactionsInFlight?: number;
  fromBeginning?: boolean;
  /**
   * 'handler': the handler is idempotent by itself (per-stream version guards, as in a projection):
   * no inbox row and no read-your-writes bookkeeping, which is most of a high-volume consumer's writes.
   */
  dedup?: 'inbox' | 'handler';
  /** kafkajs fetch sizes: bigger batches for a consumer that replays history (fewer, larger transactions). */
  fetch?: Pick<ConsumerConfig, 'maxBytesPerPartition' | 'maxBytes' | 'minBytes' | 'maxWaitTimeInMs'>;
  /**
   * How long an applied event's id is kept. Redeliveries come from offsets not yet committed and from
   * a relay that published twice, minutes apart at worst; a week covers them with room to spare.
   */
  dedupWindowMs?: number;
  /**
   * Events this consumer may leave out entirely, told by their type and stream (the message's
   * event-type header and key): acknowledged without being parsed, with no transaction, no inbox row
   * and no read-your-writes bookkeeping (a check-in's events cost a service that wants renewals only nothing).
   */
  ignores?: (event: { type: string; streamId: string }) => boolean;
}

/** The context of work done for an event: its tenant and correlation, caused by it. */
export function eventContext(event: EventEnvelope): Required<LogContext> {
  return { correlationId: event.correlationId, tenantId: event.tenantId, causationId: event.eventId };
}

/** Runs `fn` in the event's log context: what it logs, and what it appends, carries the event's correlation id. */
export function inEventContext<T>(event: EventEnvelope, fn: () => Promise<T>): Promise<T> {
  return runWithContext(eventContext(event), fn);
}

/**
 * The context events share: each field all their contexts agree on (the answers to one change share
 * its tenant and correlation); the others unset, so that none names one event (or an outer context's)
 * for all of them.
 */
export function sharedContext(events: readonly EventEnvelope[]): LogContext {
  const contexts = events.map(eventContext);
  const agreed = (key: keyof LogContext) => (contexts.every((c) => c[key] === contexts[0][key]) ? contexts[0]?.[key] : undefined);
  return { correlationId: agreed('correlationId'), tenantId: agreed('tenantId'), causationId: agreed('causationId') };
}

const PRUNE_EVERY_MS = 10 * 60_000;
/** The longest pause between tries of an event while a dependency is unreachable. */
const OUTAGE_RETRY_MAX_MS = 1_000;
/** How long stop() lets a join under way finish before it disconnects. */
const STOP_JOIN_WAIT_MS = 3_000;
/**
 * How long the broker holds an idle fetch. kafkajs heartbeats between fetches, and the broker
 * answers a connection's requests in turn, so an idle member heartbeats about this often: within
 * its session (GROUP_SESSION).
 */
const IDLE_FETCH_WAIT_MS = 1_000;

/** 'joining': connected, waiting for partitions (also during a rebalance or after a crash). */
export type ConsumerState = 'joining' | 'joined' | 'stopped';
/**
 * Offsets are committed this often, not after every batch: a commit is a request to the broker and
 * a write to its offsets log, and batches come many times a second. Offsets only ever trail the
 * inbox, so what a crash leaves uncommitted is delivered again and absorbed as a duplicate.
 */
const COMMIT_EVERY_MS = 500;

interface Decoded {
  message: KafkaMessage;
  delivery: Delivery;
  event?: EventEnvelope;
  error?: EventContractError;
}

/**
 * An idempotent consumer: the event id goes into the inbox in the same transaction as the
 * handler's writes, so a redelivery is a no-op; offsets are committed only after that transaction.
 * Events that cannot be decoded, or keep failing after bounded retries, go to the group's
 * dead-letter topic with the reason, and the partition moves on.
 */
export class InboxConsumer {
  private consumer: Consumer | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private dlqProducer: Producer | undefined;
  private readonly lagByPartition = new Map<string, number>();
  /** The batches being applied now (stop waits for them before its last commit). */
  private readonly batchesInFlight = new Set<Promise<void>>();
  /** The next offset to commit per `topic:partition`, for what was applied since the last commit. */
  private readonly toCommit = new Map<string, { topic: string; partition: number; offset: string }>();
  private commitTimer: NodeJS.Timeout | undefined;
  private state: ConsumerState = 'stopped';
  private stateReason: string | undefined;
  private joined: Promise<void> = Promise.resolve();
  private running: Promise<void> = Promise.resolve();
  /** Counts since start: messages received, events applied, duplicates absorbed, messages dead-lettered. */
  readonly stats = { received: 0, ignored: 0, applied: 0, duplicates: 0, deadLettered: 0 };
  readonly deadLetterTopic: string;
  /**
   * Batch mode's transactions. On this machine a round trip to Postgres costs more than the
   * statements it carries, and a fetch hands over small batches of many partitions at once: one
   * transaction for all of them instead of one each.
   */
  private readonly transactions: GroupCommit<Decoded[], void>;

  /** The fresh events of a transaction, applied: by handleBatch, or one by one by handle. */
  private readonly apply: BatchHandler;

  constructor(private readonly options: InboxConsumerOptions) {
    const { handle, handleBatch } = options;
    this.apply =
      handleBatch ??
      (async (items, sql) => {
        for (const { event, delivery } of items) await inEventContext(event, () => handle!(event, sql, delivery));
      });
    this.deadLetterTopic = deadLetterTopic(options.groupId).topic;
    this.transactions = new GroupCommit((batches) => this.applyTogether(batches), {
      maxBatch: 64,
      // Small batches (a live stream) gather; long ones (a replay) are applied apart, which lets
      // kafkajs read ahead meanwhile.
      weight: (batch) => batch.length,
      maxWeight: 200,
      concurrency: options.transactionsInFlight ?? 2,
    });
  }

  get groupId(): string {
    return this.options.groupId;
  }

  /** Messages behind the newest offset of each partition (`topic:partition`) this member has fetched from. */
  get partitionLag(): ReadonlyMap<string, number> {
    return this.lagByPartition;
  }

  /** Messages behind the newest offset, summed over the partitions this member consumes. */
  get lag(): number {
    let total = 0;
    for (const v of this.lagByPartition.values()) total += v;
    return total;
  }

  /** Where this member stands in its group (for /health), and why when it is not consuming. */
  get membership(): { state: ConsumerState; reason?: string } {
    return { state: this.state, ...(this.stateReason && { reason: this.stateReason }) };
  }

  /** Resolves once the consumer has joined its group and been given partitions (start() does not wait for it). */
  whenJoined(): Promise<void> {
    return this.joined;
  }

  /**
   * Connects and subscribes, and resolves while the consumer joins its group in the background: a
   * restarted service serves (and says in /health that its consumer is joining) while the group
   * waits for the dead member's session to expire.
   */
  async start(): Promise<void> {
    const { kafka, groupId, topics } = this.options;
    this.dlqProducer = createReliableProducer(kafka);
    await this.dlqProducer.connect();
    const consumer = kafka.consumer({
      groupId,
      ...GROUP_SESSION,
      maxWaitTimeInMs: IDLE_FETCH_WAIT_MS,
      rebalanceTimeout: 30_000,
      allowAutoTopicCreation: false,
      // Waits out a broker outage (a restart takes seconds to tens of seconds) as the same member,
      // instead of crashing and rejoining as a new one that waits for the old one's session.
      retry: { initialRetryTime: 300, maxRetryTime: 2_000, retries: 90 },
      ...this.options.fetch,
    });
    this.consumer = consumer;
    let joined!: () => void;
    this.joined = new Promise<void>((resolve) => (joined = resolve));
    this.state = 'joining';
    this.stateReason = undefined;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Partitions given to another member are theirs to commit from now on.
      for (const [key, { topic, partition }] of this.toCommit) {
        if (!payload.memberAssignment[topic]?.includes(partition)) this.toCommit.delete(key);
      }
      this.state = 'joined';
      this.stateReason = undefined;
      joined();
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.state = 'joining';
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.state = payload.restart ? 'joining' : 'stopped';
      this.stateReason = `crashed (${payload.error.message})${payload.restart ? '; restarting' : ''}`;
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: this.options.fromBeginning ?? true });
    // run() resolves once joined; its failures go to kafkajs's crash handling (CRASH above).
    this.running = consumer
      .run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? (this.options.mode === 'batch' ? 8 : 1),
        eachBatch: (payload) => this.tracked(this.onBatch(payload)),
      })
      .catch((err) => {
        this.state = 'stopped';
        this.stateReason = `could not run (${(err as Error).message})`;
        this.options.logger.error({ err }, 'consumer could not run');
      });
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    this.commitTimer = setInterval(() => void this.commit(), COMMIT_EVERY_MS);
    this.commitTimer.unref();
  }

  /** Stops fetching: what is being applied finishes, nothing more is taken until `resume` (slowing a consumer down). */
  pause(): void {
    this.consumer?.pause(this.options.topics.map((topic) => ({ topic })));
  }

  resume(): void {
    this.consumer?.resume(this.options.topics.map((topic) => ({ topic })));
  }

  /** Commits the offsets of what was applied since the last commit; a failure is retried at the next tick. */
  private async commit(): Promise<void> {
    if (this.toCommit.size === 0 || !this.consumer) return;
    const offsets = [...this.toCommit.values()];
    this.toCommit.clear();
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (err) {
      for (const o of offsets) {
        const key = `${o.topic}:${o.partition}`;
        if (!this.toCommit.has(key)) this.toCommit.set(key, o);
      }
      this.options.logger.debug({ err }, 'offset commit failed; retrying');
    }
  }

  /** Forgets the ids this consumer applied longer ago than the dedup window. */
  async prune(): Promise<number> {
    const windowMs = this.options.dedupWindowMs ?? 7 * 24 * 3600_000;
    try {
      return await this.options.db.transaction(async (sql) => {
        const rows = await sql.query(
          `with gone as (delete from inbox where consumer = $1 and received_at < now() - make_interval(secs => $2) returning 1)
           select count(*)::int n from gone`,
          [this.options.groupId, windowMs / 1000],
        );
        return (rows[0] as { n: number }).n;
      });
    } catch (err) {
      this.options.logger.warn({ err }, 'inbox pruning failed; it runs again later');
      return 0;
    }
  }

  /** Commits what was applied and leaves the group (its partitions move at once, no session to wait out). */
  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    clearInterval(this.commitTimer);
    // Nothing new is taken; the batches being applied finish, so that their offsets are committed
    // too (a commit before them left the last batch to be redelivered after a restart).
    try {
      this.pause();
    } catch {
      // Not running (yet): there is nothing to pause.
    }
    // A batch of a fetch already under way may begin after the pause: wait until none is running.
    while (this.batchesInFlight.size > 0) await Promise.allSettled([...this.batchesInFlight]);
    // A failed last commit (the coordinator moving) is tried again before leaving the group: an
    // offset left uncommitted is redelivered to whoever takes the partition.
    await withRetries({ retries: 3, backoff: { initialMs: 200, maxMs: 200 }, retryAnswer: () => this.toCommit.size > 0 }, () => this.commit());
    this.state = 'stopped';
    // Disconnecting while run() is between its join and its first fetch leaves kafkajs fetching on a
    // closed client and restarting itself: let a join under way finish first, briefly.
    await Promise.race([this.running, new Promise((r) => setTimeout(r, STOP_JOIN_WAIT_MS).unref())]);
    await this.consumer?.disconnect();
    await this.dlqProducer?.disconnect();
    this.consumer = undefined;
    this.dlqProducer = undefined;
  }

  private tracked(batch: Promise<void>): Promise<void> {
    this.batchesInFlight.add(batch);
    return batch.finally(() => this.batchesInFlight.delete(batch));
  }

  /** A batch applied: kafkajs heartbeats only between batches, so one that takes long heartbeats meanwhile. */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    // A failed heartbeat (a rebalance under way) is seen again by the one that ends the batch.
    const beating = setInterval(() => void payload.heartbeat().catch(() => undefined), GROUP_SESSION.heartbeatInterval);
    try {
      await this.applyBatch(payload);
    } finally {
      clearInterval(beating);
    }
  }

  private async applyBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    this.stats.received += batch.messages.length;
    const wanted = batch.messages.filter((message) => !this.ignored(message));
    this.stats.ignored += batch.messages.length - wanted.length;
    const decoded = new Map(wanted.map((message) => [message, this.decode(batch.topic, batch.partition, message)]));

    let applied: string | undefined;
    const done = (offset: string) => {
      resolveOffset(offset);
      applied = offset;
    };
    if (decoded.size === 0 || (this.options.mode === 'batch' && (await this.tryBatch([...decoded.values()])))) {
      for (const message of batch.messages) done(message.offset);
    } else {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        const d = decoded.get(message);
        if (d) await this.processOne(d, heartbeat, isRunning);
        done(message.offset);
      }
    }
    const { topic, partition } = batch;
    if (applied !== undefined) this.toCommit.set(`${topic}:${partition}`, { topic, partition, offset: String(BigInt(applied) + 1n) });
    const last = Number(batch.lastOffset());
    this.lagByPartition.set(`${topic}:${partition}`, Math.max(0, Number(batch.highWatermark) - last - 1));
    await heartbeat();
  }

  private ignored(message: KafkaMessage): boolean {
    const type = message.headers?.[EventHeaders.type]?.toString();
    const streamId = message.key?.toString();
    return !!this.options.ignores && type !== undefined && streamId !== undefined && this.options.ignores({ type, streamId });
  }

  private decode(topic: string, partition: number, message: KafkaMessage): Decoded {
    const delivery = { topic, partition, offset: message.offset };
    try {
      return { message, delivery, event: this.options.registry.decode(message.value) };
    } catch (err) {
      if (err instanceof EventContractError) return { message, delivery, error: err };
      throw err;
    }
  }

  /**
   * The batch in one transaction, with the batches of other partitions waiting at the same time;
   * false when it failed and must be replayed one by one.
   */
  private async tryBatch(decoded: Decoded[]): Promise<boolean> {
    const valid = decoded.filter((d) => d.event);
    if (valid.length === 0) {
      for (const d of decoded) await this.deadLetter(d, d.error!.message);
      return true;
    }
    try {
      await this.transactions.submit(valid);
    } catch (err) {
      this.options.logger.warn({ err, count: decoded.length }, 'batch failed; replaying it message by message');
      return false;
    }
    for (const d of decoded) if (d.error) await this.deadLetter(d, d.error.message);
    return true;
  }

  /** Several partitions' batches in one transaction; a failure reruns them whole or apart (GroupCommit). */
  private async applyTogether(batches: Decoded[][]): Promise<void[]> {
    const all = batches.flat();
    const applied = await this.options.db.transaction(async (sql) => {
      const fresh = await this.claim(sql, all);
      await this.apply(
        fresh.map((d) => ({ event: d.event!, delivery: d.delivery })),
        sql,
      );
      return fresh.length;
    });
    this.stats.applied += applied;
    this.stats.duplicates += all.length - applied;
    return batches.map(() => undefined);
  }

  /**
   * One event in a transaction of its own, retried a bounded number of times before it is
   * dead-lettered. A failure because Postgres (or the broker) is unreachable says nothing about the
   * event: it is retried, uncounted, for as long as the outage lasts and the consumer runs.
   */
  private async processOne(d: Decoded, heartbeat: () => Promise<void>, isRunning: () => boolean): Promise<void> {
    if (!d.event) return this.deadLetter(d, d.error!.message);
    const event = d.event;
    const maxAttempts = this.options.maxAttempts ?? 5;
    const backoffMs = this.options.retryBackoffMs ?? 100;
    const once = () =>
      this.options.db.transaction(async (sql) => {
        const [fresh] = await this.claim(sql, [d]);
        if (!fresh) return false;
        await this.apply([{ event, delivery: d.delivery }], sql);
        return true;
      });
    // Through an outage: uncounted tries while the consumer runs; stopping, the offset stays uncommitted and the event comes again.
    const throughOutages = () =>
      withRetries(
        {
          retries: Infinity,
          backoff: { initialMs: 2 * backoffMs, maxMs: OUTAGE_RETRY_MAX_MS },
          retryError: (err) => unavailableDependency(err) !== undefined && isRunning(),
          onRetry: ({ attempt, error }) => {
            if (attempt === 1) this.options.logger.warn({ err: error, dependency: unavailableDependency(error), eventId: event.eventId }, 'dependency unavailable; waiting for it');
          },
          beforeRetry: () => heartbeat().catch(() => undefined),
        },
        once,
      );
    // The handler's own failures: counted; the last one, or one the event's contract refuses, dead-letters the event.
    const outcome = await withRetries<{ applied: boolean } | { failure: Error; attempt: number }>(
      {
        retries: maxAttempts - 1,
        backoff: { initialMs: backoffMs, maxMs: Infinity },
        retryAnswer: (r) => 'failure' in r && !(r.failure instanceof EventContractError),
        onRetry: ({ answer }) => {
          if (answer && 'failure' in answer) this.options.logger.warn({ err: answer.failure, eventId: event.eventId, attempt: answer.attempt }, 'event handler failed; retrying');
        },
        beforeRetry: heartbeat,
      },
      (attempt) =>
        throughOutages().then(
          (applied) => ({ applied }),
          (err) => (unavailableDependency(err) ? Promise.reject(err) : { failure: err as Error, attempt }),
        ),
    );
    if ('failure' in outcome) {
      const permanent = outcome.failure instanceof EventContractError;
      return this.deadLetter(d, `${permanent ? 'invalid' : `failed ${outcome.attempt} times`}: ${outcome.failure.message}`);
    }
    if (outcome.applied) this.stats.applied++;
    else this.stats.duplicates++;
  }

  /** Records the events in the inbox; returns those not seen before, in their order. */
  private async claim(sql: Sql, items: Decoded[]): Promise<Decoded[]> {
    if (this.options.dedup === 'handler') return items;
    const byStream = new Map<string, EventEnvelope>();
    for (const d of items) {
      const e = d.event!;
      if ((byStream.get(e.streamId)?.streamVersion ?? 0) < e.streamVersion) byStream.set(e.streamId, e);
    }
    // In stream order: two transactions that upsert the same streams (a rebuild beside the live
    // consumer, partitions applied at once) then lock them in the same order and cannot deadlock.
    const latest = new Map([...byStream].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    // One statement, one round trip: the inbox rows and the read-your-writes bookkeeping.
    const rows = await sql.query<{ event_id: string }>(
      `with i as (
         insert into inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
         select $1, * from unnest($2::uuid[], $3::text[], $4::int[], $5::bigint[])
         on conflict do nothing returning event_id),
       c as (
         insert into consumed_streams (stream_id, tenant_id, version)
         select * from unnest($6::text[], $7::uuid[], $8::bigint[])
         on conflict (stream_id) do update
           set version = greatest(consumed_streams.version, excluded.version), updated_at = now()
         returning 1)
       select event_id from i`,
      [
        this.options.groupId,
        items.map((d) => d.event!.eventId),
        items.map((d) => d.delivery.topic),
        items.map((d) => d.delivery.partition),
        items.map((d) => d.delivery.offset),
        [...latest.keys()],
        [...latest.values()].map((e) => e.tenantId),
        [...latest.values()].map((e) => e.streamVersion),
      ],
    );
    const fresh = new Set(rows.map((r) => r.event_id));
    // The same event twice in one batch (a relay re-send) is claimed once: keep its first copy.
    return items.filter((d) => fresh.delete(d.event!.eventId));
  }

  private async deadLetter(d: Decoded, reason: string): Promise<void> {
    this.stats.deadLettered++;
    this.options.logger.error(
      { topic: d.delivery.topic, partition: d.delivery.partition, offset: d.delivery.offset, reason },
      'event sent to the dead-letter topic',
    );
    await this.dlqProducer!.send({
      topic: this.deadLetterTopic,
      acks: -1,
      messages: [
        {
          key: d.message.key,
          value: d.message.value,
          headers: {
            ...d.message.headers,
            'dlq-reason': reason,
            'dlq-topic': d.delivery.topic,
            'dlq-partition': String(d.delivery.partition),
            'dlq-offset': d.delivery.offset,
            'dlq-consumer-group': this.options.groupId,
          },
        },
      ],
    });
  }
}
