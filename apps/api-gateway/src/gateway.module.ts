import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ServiceRuntime } from '@mdm/platform/http';
import { Access } from './access/access';
import { Tokens } from './access/tokens';
import { AuditLog } from './audit';
import { GatewayConfig } from './gateway.definition';
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
      provide: UPSTREAMS,
      inject: [ServiceRuntime],
      useFactory: (runtime: ServiceRuntime): Upstreams => {
        const config = runtime.config as unknown as GatewayConfig;
        const logger = runtime.logger.child({ component: 'upstreams' });
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
