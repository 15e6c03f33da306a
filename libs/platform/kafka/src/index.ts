import { Admin, Kafka, KafkaConfig, logLevel, Partitioners, Producer } from 'kafkajs';
import './request-queue-patch';
import { TopicSpec } from '@mdm/contracts/core';
import { Logger } from '@mdm/platform/logging';
import { withRetries } from '@mdm/platform/retry';

// The only module that imports kafkajs: a client swap touches this library alone.
export type { Consumer, ConsumerConfig, EachBatchPayload, EachMessagePayload, Kafka, KafkaMessage, Producer } from 'kafkajs';

export interface KafkaOptions {
  clientId: string;
  brokers: string[];
  logger: Logger;
}

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs warns at every start that bounded retries weaken an idempotent producer's exactly-once
 * guarantee. We bound them on purpose: a send that keeps failing surfaces as an error and is
 * retried by the relay, and exactly-once effects rest on the outbox and the inboxes, not on the producer.
 */
const BOUNDED_RETRIES_WARNING = 'Limiting retries for the idempotent producer';

/**
 * A client that logs nothing, for test harnesses and tools: through this library, so that its
 * connections have the request-queue patch (a bare kafkajs client warns TimeoutNegativeWarning).
 */
export function quietKafka(config: Omit<KafkaConfig, 'logLevel' | 'logCreator'>): Kafka {
  return new Kafka({ ...config, logLevel: logLevel.NOTHING });
}

export function createKafka({ clientId, brokers, logger }: KafkaOptions): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3000,
    // About a minute of retries, at most 2 s apart: a broker restart (tens of seconds) is waited out
    // by the same connections and consumer-group members, which resume within 2 s of its return. A
    // consumer whose retries ran out would rejoin as a new member and wait for the old one's session.
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        if (message.startsWith(BOUNDED_RETRIES_WARNING)) return;
        log[levels[level] ?? 'info'](rest, message);
      },
  });
}

/**
 * Every consumer group member's session. The session timeout is the broker's smallest by default
 * (group.min.session.timeout.ms): a member killed without leaving holds its partitions this long,
 * so it bounds how soon a restarted service's consumers work again. A live member heartbeats every
 * second, well within it.
 */
export const GROUP_SESSION = { sessionTimeout: 6_000, heartbeatInterval: 1_000 } as const;

/**
 * The producer the outbox relay uses: idempotent, acks from every in-sync replica, one request in
 * flight so a retry cannot reorder a key's messages. Never auto-creates topics.
 */
export function createReliableProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner, // Java-compatible murmur2: same key, same partition as other clients
  });
}

/** How long a service waits at start-up for topics it just created to have their partitions' leaders. */
const TOPICS_READY_MS = 30_000;

/**
 * Creates the declared topics that are missing; existing topics must have the declared partition
 * count. Services and replicas starting at the same time may create the same topic: one wins, the
 * others see it exists, which is what they wanted.
 */
export async function ensureTopics(kafka: Kafka, specs: readonly TopicSpec[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = dedupe(specs).filter((s) => !existing.has(s.topic));
    if (missing.length) {
      // kafkajs's own wait for leaders gives up when the broker does not know a topic it has just
      // created yet (UNKNOWN_TOPIC_OR_PARTITION, seen on a loaded machine): topicsReady waits instead.
      await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          replicationFactor: -1, // the broker's default.replication.factor
          configEntries: [{ name: 'retention.ms', value: String(s.retentionMs) }],
        })),
      });
    }
    await topicsReady(admin, specs);
  } finally {
    await admin.disconnect();
  }
}

/** Waits until every topic is known with a leader for each partition; a wrong partition count fails at once. */
async function topicsReady(admin: Admin, specs: readonly TopicSpec[], withinMs = TOPICS_READY_MS): Promise<void> {
  const retriable = (err: unknown) => (err as { retriable?: boolean }).retriable === true;
  const notReady = (why: string) => new Error(`topics not ready within ${withinMs / 1000} s: ${why}`);
  let unready: string[];
  try {
    unready = await withRetries(
      { retries: Infinity, withinMs, backoff: { initialMs: 100, maxMs: 100 }, retryError: retriable, retryAnswer: (topics) => topics.length > 0 },
      () => unreadyTopics(admin, specs),
    );
  } catch (err) {
    throw retriable(err) ? notReady((err as Error).message) : err;
  }
  if (unready.length) throw notReady(`no leader yet for ${unready.join(', ')}`);
}

/** The declared topics not yet known with a leader for each partition. */
async function unreadyTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
  return specs
    .filter((spec) => {
      const found = topics.find((t) => t.name === spec.topic);
      if (found && found.partitions.length && found.partitions.length !== spec.partitions) {
        throw new Error(`topic ${spec.topic} has ${found.partitions.length} partitions, the code declares ${spec.partitions}`);
      }
      return !found || !found.partitions.length || found.partitions.some((p) => p.leader < 0);
    })
    .map((s) => s.topic);
}

function dedupe(specs: readonly TopicSpec[]): TopicSpec[] {
  return [...new Map(specs.map((s) => [s.topic, s])).values()];
}

/** Each partition's end offset (`topic:partition` → offset): where a consumer that read everything stands. */
export async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends: Record<string, string> = {};
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) ends[`${topic}:${p.partition}`] = p.high;
    return ends;
  } finally {
    await admin.disconnect();
  }
}

/** Whether the group has committed at least `targets` (from endOffsets) on every partition that holds messages. */
export async function groupReached(kafka: Kafka, groupId: string, targets: Record<string, string>): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = [...new Set(Object.keys(targets).map((k) => k.slice(0, k.lastIndexOf(':'))))];
    const committed = new Map<string, bigint>();
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics })) {
      for (const p of partitions) committed.set(`${topic}:${p.partition}`, BigInt(p.offset));
    }
    return Object.entries(targets).every(([key, end]) => BigInt(end) === 0n || (committed.get(key) ?? -1n) >= BigInt(end));
  } finally {
    await admin.disconnect();
  }
}

/** Answers whether the cluster is reachable, within a short timeout (used by /health). */
export async function kafkaReachable(kafka: Kafka, timeoutMs = 2000): Promise<boolean> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  const probe = (async () => {
    try {
      await admin.connect();
      await admin.describeCluster();
      return true;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  })();
  return Promise.race([probe, timeout]);
}

export function headerValue(value: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first?.toString();
}
