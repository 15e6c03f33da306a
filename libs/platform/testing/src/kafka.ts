import { randomBytes } from 'node:crypto';
import { TopicSpec } from '@mdm/contracts/core';
import { Kafka, KafkaMessage, createKafka, endOffsets, ensureTopics, groupReached } from '@mdm/platform/kafka';
import { createLogger } from '@mdm/platform/logging';

export function testKafka(clientId = 'test'): Kafka {
  return createKafka({ clientId, brokers: process.env.KAFKA_BROKERS!.split(','), logger: createLogger(clientId, 'fatal') });
}

/** A topic of its own for one test (the broker does not auto-create topics). */
export async function testTopic(kafka: Kafka, partitions = 3): Promise<TopicSpec> {
  const spec = { topic: `mdm.test.${randomBytes(6).toString('hex')}`, partitions, retentionMs: 3_600_000 };
  await ensureTopics(kafka, [spec]);
  return spec;
}

/** Reads a topic from the beginning until `count` messages arrived (or the time is up). */
export async function readTopic(kafka: Kafka, topic: string, count: number, timeoutMs = 20_000): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: `reader-${randomBytes(6).toString('hex')}`, allowAutoTopicCreation: false });
  const messages: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${messages.length} of ${count} messages from ${topic}`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          messages.push(message);
          if (messages.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/** Whether a consumer group has committed every message now on its topics (a fresh service caught up). */
export async function groupCaughtUp(kafka: Kafka, groupId: string, topics: readonly string[]): Promise<boolean> {
  return groupReached(kafka, groupId, await endOffsets(kafka, topics));
}
