import { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { ServiceRuntime } from '@mdm/platform/http';
import { DeviceSyncConfig } from '../../device-sync.definition';
import { PushDispatcher, PushMetrics } from './push-dispatcher';
import { PushProviders } from './push-providers';
import { PushTokens } from './push-tokens';

/**
 * Runs the push dispatcher in this process when an outside provider is configured and the replica
 * does not opt out (PUSH_DISPATCHER=off); its consumer group is PUSH_CONSUMER_GROUP, or the
 * service's own group with `.push` appended (so a test stack's groups stay its own). Built by the
 * notifications module's factory, the one place that reads these parts off the ServiceRuntime.
 */
export class PushDispatch implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly dispatcher: PushDispatcher | undefined;

  constructor(
    parts: Pick<ServiceRuntime, 'kafka' | 'producer' | 'db' | 'clock' | 'logger' | 'metrics'> & { consumerGroup: string; topic: string },
    config: DeviceSyncConfig,
    private readonly providers: PushProviders,
    tokens: PushTokens,
  ) {
    if (config.PUSH_DISPATCHER === 'off' || providers.all.length === 0) return;
    if (!parts.producer) throw new Error('the push dispatcher needs a service that produces events');
    const groupId = config.PUSH_CONSUMER_GROUP ?? `${parts.consumerGroup}.push`;
    this.dispatcher = new PushDispatcher({
      kafka: parts.kafka,
      producer: parts.producer,
      db: parts.db,
      clock: parts.clock,
      logger: parts.logger.child({ component: 'push', groupId }),
      providers,
      tokens,
      metrics: new PushMetrics(parts.metrics.registry),
      topic: parts.topic,
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
