import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { LOGGER, SERVICE_CONFIG, ServiceRuntime } from '@mdm/platform/http';
import { Logger } from '@mdm/platform/logging';
import { Access } from './access/access';
import { DeviceFailureLimit } from './access/device-failures';
import { Tokens } from './access/tokens';
import { AuditLog } from './audit';
import type { GatewayConfig } from './gateway.config';
import { GatewayDeps, buildRouteTable } from './routes';
import { DispatcherController, ROUTE_TABLE } from './routing/dispatcher.controller';
import { UpstreamPool } from './routing/upstream-pool';

const UPSTREAMS = Symbol('UPSTREAMS');
type Upstreams = GatewayDeps['upstreams'];

/** Health-checks every service's instances while the gateway runs. */
class UpstreamChecks implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(UPSTREAMS) private readonly upstreams: Upstreams) {}

  onModuleInit(): void {
    for (const pool of Object.values(this.upstreams)) pool.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(Object.values(this.upstreams).map((pool) => pool.stop()));
  }
}

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
      provide: UPSTREAMS,
      inject: [LOGGER, SERVICE_CONFIG],
      useFactory: (platformLogger: Logger, config: GatewayConfig): Upstreams => {
        const logger = platformLogger.child({ component: 'upstreams' });
        const pool = (service: string, urls: string) => new UpstreamPool(service, urls, { logger });
        return {
          authority: pool('authority', config.AUTHORITY_URL),
          licensing: pool('licensing', config.LICENSING_URL),
          enrollment: pool('enrollment', config.ENROLLMENT_URL),
          deviceSync: pool('device-sync', config.DEVICE_SYNC_URL),
          projection: pool('projection', config.PROJECTION_URL),
        };
      },
    },
    UpstreamChecks,
    {
      provide: ROUTE_TABLE,
      inject: [ServiceRuntime, Tokens, AuditLog, UPSTREAMS],
      useFactory: (runtime: ServiceRuntime, tokens: Tokens, audit: AuditLog, upstreams: Upstreams) =>
        buildRouteTable({ runtime, tokens, audit, upstreams }),
    },
  ],
  exports: [Tokens],
})
export class GatewayModule {}
