import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IHeaders, Kafka } from 'kafkajs';
import { Client } from 'pg';
import { eventually, TcpProxy } from '@mdm/platform/testing';
import { ConsumerHandle, Consumption, DRAIN_BOUND_MS } from '@mdm/platform/http';
import { groupReached } from '@mdm/platform/kafka';
import { LongPollHub } from '../../device-sync/src/notifications/long-poll-hub';
import { DeviceClient } from './support/device-client';
import { TestStack, startStack } from './support/stack';
import { TestTenant, createTenant } from './support/tenant';

const healthy = { osVersion: '10.0.22631', encrypted: true, jailbroken: false, passcodeSet: true };

/**
 * Outages and shutdown, on the whole system in this process with every service's Postgres
 * connections through a proxy the test can cut or pause (the shared Postgres itself is never touched).
 */
describe('surviving faults: dependency outages and draining', () => {
  let proxy: TcpProxy;
  let stack: TestStack;
  let tenant: TestTenant;

  beforeAll(async () => {
    const target = new URL(process.env.DATABASE_URL!);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.open();
    stack = await startStack({ env: { DATABASE_URL: proxy.url(process.env.DATABASE_URL!) } });
    tenant = await createTenant(stack, 'Outage', 'intune');
  }, 120_000);
  afterAll(async () => {
    proxy?.resume();
    await proxy?.open();
    await stack?.stop();
    await proxy?.close();
  });

  it('a Postgres outage answers 503 DEPENDENCY_UNAVAILABLE (never 500), /health says degraded and why, and both recover by themselves', async () => {
    await proxy.cut();
    try {
      const group = await tenant.admin.post(tenant.path('/groups'), { name: 'During the outage' });
      expect(group.status).toBe(503);
      expect(group.body.code).toBe('DEPENDENCY_UNAVAILABLE');
      const health = await fetch(`${stack.licensing.url}/health`);
      expect(health.status).toBe(503);
      const report = (await health.json()) as { status: string; checks: Record<string, unknown>; reasons: string[] };
      expect(report.status).toBe('degraded');
      expect(report.checks.postgres).toBe('down');
      expect(report.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^postgres: /)]));
    } finally {
      await proxy.open();
    }
    await eventually(async () => {
      const report = await (await fetch(`${stack.licensing.url}/health`)).json();
      expect(report).toMatchObject({ status: 'ok', checks: { postgres: 'ok', kafka: 'ok', consumer: 'joined' } });
    }, 20_000, 250);
    await eventually(async () => expect((await tenant.admin.post(tenant.path('/groups'), { name: 'After' })).status).toBe(201), 20_000, 250);
    const names = (await tenant.admin.get(tenant.path('/groups'))).body;
    expect(JSON.stringify(names)).not.toContain('During the outage');
  }, 90_000);

  it('SIGTERM drains device-sync: no new connection, the waiting long poll answered at once, in-flight check-ins finished, what was received committed, group left, relay lock released, within the bound', async () => {
    const enrolled = await tenant.admin.post(tenant.path('/enrollments'), {
      platform: 'windows',
      enrollmentType: 'bulk',
      serialNumber: `SN-${randomUUID()}`,
      osVersion: healthy.osVersion,
    });
    expect(enrolled.status).toBe(201);
    const device = new DeviceClient(stack.gateway.url, enrolled.body.deviceCredential);
    await eventually(async () => expect((await device.checkIn(healthy)).status).toBe(200), 20_000, 250);

    const service = stack.deviceSync;
    const checkIns: ServerResponse[] = [];
    // Every listening socket's server: a connection may land on any of them.
    for (const server of service.servers) {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (req.url?.startsWith('/device/v1/check-in')) checkIns.push(res);
      });
    }
    const hub = service.app.get(LongPollHub);
    const poll = device.poll(30);
    await eventually(() => expect(hub.size).toBe(1), 10_000, 20);

    // Postgres stops answering: the check-ins are held in flight inside device-sync, and so is an
    // event it receives (a redelivery of one it had applied: its inbox is asked before anything).
    const { kafka } = stack.licensing.runtime;
    const { groupId, topics: consumed } = service.app.get(Consumption);
    const consumer = service.app.get(ConsumerHandle).consumer!;
    // The device's enrollment, which device-sync applies (not one it skips without asking Postgres).
    const enrollmentTopic = consumed.find((t) => t.includes('enrollment'))!;
    const redelivered = await firstMessage(kafka, enrollmentTopic, enrolled.body.deviceId);
    proxy.pause();
    const inFlight = Array.from({ length: 5 }, () => device.checkIn(healthy));
    await eventually(() => expect(checkIns).toHaveLength(5), 10_000, 10);
    const received = consumer.stats.received;
    const producer = kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({ topic: enrollmentTopic, messages: [redelivered] });
    await producer.disconnect();
    await eventually(() => expect(consumer.stats.received).toBeGreaterThan(received), 10_000, 20);
    // Received before the stop began, so committed by it. (Not the topics' ends after the stop:
    // other services' relays, held by the same paused Postgres, publish after device-sync left.)
    const receivedUpTo = { [`${sent.topicName}:${sent.partition}`]: String(BigInt(sent.baseOffset!) + 1n) };
    const started = Date.now();
    const closing = service.close();

    const answered = await poll;
    expect(answered.status).toBe(200);
    expect(answered.body.notifications).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect(fetch(`${service.url}/health`)).rejects.toThrow();
    expect(checkIns.filter((res) => !res.writableFinished)).toHaveLength(5);

    proxy.resume();
    await closing;
    expect(Date.now() - started).toBeLessThan(DRAIN_BOUND_MS);
    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const [group] = (await admin.describeGroups([groupId])).groups;
      expect(group.members).toEqual([]);
    } finally {
      await admin.disconnect();
    }
    // Everything received before the stop was applied and its offset committed before leaving.
    expect(await groupReached(kafka, groupId, receivedUpTo)).toBe(true);

    const session = new Client({ connectionString: process.env.DATABASE_URL });
    await session.connect();
    try {
      const lock = `outbox:${service.runtime.config.schema}`;
      const { rows } = await session.query('select pg_try_advisory_lock(hashtext($1)) ok', [lock]);
      expect(rows[0].ok).toBe(true);
      await session.query('select pg_advisory_unlock(hashtext($1))', [lock]);
    } finally {
      await session.end();
    }
  }, 90_000);
});

/** The first message of a topic that mentions `text`, as it was produced (read by a group of the test's own). */
async function firstMessage(kafka: Kafka, topic: string, text: string): Promise<{ key: Buffer | null; value: Buffer | null; headers?: IHeaders }> {
  const consumer = kafka.consumer({ groupId: `drain-test-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value?.toString().includes(text)) resolve({ key: message.key, value: message.value, headers: message.headers });
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
}
