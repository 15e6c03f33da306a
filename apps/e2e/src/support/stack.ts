import { RunningService, startService } from '@mdm/platform/http';
import { testEnv, uniqueName } from '@mdm/platform/testing';
import { authorityService } from '../../../authority/src/authority.definition';
import { AuthorityModule } from '../../../authority/src/authority.module';
import { gatewayService } from '../../../api-gateway/src/gateway.definition';
import { GatewayModule } from '../../../api-gateway/src/gateway.module';
import { ApiClient } from './api-client';

export interface TestStack {
  gateway: RunningService;
  authority: RunningService;
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
  const gateway = await startService(
    gatewayService,
    () => GatewayModule,
    testEnv({
      ...shared,
      GATEWAY_PORT: '0',
      DB_SCHEMA: uniqueName('gateway'),
      MDM_OPERATOR_TOKEN: operatorToken,
      AUTHORITY_URL: authority.url,
    }),
  );
  const client = (token?: string) => new ApiClient(gateway.url, token);
  return {
    gateway,
    authority,
    operator: client(operatorToken),
    anonymous: client(),
    client,
    stop: async () => {
      await gateway.close();
      await authority.close();
    },
  };
}
