import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { EventDefinition, EventRegistry, TopicSpec, deadLetterTopic } from '@mdm/contracts/core';
import { Clock, SharedTestClock, systemClock } from '@mdm/platform/clock';
import { CommonConfig, commonConfigShape, loadConfig, port, productionSecrets } from '@mdm/platform/config';
import { Database, MigrationClass } from '@mdm/platform/database';
import { EventStore, EventStoreSchema1764200000000, outboxChannel } from '@mdm/platform/event-store';
import { ConsumerState, inboxMigrations } from '@mdm/platform/inbox';
import { CallSigner } from '@mdm/platform/http-client';
import { Kafka, Producer, createKafka, createReliableProducer, ensureTopics, kafkaReachable } from '@mdm/platform/kafka';
import { Logger, createLogger } from '@mdm/platform/logging';
import { OutboxRelay } from '@mdm/platform/outbox';
import { Consumption } from './consumption';
import { Metrics } from './metrics';
import { withTopicNamespace } from './topic-namespace';

/** What makes one service of the system: its name, its data, the events it speaks and the topics it uses. */
export interface ServiceDefinition<S extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  /** Environment variable holding the HTTP port, and its default. */
  portVariable: string;
  defaultPort: number;
  /** The Postgres schema the service owns (DB_SCHEMA overrides it, e.g. for tests). */
  schema: string;
  migrations: MigrationClass[];
  events: readonly EventDefinition[];
  produces: readonly TopicSpec[];
  /**
   * The topics the service reads. `ownConsumers`: the service runs its inbox consumers itself (the
   * projection runs one per view generation) instead of through Nest's @EventPattern transport.
   * `awaitedStreams`: the stream prefixes its read-your-writes waits on; other events no handler
   * takes are then ignored without a transaction (see InboxTransportOptions).
   */
  consumes?: {
    groupId: string;
    topics: readonly TopicSpec[];
    mode?: 'message' | 'batch';
    ownConsumers?: boolean;
    awaitedStreams?: readonly string[];
  };
  /** Settings of this service beyond the common ones. */
  config?: S;
  /**
   * Requests the service answers before Nest's routing and body parsing (after the request
   * context), handing the rest on with next(): the gateway's byte-for-byte pass-through of the
   * calls services answer. It may take providers from the application.
   */
  passThrough?(app: INestApplication, runtime: ServiceRuntime<S>): RequestHandler;
  /**
   * The service outside callers reach (the gateway): it authenticates them itself, and only its
   * /internal calls need a signed context. Every other service answers only signed calls.
   */
  edge?: boolean;
  /** The services whose read-your-writes ask this one for its published versions (none by default). */
  publishedVersionsReaders?: readonly string[];
  /** Settings of this service that hold secrets it refuses to start without in production. */
  productionSecrets?: readonly string[];
}

export type ServiceConfig<S extends z.ZodRawShape> = CommonConfig &
  z.infer<z.ZodObject<S>> & { port: number; schema: string; KAFKA_CONSUMER_GROUP?: string };

/** Time-driven rules a service runs when the clock moves (and periodically). */
export type Sweep = (now: Date) => Promise<unknown>;

/** The service's sweeps: added by the classes that own the rules, run when the clock moves (never two at once). */
export class Sweeps {
  private readonly sweeps: { name: string; run: Sweep }[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  add(name: string, run: Sweep): void {
    this.sweeps.push({ name, run });
  }

  /** Runs the due sweeps at the current time (after the test clock moved, or on a timer). */
  async run(): Promise<void> {
    while (this.running) await this.running;
    this.running = (async () => {
      const now = this.clock.now();
      for (const sweep of this.sweeps) {
        this.logger.debug({ sweep: sweep.name }, 'running sweep');
        await sweep.run(now);
      }
    })();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Waits for a run in progress, if any. */
  async settled(): Promise<void> {
    await this.running?.catch(() => undefined);
  }
}

/** Sweeps also run on this period, so time-driven rules hold without anyone advancing a clock. */
const SWEEP_PERIOD_MS = 60_000;

/** How long /health waits for one dependency before calling it down. */
const HEALTH_PROBE_MS = 2000;

/** GET /health (API.md): `status` and `checks` as the contract says, `reasons` when degraded. */
export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: { postgres: 'ok' | 'down'; kafka: 'ok' | 'down'; consumerLag: number; consumer?: ConsumerState };
  reasons?: string[];
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The live platform parts of one service process, created before Nest so that bad config fails fast. */
export class ServiceRuntime<S extends z.ZodRawShape = z.ZodRawShape> {
  readonly config: ServiceConfig<S>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly registry: EventRegistry;
  readonly db: Database;
  readonly clock: Clock;
  readonly store: EventStore;
  readonly kafka: Kafka;
  /** Only a service that produces events has a producer and an outbox relay (the gateway has neither). */
  readonly producer: Producer | undefined;
  readonly relay: OutboxRelay | undefined;
  /** Signs this service's calls to others and checks the calls it gets (MDM_GATEWAY_SIGNING_KEY). */
  readonly signer: CallSigner;
  readonly sweeps: Sweeps;
  /** What this instance consumes (its group: KAFKA_CONSUMER_GROUP, else the definition's); none when the service consumes nothing. */
  readonly consumption: Consumption | undefined;
  /** The topics it reads, and its dead-letter topic. */
  private readonly consumed: TopicSpec[] = [];
  private kafkaHealthy: { at: number; ok: boolean } | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  /** The service as it runs: its topics renamed when KAFKA_TOPIC_NAMESPACE is set. */
  readonly definition: ServiceDefinition<S>;

  constructor(definition: ServiceDefinition<S>, env: NodeJS.ProcessEnv = process.env) {
    const shape = {
      ...commonConfigShape,
      ...(definition.config ?? {}),
      [definition.portVariable]: port(definition.defaultPort),
      DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).default(definition.schema),
      ...(definition.consumes && { KAFKA_CONSUMER_GROUP: z.string().min(1).optional() }),
    };
    const required = env.NODE_ENV === 'production' ? [...productionSecrets, ...(definition.productionSecrets ?? [])] : [];
    const parsed = loadConfig(definition.name, shape, env, required) as Record<string, unknown>;
    this.config = { ...parsed, port: parsed[definition.portVariable], schema: parsed.DB_SCHEMA } as ServiceConfig<S>;
    const namespace = this.config.KAFKA_TOPIC_NAMESPACE;
    this.definition = namespace ? withTopicNamespace(definition, namespace) : definition;
    definition = this.definition;
    this.logger = createLogger(definition.name, this.config.LOG_LEVEL);
    this.metrics = new Metrics(definition.name);
    let signingKey = this.config.MDM_GATEWAY_SIGNING_KEY;
    if (!signingKey) {
      // Outside production only (required there): `npm start` and the test stacks give every service one key.
      signingKey = randomBytes(32).toString('base64url');
      this.logger.warn('MDM_GATEWAY_SIGNING_KEY unset: made a key for this process alone; no other service can call it, nor it them');
    }
    this.signer = new CallSigner(signingKey, definition.name);
    const { consumes } = definition;
    if (consumes) {
      const groupId = this.config.KAFKA_CONSUMER_GROUP ?? consumes.groupId;
      this.consumption = new Consumption(groupId, consumes.topics.map((t) => t.topic));
      this.consumed = [...consumes.topics, deadLetterTopic(groupId)];
    }
    this.registry = new EventRegistry(definition.events);
    // A copy topic of an event this service publishes is written by its relay: it must be created
    // at start like the event's own topic, or the copies would wait in the outbox for ever.
    const produced = new Set(definition.produces.map((t) => t.topic));
    for (const e of definition.events) {
      const missing = e.topic && produced.has(e.topic) ? (e.alsoOn ?? []).filter((t) => !produced.has(t)) : [];
      if (missing.length) throw new Error(`${definition.name}: ${e.type} is also published on ${missing.join(', ')}, which is not among its produced topics`);
    }
    this.db = new Database({
      url: this.config.DATABASE_URL,
      schema: this.config.schema,
      migrations: [EventStoreSchema1764200000000, ...inboxMigrations, ...definition.migrations],
      applicationName: definition.name,
      poolSize: this.config.DB_POOL_SIZE,
    });
    this.clock = this.config.MDM_TEST_CLOCK ? new SharedTestClock(this.db, this.config.MDM_CLOCK_SCHEMA) : systemClock;
    const channel = outboxChannel(this.config.schema);
    this.store = new EventStore(this.db, { registry: this.registry, clock: this.clock, outboxChannel: channel });
    this.kafka = createKafka({ clientId: definition.name, brokers: this.config.KAFKA_BROKERS, logger: this.logger });
    if (definition.produces.length > 0) {
      this.producer = createReliableProducer(this.kafka);
      this.relay = new OutboxRelay({
        clientConfig: this.db.clientConfig(),
        schema: this.config.schema,
        channel,
        producer: this.producer,
        logger: this.logger.child({ component: 'outbox' }),
        onPublished: (n) => this.metrics.outboxPublished.inc(n),
      });
    }
    this.sweeps = new Sweeps(this.clock, this.logger);
  }

  get testClock(): SharedTestClock | undefined {
    return this.clock instanceof SharedTestClock ? this.clock : undefined;
  }

  /** The consumer group (and inbox name) of this instance, if it consumes; tests give each instance its own. */
  get consumerGroup(): string | undefined {
    return this.consumption?.groupId;
  }

  /** Every topic the service writes or reads, and its dead-letter topic. */
  topics(): TopicSpec[] {
    return [...this.definition.produces, ...this.consumed];
  }

  /**
   * The name this instance uses for one of the system's topics: the declared one, which a test
   * stack may have renamed (mdm.x → mdm.<tag>.x) to keep its messages apart.
   */
  topicName(spec: TopicSpec): string {
    const suffix = spec.topic.replace(/^mdm\./, '.');
    const declared = this.topics().find((t) => t.topic === spec.topic || t.topic.endsWith(suffix));
    if (!declared) throw new Error(`${this.definition.name} does not declare the topic ${spec.topic}`);
    return declared.topic;
  }

  async start(): Promise<void> {
    const applied = await this.db.migrate();
    if (applied.length) this.logger.info({ migrations: applied }, 'migrations applied');
    await this.testClock?.sync();
    await ensureTopics(this.kafka, this.topics());
    await this.producer?.connect();
    this.relay?.start();
    this.sweepTimer = setInterval(() => {
      this.sweeps.run().catch((err) => this.logger.error({ err }, 'sweep failed'));
    }, SWEEP_PERIOD_MS).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.sweeps.settled();
    await this.relay?.stop();
    await this.producer?.disconnect().catch(() => undefined);
    await this.db.close();
  }

  /**
   * What /health answers: each dependency's state, and `reasons` saying why the service is degraded
   * (a dependency down, its consumer not in its group yet). Each probe is bounded, so /health
   * answers while a dependency hangs, and reflects recovery at the next call.
   */
  async health(consumer?: { lag: number; state?: ConsumerState; reason?: string }): Promise<HealthReport> {
    const [postgres, kafka] = await Promise.all([
      bounded(this.db.query('select 1'), HEALTH_PROBE_MS).then(
        () => undefined,
        (err: Error) => err.message || 'unreachable',
      ),
      this.kafkaUp().then((ok) => (ok ? undefined : 'unreachable')),
    ]);
    const reasons: string[] = [];
    if (postgres) reasons.push(`postgres: ${postgres}`);
    if (kafka) reasons.push(`kafka: ${kafka}`);
    if (consumer?.state && consumer.state !== 'joined') {
      reasons.push(`consumer: ${consumer.state === 'joining' ? 'joining its group' : 'stopped'}${consumer.reason ? ` (${consumer.reason})` : ''}`);
    }
    const checks: HealthReport['checks'] = { postgres: postgres ? 'down' : 'ok', kafka: kafka ? 'down' : 'ok', consumerLag: consumer?.lag ?? 0 };
    if (consumer?.state) checks.consumer = consumer.state;
    return { status: reasons.length ? 'degraded' : 'ok', checks, ...(reasons.length && { reasons }) };
  }

  /**
   * Kafka reachability, probed at most every 5 s while it is up (/health is polled often), every
   * second while it is down: health says so soon after the broker is back.
   */
  private async kafkaUp(): Promise<boolean> {
    const last = this.kafkaHealthy;
    if (last && Date.now() - last.at < (last.ok ? 5000 : 1000)) return last.ok;
    const ok = await kafkaReachable(this.kafka);
    this.kafkaHealthy = { at: Date.now(), ok };
    return ok;
  }
}
