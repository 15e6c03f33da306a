import { RunningService, startService } from '@mdm/platform/http';
import { eventually, groupCaughtUp, testEnv, uniqueName } from '@mdm/platform/testing';
import { authorityService } from '../../../authority/src/authority.definition';
import { AuthorityModule } from '../../../authority/src/authority.module';
import { enrollmentService } from '../../../enrollment/src/enrollment.definition';
import { EnrollmentModule } from '../../../enrollment/src/enrollment.module';
import { gatewayService } from '../../../api-gateway/src/gateway.definition';
import { licensingService } from '../../../licensing/src/licensing.definition';
import { LicensingModule } from '../../../licensing/src/licensing.module';
import { GatewayModule } from '../../../api-gateway/src/gateway.module';
import { ApiClient } from './api-client';

export interface TestStack {
  gateway: RunningService;
  authority: RunningService;
  licensing: RunningService;
  enrollment: RunningService;
  operator: ApiClient;
  anonymous: ApiClient;
  client(token: string): ApiClient;
  stop(): Promise<void>;
}

/**
 * The services in this process, each in a schema of its own, on free ports, sharing one test clock
 * (its own schema too), behind a real gateway: what a client sees, end to end.
 */
export async function startStack(opts: { testClock?: boolean } = {}): Promise<TestStack> {
  const operatorToken = `op_${uniqueName('token')}_0123456789abcdef`;
  const shared = {
    MDM_TEST_CLOCK: opts.testClock ? '1' : '0',
    MDM_CLOCK_SCHEMA: uniqueName('clock'),
  };
  const authority = await startService(
    authorityService,
    () => AuthorityModule,
    testEnv({ ...shared, AUTHORITY_PORT: '0', DB_SCHEMA: uniqueName('authority') }),
  );
  const consumer = (name: string) => ({ KAFKA_CONSUMER_GROUP: uniqueName(name), DB_SCHEMA: uniqueName(name) });
  const licensing = await startService(
    licensingService,
    () => LicensingModule,
    testEnv({ ...shared, ...consumer('licensing'), LICENSING_PORT: '0', AUTHORITY_URL: authority.url }),
  );
  const enrollment = await startService(
    enrollmentService,
    () => EnrollmentModule,
    testEnv({ ...shared, ...consumer('enrollment'), ENROLLMENT_PORT: '0', AUTHORITY_URL: authority.url, LICENSING_URL: licensing.url }),
  );
  const gateway = await startService(
    gatewayService,
    () => GatewayModule,
    testEnv({
      ...shared,
      GATEWAY_PORT: '0',
      DB_SCHEMA: uniqueName('gateway'),
      MDM_OPERATOR_TOKEN: operatorToken,
      AUTHORITY_URL: authority.url,
      LICENSING_URL: licensing.url,
      ENROLLMENT_URL: enrollment.url,
    }),
  );
  // A fresh consumer group replays the topics' history first; tests start once it has.
  for (const service of [licensing, enrollment]) {
    const { runtime } = service;
    const topics = runtime.definition.consumes!.topics.map((t) => t.topic);
    await eventually(async () => expect(await groupCaughtUp(runtime.kafka, runtime.consumerGroup!, topics)).toBe(true), 120_000, 250);
  }
  const client = (token?: string) => new ApiClient(gateway.url, token);
  return {
    gateway,
    authority,
    licensing,
    enrollment,
    operator: client(operatorToken),
    anonymous: client(),
    client,
    stop: async () => {
      await gateway.close();
      await enrollment.close();
      await licensing.close();
      await authority.close();
    },
  };
}
