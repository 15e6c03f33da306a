import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { EventRegistry, TopicSpec, defineEvent } from '@mdm/contracts/core';
import { systemClock } from '@mdm/platform/clock';
import { Database } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { InboxConsumer } from '@mdm/platform/inbox';
import { Kafka, Producer, createReliableProducer, ensureTopics } from '@mdm/platform/kafka';
import { createLogger } from '@mdm/platform/logging';
import { WORKSPACE_ROOT, eventually, readTopic, testDatabase, testKafka, testTopic, uniqueName } from '@mdm/platform/testing';
import { OutboxRelay, OutboxRelayOptions } from './outbox-relay';

describe('outbox relay (Postgres → Kafka)', () => {
  let db: Database;
  let kafka: Kafka;
  let producer: Producer;
  let spec: TopicSpec;
  let store: EventStore;
  const tenantId = randomUUID();

  beforeAll(async () => {
    db = await testDatabase('outbox');
    kafka = testKafka();
    producer = createReliableProducer(kafka);
    await producer.connect();
    spec = await testTopic(kafka);
    const Ticked = defineEvent({ type: 'Ticked', topic: spec.topic, data: z.object({ n: z.number() }).strict() });
    store = new EventStore(db, { registry: new EventRegistry([Ticked]), clock: systemClock, outboxChannel: `${db.schema}_outbox` });
  });
  afterAll(async () => {
    await producer.disconnect();
    await db.close();
  });

  /** A relay of the outbox in `on`'s schema (through the shared producer unless told otherwise). */
  const relayOf = (on: Database, options: Partial<OutboxRelayOptions> = {}) =>
    new OutboxRelay({ clientConfig: on.clientConfig(), schema: on.schema, channel: `${on.schema}_outbox`, producer, logger: createLogger('relay', 'fatal'), ...options });
  const relay = () => relayOf(db, { batchSize: 50 });

  async function appendTicks(stream: string, count: number) {
    for (let n = 1; n <= count; n++) {
      await store.append(stream, [{ type: 'Ticked', data: { n } }], { expectedVersion: n - 1, tenantId, actor: 'test' });
    }
  }

  const pending = async () =>
    Number((await db.query<{ n: string }>('select count(*)::text n from outbox where published_at is null'))[0].n);

  it('publishes every row keyed by its stream, in stream order, and marks it published', async () => {
    const streams = [`clock-${randomUUID()}`, `clock-${randomUUID()}`];
    for (const s of streams) await appendTicks(s, 30);
    const r = relay();
    r.start();
    try {
      await eventually(async () => expect(await pending()).toBe(0));
    } finally {
      await r.stop();
    }
    const messages = await readTopic(kafka, spec.topic, 60);
    for (const s of streams) {
      const ours = messages.filter((m) => m.key?.toString() === s).map((m) => JSON.parse(m.value!.toString()));
      expect(ours.map((e) => e.streamVersion)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(ours[0]).toMatchObject({ type: 'Ticked', tenantId, streamId: s });
    }
    expect(messages[0].headers?.['event-type']?.toString()).toBe('Ticked');
  });

  it("sends a stream's large events in runs the broker accepts (a fan-out's CheckInsRequested are ~100 kB each)", async () => {
    const stream = `fanout-${randomUUID()}`;
    const own = await testTopic(kafka);
    const big = 'x'.repeat(100_000);
    // 20 events of 100 kB on one key (one partition): 2 MB, twice the broker's 1 MiB record-batch limit.
    for (let n = 1; n <= 20; n++) {
      await db.query(
        `insert into outbox (event_id, topic, message_key, payload, headers) values ($1, $2, $3, $4, '{}')`,
        [randomUUID(), own.topic, stream, JSON.stringify({ n, big })],
      );
    }
    const r = relay();
    r.start();
    try {
      await eventually(async () => expect(await pending()).toBe(0));
      expect(r.heldTopics).toEqual([]);
    } finally {
      await r.stop();
    }
    const messages = await readTopic(kafka, own.topic, 20);
    expect(messages.map((m) => JSON.parse(m.value!.toString()).n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('deletes published rows once they are older than the retention', async () => {
    const stream = `clock-${randomUUID()}`;
    await appendTicks(stream, 3);
    const pruning = relayOf(db, { retentionMs: 0 });
    pruning.start();
    try {
      await eventually(async () => expect(await db.query('select 1 from outbox where message_key = $1', [stream])).toEqual([]));
    } finally {
      await pruning.stop();
    }
    expect(await store.readStream(stream)).toHaveLength(3);
  });

  it('only one relay of a service is the leader', async () => {
    const [a, b] = [relay(), relay()];
    a.start();
    await eventually(() => expect(a.isLeader).toBe(true));
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.isLeader).toBe(false);
    await a.stop();
    await eventually(() => expect(b.isLeader).toBe(true), 5000);
    await b.stop();
  });

  it('a topic that cannot be written holds back its own rows only; they follow once it can', async () => {
    const ok = await testTopic(kafka, 1);
    const missing = { topic: `mdm.test.missing-${randomUUID()}`, partitions: 1, retentionMs: 3_600_000 };
    const registry = new EventRegistry([
      defineEvent({ type: 'Ticked', topic: ok.topic, data: z.object({ n: z.number() }).strict() }),
      defineEvent({ type: 'Lost', topic: missing.topic, data: z.object({ n: z.number() }).strict() }),
    ]);
    const heldDb = await testDatabase('held');
    const heldStore = new EventStore(heldDb, { registry, clock: systemClock, outboxChannel: `${heldDb.schema}_outbox` });
    // kafkajs retries an unknown topic for ~10 s by default; a small budget keeps the test short.
    const quick = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 } });
    await quick.connect();
    const held = relayOf(heldDb, { producer: quick, pollIntervalMs: 100 });
    const unpublished = async (topic: string) =>
      Number((await heldDb.query<{ n: string }>('select count(*)::text n from outbox where published_at is null and topic = $1', [topic]))[0].n);
    const lost = `lost-${randomUUID()}`;
    const ticks = `clock-${randomUUID()}`;
    const tick = (n: number) => heldStore.append(ticks, [{ type: 'Ticked', data: { n } }], { expectedVersion: n - 1, tenantId, actor: 'test' });
    try {
      // The unwritable topic's row is the oldest: before the fix it held back every row after it.
      await heldStore.append(lost, [{ type: 'Lost', data: { n: 1 } }], { expectedVersion: 0, tenantId, actor: 'test' });
      for (let n = 1; n <= 3; n++) await tick(n);
      held.start();
      await eventually(async () => expect(await unpublished(ok.topic)).toBe(0), 10_000, 50);
      expect(held.heldTopics).toEqual([missing.topic]);
      // Held, the topic costs the others nothing: a new row goes out at once.
      await heldStore.append(lost, [{ type: 'Lost', data: { n: 2 } }], { expectedVersion: 1, tenantId, actor: 'test' });
      await tick(4);
      await eventually(async () => expect(await unpublished(ok.topic)).toBe(0), 3_000, 50);
      expect(await unpublished(missing.topic)).toBe(2);

      await ensureTopics(kafka, [missing]);
      await eventually(async () => expect(await unpublished(missing.topic)).toBe(0), 20_000, 100);
      expect(held.heldTopics).toEqual([]);
    } finally {
      await held.stop();
      await quick.disconnect();
      await heldDb.close();
    }
    const lostMessages = await readTopic(kafka, missing.topic, 2);
    expect(lostMessages.map((m) => JSON.parse(m.value!.toString()).streamVersion)).toEqual([1, 2]);
    const tickMessages = await readTopic(kafka, ok.topic, 4);
    expect(tickMessages.map((m) => JSON.parse(m.value!.toString()).streamVersion)).toEqual([1, 2, 3, 4]);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [ok.topic, missing.topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('a relay killed between send and mark loses nothing, and the duplicate is absorbed by the inbox', async () => {
    const crashSpec = await testTopic(kafka, 1);
    const Crashed = defineEvent({ type: 'Ticked', topic: crashSpec.topic, data: z.object({ n: z.number() }).strict() });
    const registry = new EventRegistry([Crashed]);
    const crashDb = await testDatabase('crash');
    const crashStore = new EventStore(crashDb, { registry, clock: systemClock, outboxChannel: `${crashDb.schema}_outbox` });
    const stream = `clock-${randomUUID()}`;
    for (let n = 1; n <= 20; n++) {
      await crashStore.append(stream, [{ type: 'Ticked', data: { n } }], { expectedVersion: n - 1, tenantId, actor: 'test' });
    }

    const exit = await runFixture('relay-crash.fixture.ts', { RELAY_SCHEMA: crashDb.schema });
    expect(exit.signal).toBe('SIGKILL');
    // Kafka has the batch, the outbox still thinks it is unsent.
    expect(await readTopic(kafka, crashSpec.topic, 20)).toHaveLength(20);
    const unsent = await crashDb.query<{ n: string }>('select count(*)::text n from outbox where published_at is null');
    expect(unsent[0].n).toBe('20');

    const survivor = relayOf(crashDb);
    survivor.start();
    await eventually(async () => {
      const rows = await crashDb.query<{ n: string }>('select count(*)::text n from outbox where published_at is null');
      expect(rows[0].n).toBe('0');
    });
    await survivor.stop();
    const all = await readTopic(kafka, crashSpec.topic, 40);
    expect(all).toHaveLength(40); // every event twice on the topic

    await crashDb.query('create table applied (event_id uuid not null, n int not null)');
    const consumer = new InboxConsumer({
      kafka,
      db: crashDb,
      groupId: uniqueName('applier'),
      topics: [crashSpec.topic],
      registry,
      logger: createLogger('inbox', 'fatal'),
      handle: async (event, sql) => {
        await sql.query('insert into applied (event_id, n) values ($1, $2)', [event.eventId, (event.data as { n: number }).n]);
      },
    });
    await consumer.start();
    try {
      await eventually(() => expect(consumer.stats.applied + consumer.stats.duplicates).toBe(40));
      expect(consumer.stats).toMatchObject({ applied: 20, duplicates: 20, deadLettered: 0 });
      const applied = await crashDb.query<{ n: number }>('select n from applied order by n');
      expect(applied.map((r) => r.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await consumer.stop();
      await crashDb.close();
    }
  });
});

function runFixture(file: string, env: Record<string, string>): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['-r', path.join(WORKSPACE_ROOT, 'tools/register.js'), path.join(__dirname, file)],
      { env: { ...process.env, ...env }, timeout: 60_000 },
    );
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}
