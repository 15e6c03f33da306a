import { Controller, DynamicModule, Get, Global, HttpCode, Inject, Module, Param, Post, Query, Res } from '@nestjs/common';
import { z } from 'zod';
import type { Response } from 'express';
import { Database } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { InboxConsumer, ReadYourWrites } from '@mdm/platform/inbox';
import { CalledBy, GATEWAY_SERVICE, callerOf, requireCaller } from './caller';
import { Metrics } from './metrics';
import { PathPipe, ZodPipe } from './validation';
import { ServiceRuntime } from './service-runtime';

/** Where the running consumer (if any) is found, for /health and /metrics. */
export class ConsumerHandle {
  consumer: InboxConsumer | undefined;
  get lag(): number {
    return this.consumer?.lag ?? 0;
  }
}

@Controller()
class OperationsController {
  constructor(
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(ConsumerHandle) private readonly consumer: ConsumerHandle,
  ) {}

  @Get('health')
  async health(@Res() res: Response) {
    const report = await this.runtime.health(this.consumer.lag);
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  }

  @Get('metrics')
  async metrics(@Res() res: Response) {
    const { metrics, relay } = this.runtime;
    metrics.outboxPending.set(await relay.pending());
    metrics.consumerLag.set(this.consumer.lag);
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  }

  /** For other services' read-your-writes (those the definition names): the newest published version of each matching stream. */
  @Get('internal/tenants/:tenantId/published-versions')
  async publishedVersions(
    @Res({ passthrough: true }) res: Response,
    @Param(new PathPipe(z.object({ tenantId: z.string().uuid() }))) { tenantId }: { tenantId: string },
    @Query(new ZodPipe(z.object({ prefix: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]) }).strict()))
    { prefix }: { prefix: string | string[] },
  ) {
    requireCaller(callerOf(res), this.runtime.definition.publishedVersionsReaders ?? []);
    return { streams: await this.runtime.store.publishedVersions(tenantId, ([] as string[]).concat(prefix)) };
  }

  /** Called by the gateway after it moved the shared test clock: adopt the new time, run due sweeps. */
  @Post('internal/clock/sync')
  @CalledBy(GATEWAY_SERVICE)
  @HttpCode(200)
  async syncClock() {
    await this.runtime.testClock?.sync();
    await this.runtime.runSweeps();
    return { now: this.runtime.clock.now().toISOString() };
  }
}

/** Makes the runtime's parts injectable and serves /health, /metrics and the clock hook. */
@Global()
@Module({})
export class PlatformModule {
  static forRuntime(runtime: ServiceRuntime): DynamicModule {
    return {
      module: PlatformModule,
      controllers: [OperationsController],
      providers: [
        { provide: ServiceRuntime, useValue: runtime },
        { provide: Database, useValue: runtime.db },
        { provide: EventStore, useValue: runtime.store },
        { provide: Metrics, useValue: runtime.metrics },
        {
          provide: ReadYourWrites,
          useValue: new ReadYourWrites({ db: runtime.db, signer: runtime.signer, logger: runtime.logger.child({ component: 'read-your-writes' }) }),
        },
        ConsumerHandle,
      ],
      exports: [ServiceRuntime, Database, EventStore, Metrics, ReadYourWrites, ConsumerHandle],
    };
  }
}
