import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { EventEnvelope, EventRegistry, defineEvent, deadLetterTopic } from '@mdm/contracts/core';
import { Database } from '@mdm/platform/database';
import { GROUP_SESSION, Kafka, Producer, createReliableProducer, ensureTopics } from '@mdm/platform/kafka';
import { createLogger } from '@mdm/platform/logging';
import { TcpProxy, envelopeFixture, eventually, readTopic, testDatabase, testKafka, testTopic, uniqueName } from '@mdm/platform/testing';
import { EventHandler, InboxConsumer, InboxConsumerSettings, InboxHandler } from './inbox-consumer';

const Scored = defineEvent({ type: 'Scored', data: z.object({ points: z.number().int() }).strict() });
const registry = new EventRegistry([Scored]);

const envelope = (points: unknown): EventEnvelope =>
  envelopeFixture({ type: 'Scored', streamId: 'game-1', tenantId: randomUUID(), data: { points } });

describe('inbox consumer (Kafka → Postgres)', () => {
  let db: Database;
  let kafka: Kafka;
  let producer: Producer;
  const consumers: InboxConsumer[] = [];

  beforeAll(async () => {
    db = await testDatabase('inbox');
    await db.query('create table scores (event_id uuid not null, points int not null)');
    kafka = testKafka();
    producer = createReliableProducer(kafka);
    await producer.connect();
  });
  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await producer.disconnect();
    await db.close();
  });

  const score: EventHandler = async (event, sql) => {
    await sql.query('insert into scores (event_id, points) values ($1, $2)', [event.eventId, (event.data as { points: number }).points]);
  };

  async function start(topic: string, { handle, handleBatch, ...settings }: Partial<InboxConsumerSettings> & Partial<InboxHandler> = {}) {
    const groupId = uniqueName('scores');
    await ensureTopics(kafka, [deadLetterTopic(groupId)]);
    const consumer = new InboxConsumer({
      kafka,
      db,
      groupId,
      topics: [topic],
      registry,
      logger: createLogger('inbox', 'fatal'),
      retryBackoffMs: 10,
      maxAttempts: 3,
      ...settings,
      ...(handleBatch ? { handleBatch } : { handle: handle ?? score }),
    });
    consumers.push(consumer);
    await consumer.start();
    return consumer;
  }

  const send = (topic: string, values: (string | EventEnvelope)[]) =>
    producer.send({
      topic,
      acks: -1,
      messages: values.map((v) => ({ key: 'game-1', value: typeof v === 'string' ? v : JSON.stringify(v) })),
    });

  const pointsOf = async (ids: string[]) =>
    (await db.query<{ points: number }>('select points from scores where event_id = any($1::uuid[]) order by points', [ids])).map(
      (r) => r.points,
    );

  it('applies each event once, however often it is delivered', async () => {
    const { topic } = await testTopic(kafka, 1);
    const events = [envelope(1), envelope(2), envelope(3)];
    await send(topic, [...events, events[0], events[2], events[0]]);
    const consumer = await start(topic);
    await eventually(() => expect(consumer.stats.applied + consumer.stats.duplicates).toBe(6));
    expect(consumer.stats).toMatchObject({ applied: 3, duplicates: 3 });
    expect(await pointsOf(events.map((e) => e.eventId))).toEqual([1, 2, 3]);
  });

  it("with dedup by the handler, every delivery reaches it and the inbox stays empty", async () => {
    const { topic } = await testTopic(kafka, 1);
    const events = [envelope(100), envelope(200)];
    await send(topic, [...events, events[0]]);
    const consumer = await start(topic, { mode: 'batch', dedup: 'handler' });
    await eventually(() => expect(consumer.stats.received).toBe(3));
    await eventually(async () => expect(await pointsOf(events.map((e) => e.eventId))).toEqual([100, 100, 200]));
    expect(await db.query('select 1 from inbox where consumer = $1', [consumer.groupId])).toEqual([]);
  });

  it("forgets applied ids once they are older than the dedup window, and only its own", async () => {
    const { topic } = await testTopic(kafka, 1);
    const events = [envelope(10), envelope(20)];
    await send(topic, events);
    const consumer = await start(topic, { dedupWindowMs: 3600_000 });
    const other = await start(topic);
    await eventually(() => expect([consumer.stats.applied, other.stats.applied]).toEqual([2, 2]));
    await db.query(`update inbox set received_at = now() - interval '2 hours' where consumer = $1 and event_id = $2`, [
      consumer.groupId,
      events[0].eventId,
    ]);
    await db.query(`update inbox set received_at = now() - interval '2 hours' where consumer = $1`, [other.groupId]);
    expect(await consumer.prune()).toBe(1);
    const kept = await db.query<{ consumer: string; event_id: string }>('select consumer, event_id from inbox where event_id = any($1::uuid[])', [
      events.map((e) => e.eventId),
    ]);
    // The other group's ids are older, but its window is a week.
    expect(kept.filter((r) => r.consumer === consumer.groupId).map((r) => r.event_id)).toEqual([events[1].eventId]);
    expect(kept.filter((r) => r.consumer === other.groupId)).toHaveLength(2);
  });

  it('a malformed message lands in the dead-letter topic with the reason, and the consumer goes on', async () => {
    const { topic } = await testTopic(kafka, 1);
    const before = envelope(10);
    const after = envelope(20);
    await send(topic, [before, '{not json', JSON.stringify(envelope('ten')), JSON.stringify({ hello: 'world' }), after]);
    const consumer = await start(topic);
    await eventually(() => expect(consumer.stats.applied).toBe(2));
    expect(await pointsOf([before.eventId, after.eventId])).toEqual([10, 20]);

    const dead = await readTopic(kafka, consumer.deadLetterTopic, 3);
    const reasons = dead.map((m) => m.headers!['dlq-reason']!.toString());
    expect(reasons[0]).toMatch(/^message is not JSON/);
    expect(reasons[1]).toMatch(/^invalid Scored v1 payload/);
    expect(reasons[2]).toMatch(/^invalid envelope/);
    expect(dead.map((m) => m.headers!['dlq-offset']!.toString())).toEqual(['1', '2', '3']);
    expect(dead[0].value!.toString()).toBe('{not json');
  });

  it('a handler that keeps failing is retried a bounded number of times, then dead-lettered; later events go on', async () => {
    const { topic } = await testTopic(kafka, 1);
    const poison = envelope(13);
    const fine = envelope(14);
    let attempts = 0;
    await send(topic, [poison, fine]);
    const consumer = await start(topic, {
      handle: async (event, sql) => {
        if (event.eventId === poison.eventId) {
          attempts++;
          throw new Error('unlucky number');
        }
        await sql.query('insert into scores (event_id, points) values ($1, $2)', [event.eventId, 14]);
      },
    });
    await eventually(() => expect(consumer.stats.applied).toBe(1));
    expect(attempts).toBe(3);
    expect(consumer.stats.deadLettered).toBe(1);
    const [dead] = await readTopic(kafka, consumer.deadLetterTopic, 1);
    expect(dead.headers!['dlq-reason']!.toString()).toBe('failed 3 times: unlucky number');
    // The failed attempts rolled back their inbox rows: nothing claims the poison event as applied.
    expect(await db.query('select 1 from inbox where event_id = $1', [poison.eventId])).toEqual([]);
  });

  it('batch mode applies a Kafka batch in one transaction, and replays a failing batch one by one', async () => {
    const { topic } = await testTopic(kafka, 1);
    const events = Array.from({ length: 200 }, (_, i) => envelope(i));
    const poison = events[120];
    await send(topic, events.slice(0, 100));
    const batches: number[] = [];
    const consumer = await start(topic, {
      mode: 'batch',
      handleBatch: async (items, sql) => {
        if (items.some((i) => i.event.eventId === poison.eventId)) throw new Error('poison in batch');
        batches.push(items.length);
        for (const { event } of items) {
          await sql.query('insert into scores (event_id, points) values ($1, $2)', [event.eventId, (event.data as { points: number }).points]);
        }
      },
    });
    await eventually(() => expect(consumer.stats.applied).toBe(100));
    expect(Math.max(...batches)).toBeGreaterThan(1);
    await send(topic, events.slice(100));
    await eventually(() => expect(consumer.stats.applied + consumer.stats.deadLettered).toBe(200));
    expect(consumer.stats.deadLettered).toBe(1);
    const points = await pointsOf(events.map((e) => e.eventId));
    expect(points).toEqual(Array.from({ length: 200 }, (_, i) => i).filter((p) => p !== 120));
  });

  it('start() resolves before the group join (a restarted service serves meanwhile): membership says joining, then joined', async () => {
    const { topic } = await testTopic(kafka, 1);
    const consumer = await start(topic);
    expect(consumer.membership).toEqual({ state: 'joining' });
    await consumer.whenJoined();
    expect(consumer.membership).toEqual({ state: 'joined' });
    await consumer.stop();
    expect(consumer.membership.state).toBe('stopped');
  });

  it('a batch that takes longer than the group session keeps its member: heartbeats go on while it is applied', async () => {
    const { topic } = await testTopic(kafka, 1);
    const slow = envelope(31);
    const consumer = await start(topic, {
      handle: async (event, sql) => {
        await new Promise((r) => setTimeout(r, GROUP_SESSION.sessionTimeout * 1.5));
        await score(event, sql, { topic, partition: 0, offset: '0' });
      },
    });
    await consumer.whenJoined();
    const members = async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const [group] = (await admin.describeGroups([consumer.groupId])).groups;
        return group.members.map((m) => m.memberId);
      } finally {
        await admin.disconnect();
      }
    };
    const before = await members();
    expect(before).toHaveLength(1);
    await send(topic, [slow]);
    await eventually(() => expect(consumer.stats.applied).toBe(1), 20_000);
    // Expired, the member would have been replaced by a new one, and the event applied again or absorbed as a duplicate.
    expect(await members()).toEqual(before);
    expect(consumer.membership).toEqual({ state: 'joined' });
    expect(consumer.stats.duplicates).toBe(0);
    expect(await pointsOf([slow.eventId])).toEqual([31]);
  });

  it('a Postgres outage is waited out, not dead-lettered: the events arriving meanwhile are applied once it is back', async () => {
    const target = new URL(process.env.DATABASE_URL!);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.open();
    const proxied = new Database({ url: proxy.url(process.env.DATABASE_URL!), schema: db.schema, migrations: [], poolSize: 2 });
    try {
      await proxied.connect();
      const { topic } = await testTopic(kafka, 1);
      const consumer = await start(topic, { db: proxied });
      await consumer.whenJoined();
      await proxy.cut();
      const events = [envelope(21), envelope(22), envelope(23)];
      await send(topic, events);
      // Far longer than maxAttempts (3) tries at retryBackoffMs (10 ms) would take.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(consumer.stats).toMatchObject({ applied: 0, deadLettered: 0 });
      await proxy.open();
      await eventually(() => expect(consumer.stats.applied).toBe(3), 20_000);
      expect(consumer.stats.deadLettered).toBe(0);
      expect(await pointsOf(events.map((e) => e.eventId))).toEqual([21, 22, 23]);
      await consumer.stop();
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });
});
