import { randomBytes, randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { EventRegistry, deadLetterTopic } from '@mdm/contracts/core';
import { deviceSyncEvents } from '@mdm/contracts/device-sync';
import { ManualClock } from '@mdm/platform/clock';
import { Database } from '@mdm/platform/database';
import { EventStore, outboxChannel } from '@mdm/platform/event-store';
import { Kafka, Producer, createReliableProducer } from '@mdm/platform/kafka';
import { createLogger } from '@mdm/platform/logging';
import { eventually, readTopic, testDatabase, testKafka, testTopic, uniqueName } from '@mdm/platform/testing';
import { deviceSyncService } from '../../device-sync.definition';
import { NotifierService } from '../notifier.service';
import { ApnsKey, FakeApns, FakeWns, apnsKey } from './fake-providers.fixture';
import { PushDispatcher, PushMetrics } from './push-dispatcher';
import { pushConfig } from './push-provider';
import { PushProviders } from './push-providers';
import { PushTokens } from './push-tokens';

const TOPIC = 'com.example.mdm.agent';
const logger = createLogger('push-test', 'silent');

/** The dispatcher on its own: real Kafka and Postgres, fakes of APNs and WNS. */
describe('push dispatcher (Kafka, Postgres, fake providers)', () => {
  let db: Database;
  let kafka: Kafka;
  let producer: Producer;
  let notifier: NotifierService;
  let tokens: PushTokens;
  let key: ApnsKey;
  let apns: FakeApns;
  let wns: FakeWns;
  const clock = new ManualClock(new Date('2026-04-01T08:00:00.000Z'));
  const running: { dispatcher: PushDispatcher; providers: PushProviders; topic: string }[] = [];

  beforeAll(async () => {
    db = await testDatabase('dspush', deviceSyncService.migrations);
    kafka = testKafka('push-test');
    producer = createReliableProducer(kafka);
    await producer.connect();
    const store = new EventStore(db, { registry: new EventRegistry(deviceSyncEvents), clock, outboxChannel: outboxChannel(db.schema) });
    tokens = new PushTokens(db, store);
    key = apnsKey();
    apns = await new FakeApns(key, TOPIC).start();
    wns = await new FakeWns('wns-token').start();
  });
  afterAll(async () => {
    for (const r of running) {
      await r.dispatcher.stop();
      await r.providers.close();
    }
    // The broker is shared: what these tests made goes with them.
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups(running.map((r) => r.dispatcher.groupId)).catch(() => undefined);
    await admin.deleteTopics({ topics: running.flatMap((r) => [r.topic, deadLetterTopic(r.dispatcher.groupId).topic]) }).catch(() => undefined);
    await admin.disconnect();
    await producer.disconnect();
    await Promise.all([apns.stop(), wns.stop(), db.close()]);
  });

  /** A dispatcher in a group of its own on a topic of its own; `metrics` is its registry. */
  async function dispatcher(
    settings: { concurrency?: number; queue?: number; breaker?: { failures: number; halfOpenAfterMs: number }; env?: Record<string, string> } = {},
  ) {
    const topic = (await testTopic(kafka, 3)).topic;
    notifier = new NotifierService({ clock, schema: db.schema, topic });
    const providers = await PushProviders.from(
      pushConfig.parse({
        APNS_ENDPOINT: apns.url,
        APNS_TOPIC: TOPIC,
        APNS_KEY_FILE: key.keyFile,
        APNS_KEY_ID: key.keyId,
        APNS_TEAM_ID: key.teamId,
        WNS_ACCESS_TOKEN: 'wns-token',
        WNS_CHANNEL_HOSTS: wns.url,
        ...settings.env,
      }),
    );
    const registry = new Registry();
    const groupId = uniqueName('push');
    const d = new PushDispatcher({
      kafka,
      producer,
      db,
      clock,
      logger,
      providers,
      tokens,
      metrics: new PushMetrics(registry),
      topic,
      groupId,
      concurrency: settings.concurrency ?? 8,
      queue: settings.queue ?? 100,
      fromBeginning: true,
      breaker: settings.breaker,
    });
    await d.start();
    running.push({ dispatcher: d, providers, topic });
    const metric = async (name: string, labels: string) => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    return { topic, groupId, metric };
  }

  async function device(platform: 'ios' | 'windows', pushToken: string | null) {
    const deviceId = randomUUID();
    const tenantId = randomUUID();
    await db.query(
      `insert into devices (device_id, tenant_id, user_id, platform, credential_hash, status, managed_by, certificate_serial, certificate_not_after, push_token)
       values ($1, $2, null, $3, $4, 'active', 'intune', 'AA', now() + interval '1 year', $5)`,
      [deviceId, tenantId, platform, randomBytes(32).toString('hex'), pushToken],
    );
    return { deviceId, tenantId };
  }

  /** Notifies the devices as the fan-out does, and publishes the outbox's messages as the relay would. */
  async function notify(topic: string, devices: { deviceId: string; tenantId: string }[], times = 1) {
    await db.transaction((sql) => notifier.notify(sql, devices, 'sync'));
    const rows = await db.query<{ message_key: string; payload: string }>(
      `delete from outbox where topic = $1 returning message_key, payload::text as payload`,
      [topic],
    );
    for (let i = 0; i < times; i++) {
      await producer.send({ topic, messages: rows.map((r) => ({ key: r.message_key, value: r.payload })) });
    }
    return rows.map((r) => JSON.parse(r.payload).notificationId as string);
  }
  const apnsToken = () => randomBytes(32).toString('hex');
  const settle = () => new Promise((r) => setTimeout(r, 1000));

  it('R16: a notification delivered twice by Kafka is pushed once (claimed in the notifications table)', async () => {
    const { topic, metric } = await dispatcher();
    const token = apnsToken();
    const phone = await device('ios', token);
    const [id] = await notify(topic, [phone], 2);
    await eventually(() => expect(apns.pushesTo(token)).toHaveLength(1));
    await settle();
    expect(apns.pushesTo(token).map((p) => p.body.notificationId)).toEqual([id]);
    const [row] = await db.query<{ pushed_at: Date }>('select pushed_at from notifications where notification_id = $1', [id]);
    expect(row.pushed_at).toEqual(clock.now());
    expect(await metric('push_sent_total', 'provider="apns"')).toBe(1);
  });

  it('an unreadable message goes to the push group\'s dead-letter topic with its reason; the notifications around it are pushed', async () => {
    const { topic, groupId } = await dispatcher();
    const [a, b] = [apnsToken(), apnsToken()];
    const first = await device('ios', a);
    const second = await device('ios', b);
    await notify(topic, [first]);
    await producer.send({ topic, messages: [{ key: first.deviceId, value: 'not json' }] });
    await notify(topic, [second]);
    await eventually(() => expect([apns.pushesTo(a).length, apns.pushesTo(b).length]).toEqual([1, 1]));
    const [dead] = await readTopic(kafka, deadLetterTopic(groupId).topic, 1);
    expect([dead.value?.toString(), dead.headers?.['dlq-reason']?.toString(), dead.headers?.['dlq-topic']?.toString()]).toEqual(['not json', 'not JSON', topic]);
  });

  it('R16: a slow provider fills only its own slots: past its queue its pushes are dropped and counted, another provider\'s go out at once', async () => {
    const { topic, metric } = await dispatcher({ concurrency: 1, queue: 1 });
    apns.delayMs = 3000;
    try {
      const phones = await Promise.all([0, 1, 2, 3].map(() => device('ios', apnsToken())));
      const channel = wns.channel(`ch-${randomUUID()}`);
      const pc = await device('windows', channel);
      const started = Date.now();
      await notify(topic, [...phones, pc]);
      await eventually(() => expect(wns.pushesTo(channel)).toHaveLength(1));
      expect(Date.now() - started).toBeLessThan(3000);
      // One in flight, one waiting, two dropped.
      await eventually(async () => expect(await metric('push_failed_total', 'provider="apns",reason="overloaded"')).toBe(2));
      await eventually(async () => expect(await metric('push_sent_total', 'provider="apns"')).toBe(2), 15_000);
    } finally {
      apns.delayMs = 0;
    }
  });

  it('R16: a provider that keeps failing trips its breaker: its pushes fail at once (unavailable) until a trial push gets through', async () => {
    const { topic, metric } = await dispatcher({ breaker: { failures: 3, halfOpenAfterMs: 1500 }, env: { PUSH_MAX_ATTEMPTS: '2' } });
    const phones = await Promise.all([0, 1, 2, 3, 4].map(() => device('ios', apnsToken())));
    await apns.stop();
    try {
      await notify(topic, phones.slice(0, 3));
      await eventually(async () => expect(await metric('push_failed_total', 'provider="apns",reason="error"')).toBe(3));
      // Not tried: the breaker refused them (a tried push would count as an error after its retries).
      await notify(topic, phones.slice(3));
      await eventually(async () => expect(await metric('push_failed_total', 'provider="apns",reason="unavailable"')).toBe(2));
      expect(await metric('push_failed_total', 'provider="apns",reason="error"')).toBe(3);
    } finally {
      await apns.start();
    }
    await new Promise((r) => setTimeout(r, 1600));
    const token = apnsToken();
    await notify(topic, [await device('ios', token)]);
    await eventually(() => expect(apns.pushesTo(token)).toHaveLength(1));
    expect(await metric('push_sent_total', 'provider="apns"')).toBe(1);
  });

  it('R16: a device without a token, or not active, is not pushed and its notification stays unclaimed', async () => {
    const { topic } = await dispatcher();
    const token = apnsToken();
    const none = await device('ios', null);
    const gone = await device('ios', token);
    await db.query(`update devices set status = 'unenrolled' where device_id = $1`, [gone.deviceId]);
    const ids = await notify(topic, [none, gone]);
    await settle();
    expect(apns.pushesTo(token)).toEqual([]);
    const rows = await db.query<{ pushed_at: Date | null }>('select pushed_at from notifications where notification_id = any($1::uuid[])', [ids]);
    expect(rows.map((r) => r.pushed_at)).toEqual([null, null]);
  });
});
