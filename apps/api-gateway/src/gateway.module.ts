import { Module } from '@nestjs/common';
import { SERVICE_CONFIG, ServiceRuntime } from '@mdm/platform/http';
import { Access } from './access/access';
import { DeviceFailureLimit } from './access/device-failures';
import { Tokens } from './access/tokens';
import { AuditLog } from './audit';
import { GatewayConfig } from './gateway.definition';
import { buildRouteTable } from './routes';
import { DispatcherController, ROUTE_TABLE } from './routing/dispatcher.controller';

@Module({
  controllers: [DispatcherController],
  providers: [
    Tokens,
    Access,
    AuditLog,
    {
      provide: DeviceFailureLimit,
      inject: [SERVICE_CONFIG],
      useFactory: (config: GatewayConfig) => {
        const windowMs = config.DEVICE_FAILURE_WINDOW_S * 1000;
        return new DeviceFailureLimit({ limit: config.DEVICE_FAILURE_LIMIT, windowMs, maxEntries: 100_000, knownMs: 15 * windowMs });
      },
    },
    {
      provide: ROUTE_TABLE,
      inject: [ServiceRuntime, SERVICE_CONFIG, Tokens, AuditLog],
      useFactory: (runtime: ServiceRuntime, config: GatewayConfig, tokens: Tokens, audit: AuditLog) => {
        const serviceUrls = {
          authority: config.AUTHORITY_URL,
          licensing: config.LICENSING_URL,
          enrollment: config.ENROLLMENT_URL,
          deviceSync: config.DEVICE_SYNC_URL,
          projection: config.PROJECTION_URL,
        };
        return buildRouteTable({ runtime, tokens, audit, serviceUrls });
      },
    },
  ],
  exports: [Tokens],
})
export class GatewayModule {}
