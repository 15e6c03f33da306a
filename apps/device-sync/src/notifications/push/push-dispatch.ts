import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Topics } from '@mdm/contracts/core';
import { SERVICE_CONFIG, ServiceRuntime } from '@mdm/platform/http';
import { DeviceSyncConfig } from '../../device-sync.definition';
import { PushDispatcher, PushMetrics } from './push-dispatcher';
import { PushProviders } from './push-providers';
import { PushTokens } from './push-tokens';

/**
 * Runs the push dispatcher in this process when an outside provider is configured and the replica
 * does not opt out (PUSH_DISPATCHER=off); its consumer group is PUSH_CONSUMER_GROUP, or the
 * service's own group with `.push` appended (so a test stack's groups stay its own).
 */
@Injectable()
export class PushDispatch implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly dispatcher: PushDispatcher | undefined;

  constructor(
    @Inject(ServiceRuntime) runtime: ServiceRuntime,
    @Inject(SERVICE_CONFIG) config: DeviceSyncConfig,
    @Inject(PushProviders) private readonly providers: PushProviders,
    @Inject(PushTokens) tokens: PushTokens,
  ) {
    if (config.PUSH_DISPATCHER === 'off' || providers.all.length === 0) return;
    if (!runtime.producer) throw new Error('the push dispatcher needs a service that produces events');
    const groupId = config.PUSH_CONSUMER_GROUP ?? `${runtime.consumerGroup}.push`;
    this.dispatcher = new PushDispatcher({
      kafka: runtime.kafka,
      producer: runtime.producer,
      db: runtime.db,
      clock: runtime.clock,
      logger: runtime.logger.child({ component: 'push', groupId }),
      providers,
      tokens,
      metrics: new PushMetrics(runtime.metrics.registry),
      topic: runtime.topicName(Topics.deviceNotifications),
      groupId,
      concurrency: config.PUSH_CONCURRENCY,
      queue: config.PUSH_QUEUE,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.dispatcher?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher?.stop();
    await this.providers.close();
  }
}
