import { performance } from 'node:perf_hooks';
import { Kafka, Partitioners } from 'kafkajs';
import { benchConfig } from '../config';
import { BLOB_1K, BenchPublished, envelope, relayMessage } from '../fixtures';
import { benchTopic, chunks, seconds, withTopics } from '../infra';
import { BenchResult, result } from '../report';

/** 1,000 stream keys spread the messages over every partition, as the outbox's stream keys do. */
export const KEYS = 1000;

/** The relay's message shape: key, ~1 KB JSON envelope value, six headers. */
function relayMessages(count: number) {
  return Array.from({ length: count }, (_, i) =>
    relayMessage(envelope(BenchPublished.type, { seq: i, blob: BLOB_1K }, `bench-${i % KEYS}`, Math.floor(i / KEYS) + 1)),
  );
}

/**
 * Sends the messages to a fresh topic one sendBatch at a time, like the relay, with
 * createReliableProducer's settings spelled out on the raw client (idempotent, one request in
 * flight, acks -1, murmur2 partitioner). Returns msgs/s.
 */
export async function rawProduceRate(kafka: Kafka, batchSize: number, count = benchConfig.produceMessages): Promise<number> {
  const messages = relayMessages(count);
  const spec = benchTopic('produce');
  return withTopics(kafka, [spec], async () => {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      // Warm-up: metadata, producer id, connections to the partition leaders.
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic: spec.topic, messages: messages.slice(0, batchSize) }] });
      const start = performance.now();
      for (const batch of chunks(messages, batchSize)) {
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic: spec.topic, messages: batch }] });
      }
      return count / seconds(start);
    } finally {
      await producer.disconnect();
    }
  });
}

export function rawProduceResult(batchSize: number, rate: number, note = ''): BenchResult {
  return result('(c) raw kafkajs produce', `sendBatch ${batchSize} x 1KB msgs, idempotent, acks -1${note}`, rate, 'msgs/s');
}

/** (c) Raw produce rate per batch size (the relay's trial batch sizes). */
export async function kafkaProduceScenario(
  kafka: Kafka,
  batchSizes: number[],
): Promise<{ results: BenchResult[]; msgsPerSecond: Map<number, number> }> {
  const rates = new Map<number, number>();
  for (const batchSize of batchSizes) rates.set(batchSize, await rawProduceRate(kafka, batchSize));
  return { results: [...rates].map(([size, rate]) => rawProduceResult(size, rate)), msgsPerSecond: rates };
}
