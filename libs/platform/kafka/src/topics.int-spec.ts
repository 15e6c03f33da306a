import { randomBytes } from 'node:crypto';
import { TopicSpec } from '@mdm/contracts/core';
import { testKafka } from '@mdm/platform/testing';
import { Kafka, ensureTopics } from './index';

const spec = (partitions: number): TopicSpec => ({ topic: `mdm.test.${randomBytes(6).toString('hex')}`, partitions, retentionMs: 3_600_000 });

describe('ensureTopics (every service at start-up)', () => {
  let kafka: Kafka;
  const created: string[] = [];
  beforeAll(() => {
    kafka = testKafka('topics');
  });
  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  it('services starting together create overlapping topics once, each with its leaders, and all start', async () => {
    const [a, b, c] = [spec(3), spec(1), spec(2)];
    created.push(a.topic, b.topic, c.topic);
    // As the stack starts its services at once: each creates what it produces and consumes.
    await Promise.all([ensureTopics(kafka, [a, b]), ensureTopics(kafka, [b, c]), ensureTopics(kafka, [a, c]), ensureTopics(kafka, [a, b, c])]);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [a.topic, b.topic, c.topic] });
      const partitions = Object.fromEntries(topics.map((t) => [t.name, t.partitions.filter((p) => p.leader >= 0).length]));
      expect(partitions).toEqual({ [a.topic]: 3, [b.topic]: 1, [c.topic]: 2 });
    } finally {
      await admin.disconnect();
    }
  });

  it('a topic that exists with another partition count than the code declares stops the start, naming both', async () => {
    const topic = spec(2);
    created.push(topic.topic);
    await ensureTopics(kafka, [topic]);
    await expect(ensureTopics(kafka, [{ ...topic, partitions: 4 }])).rejects.toThrow(`topic ${topic.topic} has 2 partitions, the code declares 4`);
  });
});
