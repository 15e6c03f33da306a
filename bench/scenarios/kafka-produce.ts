import { performance } from 'node:perf_hooks';
import { Kafka, Partitioners } from 'kafkajs';
import { benchConfig } from '../config';
import { BLOB_1K, BenchPublished, envelope, relayMessage } from '../fixtures';
import { benchTopic, chunks, seconds, withTopics } from '../infra';
import { BenchResult, result } from '../report';

/** 1,000 stream keys spread the messages over every partition, as the outbox's stream keys do. */
export const KEYS = 1000;

/**
 * (c) kafkajs sendBatch of ~1 KB envelopes (the relay's message shape: key, JSON value, six headers),
 * one batch at a time like the relay, with createReliableProducer's settings (idempotent, one request
 * in flight, acks -1). One rate per batch size: the baseline of the relay at the same batch size.
 */
export async function kafkaProduceScenario(
  kafka: Kafka,
  batchSizes: number[],
): Promise<{ results: BenchResult[]; msgsPerSecond: Map<number, number> }> {
  const count = benchConfig.produceMessages;
  const messages = Array.from({ length: count }, (_, i) =>
    relayMessage(envelope(BenchPublished.type, { seq: i, blob: BLOB_1K }, `bench-${i % KEYS}`, Math.floor(i / KEYS) + 1)),
  );
  const rates = new Map<number, number>();
  const results: BenchResult[] = [];
  for (const batchSize of batchSizes) {
    const spec = benchTopic('produce');
    await withTopics(kafka, [spec], async () => {
      // The same settings as createReliableProducer, spelled out on the raw client.
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      try {
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic: spec.topic, messages: messages.slice(0, batchSize) }] });
        const start = performance.now();
        for (const batch of chunks(messages, batchSize)) {
          await producer.sendBatch({ acks: -1, topicMessages: [{ topic: spec.topic, messages: batch }] });
        }
        const rate = count / seconds(start);
        rates.set(batchSize, rate);
        results.push(result('(c) raw kafkajs produce', `sendBatch ${batchSize} x 1KB msgs, idempotent, acks -1`, rate, 'msgs/s'));
      } finally {
        await producer.disconnect();
      }
    });
  }
  return { results, msgsPerSecond: rates };
}
