import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { deadLetterTopic } from '@mdm/contracts/core';
import { Consumption, RunningService, ServiceDefinition, startService } from '@mdm/platform/http';
import { IsolatedTopics, TEST_SIGNING_KEY, eventually, groupCaughtUp, testEnv, uniqueName } from '@mdm/platform/testing';
import { authorityService } from '../../../authority/src/authority.definition';
import { AuthorityModule } from '../../../authority/src/authority.module';
import { deviceSyncService } from '../../../device-sync/src/device-sync.definition';
import { DeviceSyncModule } from '../../../device-sync/src/device-sync.module';
import { PushDispatch } from '../../../device-sync/src/notifications/push/push-dispatch';
import { enrollmentService } from '../../../enrollment/src/enrollment.definition';
import { EnrollmentModule } from '../../../enrollment/src/enrollment.module';
import { gatewayService } from '../../../api-gateway/src/gateway.definition';
import { GatewayModule } from '../../../api-gateway/src/gateway.module';
import { licensingService } from '../../../licensing/src/licensing.definition';
import { LicensingModule } from '../../../licensing/src/licensing.module';
import { projectionService } from '../../../projection/src/projection.definition';
import { ProjectionModule } from '../../../projection/src/projection.module';
import { ApiClient } from './api-client';

export interface TestStack {
  gateway: RunningService;
  authority: RunningService;
  licensing: RunningService;
  enrollment: RunningService;
  deviceSync: RunningService;
  projection: RunningService;
  operatorToken: string;
  /** The key every service of the stack signs and checks call contexts with (MDM_GATEWAY_SIGNING_KEY). */
  signingKey: string;
  operator: ApiClient;
  anonymous: ApiClient;
  client(token: string): ApiClient;
  /** Closes the services and removes what they made: schemas, topics, consumer groups. */
  stop(): Promise<void>;
}

export interface StackOptions {
  testClock?: boolean;
  /** Settings for every service on top of the harness's (e.g. DATABASE_URL, LOG_LEVEL for the bench). */
  env?: Record<string, string>;
}

/**
 * The whole system in this process, as a client sees it behind a real gateway: each service in a
 * schema of its own, on a free port, with consumer groups and event topics of its own (so there is
 * no history of other stacks to replay), sharing one test clock. The bench starts it too.
 */
export async function startStack(opts: StackOptions = {}): Promise<TestStack> {
  const operatorToken = `op_${uniqueName('token')}_0123456789abcdef`;
  const topics = new IsolatedTopics(randomBytes(4).toString('hex'));
  const started: RunningService[] = [];
  const schemas: string[] = [];
  const groups: string[] = [];
  const shared: Record<string, string> = {
    MDM_TEST_CLOCK: opts.testClock ? '1' : '0',
    MDM_CLOCK_SCHEMA: schema('clock'),
    MDM_GATEWAY_SIGNING_KEY: TEST_SIGNING_KEY,
    ...opts.env,
  };

  function schema(name: string) {
    schemas.push(uniqueName(name));
    return schemas[schemas.length - 1];
  }
  const own = (name: string, consumes = false): Record<string, string> => {
    if (!consumes) return { DB_SCHEMA: schema(name) };
    groups.push(uniqueName(name));
    return { DB_SCHEMA: schema(name), KAFKA_CONSUMER_GROUP: groups[groups.length - 1] };
  };
  async function start(definition: ServiceDefinition, module: () => unknown, env: Record<string, string>) {
    const service = await startService(topics.definition(definition), module as never, testEnv({ ...shared, ...env }));
    started.push(service);
    return service;
  }
  async function stop() {
    for (const s of [...started].reverse()) await s.close().catch(() => undefined);
    await removeKafkaState(started[0], [...topics.specs.keys(), ...groups.map((g) => deadLetterTopic(g).topic)], groups);
    await dropSchemas(shared.DATABASE_URL ?? process.env.DATABASE_URL!, schemas);
  }

  try {
    const authority = await start(authorityService, () => AuthorityModule, { ...own('authority'), AUTHORITY_PORT: '0' });
    const urls = { AUTHORITY_URL: authority.url };
    const licensing = await start(licensingService, () => LicensingModule, { ...own('licensing', true), ...urls, LICENSING_PORT: '0' });
    Object.assign(urls, { LICENSING_URL: licensing.url });
    const enrollment = await start(enrollmentService, () => EnrollmentModule, { ...own('enrollment', true), ...urls, ENROLLMENT_PORT: '0' });
    Object.assign(urls, { ENROLLMENT_URL: enrollment.url });
    const deviceSync = await start(deviceSyncService, () => DeviceSyncModule, { ...own('device_sync', true), ...urls, DEVICE_SYNC_PORT: '0' });
    Object.assign(urls, { DEVICE_SYNC_URL: deviceSync.url });
    // The push dispatcher's own group, when a push provider is configured (R16).
    const pushGroup = deviceSync.app.get(PushDispatch).dispatcher?.groupId;
    if (pushGroup) groups.push(pushGroup);
    const projection = await start(projectionService, () => ProjectionModule, { ...own('projection', true), ...urls, PROJECTION_PORT: '0' });
    Object.assign(urls, { PROJECTION_URL: projection.url });
    const gateway = await start(gatewayService, () => GatewayModule, {
      ...own('gateway'),
      ...urls,
      GATEWAY_PORT: '0',
      MDM_OPERATOR_TOKEN: operatorToken,
    });
    // The consumers have joined their groups and committed what is there before anyone calls.
    for (const { app, runtime } of [licensing, enrollment, deviceSync, projection]) {
      const { groupId, topics } = app.get(Consumption);
      await eventually(async () => {
        if (!(await groupCaughtUp(runtime.kafka, groupId, topics))) throw new Error(`${runtime.definition.name} is catching up`);
      }, 60_000, 200);
    }
    const client = (token?: string) => new ApiClient(gateway.url, token);
    return {
      gateway,
      authority,
      licensing,
      enrollment,
      deviceSync,
      projection,
      operatorToken,
      signingKey: shared.MDM_GATEWAY_SIGNING_KEY,
      operator: client(operatorToken),
      anonymous: client(),
      client,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function removeKafkaState(any: RunningService | undefined, topics: string[], groups: string[]): Promise<void> {
  if (!any) return;
  const admin = any.runtime.kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics }).catch(() => undefined);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function dropSchemas(url: string, schemas: string[]): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
  } finally {
    await client.end();
  }
}
