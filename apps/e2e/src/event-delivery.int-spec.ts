import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { authorityEvents } from '@mdm/contracts/authority';
import { EventEnvelope, EventRegistry, Topics, deadLetterTopic } from '@mdm/contracts/core';
import { Database } from '@mdm/platform/database';
import { InboxContext, InboxEventTransport } from '@mdm/platform/inbox';
import { createReliableProducer, ensureTopics } from '@mdm/platform/kafka';
import { createLogger } from '@mdm/platform/logging';
import { TEST_SIGNING_KEY, WORKSPACE_ROOT, asGateway, eventually, freePort, testDatabase, testKafka, uniqueName } from '@mdm/platform/testing';

@Controller()
class AuthorityChangesRecorder {
  @EventPattern('AuthorityChanged')
  async record(@Payload() event: EventEnvelope<{ from: string; to: string }>, @Ctx() ctx: InboxContext) {
    await ctx.sql.query('insert into authority_changes (event_id, tenant_id, to_authority) values ($1, $2, $3)', [
      event.eventId,
      event.tenantId,
      event.data.to,
    ]);
  }
}

@Module({ controllers: [AuthorityChangesRecorder] })
class RecorderModule {}

describe('an event appended by one process, relayed, and consumed by another', () => {
  let authority: ChildProcess;
  let authorityUrl: string;
  let db: Database;
  let consumerApp: INestMicroservice;
  let transport: InboxEventTransport;
  const kafka = testKafka('delivery');
  const authoritySchema = uniqueName('authority');
  /** The gateway's calls (tenant registration, then commands), signed as it signs them. */
  const post = (p: string, body: unknown, method = 'POST') => {
    const json = JSON.stringify(body);
    return fetch(`${authorityUrl}${p}`, { method, headers: { 'content-type': 'application/json', ...asGateway(method, `${authorityUrl}${p}`, {}, json) }, body: json });
  };

  beforeAll(async () => {
    const port = await freePort();
    authorityUrl = `http://127.0.0.1:${port}`;
    authority = spawn(process.execPath, ['-r', path.join(WORKSPACE_ROOT, 'tools/register.js'), 'apps/authority/src/main.ts'], {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, AUTHORITY_PORT: String(port), DB_SCHEMA: authoritySchema, LOG_LEVEL: 'warn', MDM_GATEWAY_SIGNING_KEY: TEST_SIGNING_KEY },
      stdio: 'ignore',
    });
    db = await testDatabase('recorder');
    await db.query('create table authority_changes (event_id uuid not null, tenant_id uuid not null, to_authority text not null)');
    const groupId = uniqueName('recorder');
    await ensureTopics(kafka, [Topics.authorityEvents, deadLetterTopic(groupId)]);
    transport = new InboxEventTransport({
      kafka,
      db,
      groupId,
      topics: [Topics.authorityEvents.topic],
      registry: new EventRegistry(authorityEvents),
      logger: createLogger('recorder', 'fatal'),
      mode: 'batch',
      // Read-your-writes here would wait on configurations only (the tenant's stream is not awaited).
      awaitedStreams: ['configuration-'],
    });
    consumerApp = await NestFactory.createMicroservice(RecorderModule, { strategy: transport, logger: false });
    await consumerApp.listen();
    await eventually(async () => expect((await fetch(`${authorityUrl}/health`)).status).toBe(200), 30_000, 250);
  });

  afterAll(async () => {
    authority.kill('SIGTERM');
    await consumerApp.close();
    await db.close();
  });

  it('takes effect exactly once, even when Kafka delivers it again', async () => {
    const tenantId = randomUUID();
    expect((await post('/internal/tenants', { tenantId, name: 'Delivery' })).status).toBe(201);
    expect((await post(`/api/v1/tenants/${tenantId}/authority`, { authority: 'office365' }, 'PUT')).status).toBe(200);

    const recorded = () =>
      db.query<{ event_id: string; to_authority: string }>('select event_id, to_authority from authority_changes where tenant_id = $1', [tenantId]);
    await eventually(async () => expect(await recorded()).toHaveLength(1));
    const [row] = await recorded();
    expect(row.to_authority).toBe('office365');

    // Deliver the very same event again, as a relay re-send after a crash would.
    const [stored] = await db.query<{ topic: string; kafka_partition: number; kafka_offset: string }>(
      'select topic, kafka_partition, kafka_offset::text from inbox where event_id = $1',
      [row.event_id],
    );
    const [original] = await readAt(stored.topic, stored.kafka_partition, stored.kafka_offset);
    const producer = createReliableProducer(kafka);
    await producer.connect();
    await producer.send({ topic: stored.topic, acks: -1, messages: [{ key: original.key, value: original.value, partition: stored.kafka_partition }] });
    await producer.disconnect();

    const duplicatesBefore = transport.inbox!.stats.duplicates;
    await eventually(() => expect(transport.inbox!.stats.duplicates).toBeGreaterThan(duplicatesBefore));
    expect(await recorded()).toHaveLength(1);
  });

  it('leaves out an event no handler takes outside the awaited streams, and records one inside them for read-your-writes', async () => {
    const tenantId = randomUUID();
    expect((await post('/internal/tenants', { tenantId, name: 'Ignored' })).status).toBe(201);
    expect((await post(`/api/v1/tenants/${tenantId}/authority`, { authority: 'intune' }, 'PUT')).status).toBe(200);
    const configuration = await post(`/api/v1/tenants/${tenantId}/authorities/intune/configurations`, {
      name: 'Mail',
      type: 'email',
      platforms: ['ios'],
      settings: {},
      assignedGroupIds: [],
    });
    expect(configuration.status).toBe(201);
    const { configurationId } = (await configuration.json()) as { configurationId: string };

    const produced = await db.query<{ event_id: string; type: string }>(
      `select event_id, type from ${authoritySchema}.es_events where tenant_id = $1 order by global_position`,
      [tenantId],
    );
    expect(produced.map((e) => e.type)).toEqual(['TenantCreated', 'AuthorityChanged', 'ConfigurationCreated']);
    const streams = () =>
      db.query<{ stream_id: string; version: string }>('select stream_id, version::text from consumed_streams where tenant_id = $1 order by stream_id', [
        tenantId,
      ]);
    // The configuration's stream is awaited; the tenant's is recorded only because its AuthorityChanged has a handler.
    await eventually(async () =>
      expect(await streams()).toEqual([
        { stream_id: `configuration-${configurationId}`, version: '1' },
        { stream_id: `tenant-${tenantId}`, version: '2' },
      ]),
    );
    const inbox = await db.query<{ event_id: string }>('select event_id from inbox where event_id = any($1::uuid[])', [produced.map((e) => e.event_id)]);
    const typeOf = new Map(produced.map((e) => [e.event_id, e.type]));
    expect(inbox.map((r) => typeOf.get(r.event_id)).sort()).toEqual(['AuthorityChanged', 'ConfigurationCreated']);
    expect(transport.inbox!.stats.ignored).toBeGreaterThanOrEqual(1);
  });

  async function readAt(topic: string, partition: number, offset: string) {
    const consumer = kafka.consumer({ groupId: uniqueName('peek') });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const found = new Promise<{ key: Buffer | null; value: Buffer | null }[]>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition: p, message }) => {
          if (p === partition && message.offset === offset) resolve([{ key: message.key, value: message.value }]);
        },
      });
    });
    consumer.seek({ topic, partition, offset });
    try {
      return await found;
    } finally {
      await consumer.disconnect();
    }
  }
});
