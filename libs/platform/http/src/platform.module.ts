import { BeforeApplicationShutdown, Body, Controller, DynamicModule, Get, Global, HttpCode, Module, Post, Res } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Response } from 'express';
import { EventRegistry } from '@mdm/contracts/core';
import { Database } from '@mdm/platform/database';
import { CallSigner } from '@mdm/platform/http-client';
import { EventStore } from '@mdm/platform/event-store';
import { ConsumerState, InboxConsumer, ReadYourWrites } from '@mdm/platform/inbox';
import { CalledBy, GATEWAY_SERVICE, callerOf, requireCaller } from './caller';
import { Metrics } from './metrics';
import { ZodPipe } from './validation';
import { CLOCK, KAFKA, LOGGER, SERVICE_CONFIG } from './providers';
import { Consumption } from './consumption';
import { ServiceRuntime, Sweeps } from './service-runtime';

/** Where the running consumer (if any) is found, for /health and /metrics. */
export class ConsumerHandle {
  consumer: InboxConsumer | undefined;
  get lag(): number {
    return this.consumer?.lag ?? 0;
  }
  /** The consumer's lag and where it stands in its group, for /health (nothing when the service consumes nothing). */
  get health(): { lag: number; state?: ConsumerState; reason?: string } {
    return this.consumer ? { lag: this.consumer.lag, ...this.consumer.membership } : { lag: 0 };
  }
}

/**
 * Draining the HTTP server: no new connection is accepted, every answer from then on closes its
 * connection (a kept-alive caller must not send its next call into a server going away), idle
 * connections close at once, and Nest's shutdown waits (beforeApplicationShutdown) for the calls in
 * flight, which run on providers that are still up.
 */
export class HttpDrain implements BeforeApplicationShutdown {
  private done: Promise<void> | undefined;

  get draining(): boolean {
    return this.done !== undefined;
  }

  /** `servers`: every listening socket's server (one port, several sockets: see listenOnPort). */
  begin(servers: Server[]): void {
    if (this.done) return;
    for (const server of servers) server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => res.setHeader('connection', 'close'));
    // A connection that finished its answer just before the header above applied is idle now.
    const sweep = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 50);
    const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    this.done = Promise.all(closed).then(() => clearInterval(sweep));
    servers.forEach((s) => s.closeIdleConnections());
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.done;
  }
}

const streamName = z.string().min(1).max(200);
const publishedVersionsQuery = z
  .object({
    queries: z
      .array(
        z
          .object({
            tenantId: z.string().uuid(),
            prefixes: z.array(streamName).max(20).optional(),
            streams: z.array(streamName).max(5000).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

@Controller()
class OperationsController {
  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly consumer: ConsumerHandle,
  ) {}

  @Get('health')
  async health(@Res() res: Response) {
    const report = await this.runtime.health(this.consumer.health);
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  }

  @Get('metrics')
  async metrics(@Res() res: Response) {
    const { metrics, relay } = this.runtime;
    metrics.outboxPending.set((await relay?.pending()) ?? 0);
    metrics.consumerLag.set(this.consumer.lag);
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  }

  /**
   * For other services' read-your-writes: the newest published version of each matching stream, for
   * any number of tenants in one call (a batch of device calls asks once, whatever its tenants).
   */
  @Post('internal/published-versions')
  @HttpCode(200)
  async publishedVersions(
    @Res({ passthrough: true }) res: Response,
    @Body(new ZodPipe(publishedVersionsQuery)) { queries }: z.infer<typeof publishedVersionsQuery>,
  ) {
    requireCaller(callerOf(res), this.runtime.definition.publishedVersionsReaders ?? []);
    return { streams: await this.runtime.store.publishedVersionsOf(queries) };
  }

  /**
   * For the views' freshness (R29): per topic, the events this service has committed that still wait
   * in its outbox, and how long the oldest has waited (by the database's clock).
   */
  @Get('internal/outbox')
  @CalledBy('projection')
  async outbox() {
    const rows = await this.runtime.db.query<{ topic: string; count: number; oldest_age_ms: number }>(
      `select topic, count(*)::int as count,
              (extract(epoch from clock_timestamp() - min(created_at)) * 1000)::int as oldest_age_ms
         from outbox where published_at is null group by topic`,
    );
    return { pending: Object.fromEntries(rows.map((r) => [r.topic, { count: r.count, oldestAgeMs: Math.max(0, r.oldest_age_ms) }])) };
  }

  /** Called by the gateway after it moved the shared test clock: adopt the new time, run due sweeps. */
  @Post('internal/clock/sync')
  @CalledBy(GATEWAY_SERVICE)
  @HttpCode(200)
  async syncClock() {
    await this.runtime.testClock?.sync();
    await this.runtime.sweeps.run();
    return { now: this.runtime.clock.now().toISOString() };
  }
}

/** Makes the runtime's parts injectable and serves /health, /metrics and the clock hook. */
@Global()
@Module({})
export class PlatformModule {
  static forRuntime(runtime: ServiceRuntime): DynamicModule {
    const { consumption } = runtime;
    return {
      module: PlatformModule,
      controllers: [OperationsController],
      providers: [
        { provide: ServiceRuntime, useValue: runtime },
        { provide: Database, useValue: runtime.db },
        { provide: EventStore, useValue: runtime.store },
        { provide: Metrics, useValue: runtime.metrics },
        { provide: SERVICE_CONFIG, useValue: runtime.config },
        { provide: CLOCK, useValue: runtime.clock },
        { provide: LOGGER, useValue: runtime.logger },
        { provide: KAFKA, useValue: runtime.kafka },
        ...(consumption ? [{ provide: Consumption, useValue: consumption }] : []),
        { provide: CallSigner, useValue: runtime.signer },
        { provide: EventRegistry, useValue: runtime.registry },
        { provide: Sweeps, useValue: runtime.sweeps },
        {
          provide: ReadYourWrites,
          useValue: new ReadYourWrites({
            db: runtime.db,
            signer: runtime.signer,
            logger: runtime.logger.child({ component: 'read-your-writes' }),
            observe: (step, seconds) => runtime.metrics.readYourWrites.observe({ step }, seconds),
          }),
        },
        ConsumerHandle,
        HttpDrain,
      ],
      exports: [
        ServiceRuntime,
        Database,
        EventStore,
        Metrics,
        SERVICE_CONFIG,
        CLOCK,
        LOGGER,
        KAFKA,
        ...(consumption ? [Consumption] : []),
        CallSigner,
        EventRegistry,
        Sweeps,
        ReadYourWrites,
        ConsumerHandle,
        HttpDrain,
      ],
    };
  }
}
