import { Topics } from '@mdm/contracts/core';
import { Provider, Type } from '@nestjs/common';
import { Consumption, SERVICE_CONFIG, ServiceRuntime } from '@mdm/platform/http';
import { FanOutPort, NotifierPort } from '../ports';
import { notificationChannel } from './channels';
import { CheckInFanOutService } from './check-in-fan-out.service';
import { LongPollHub } from './long-poll-hub';
import { NotificationsController } from './notifications.controller';
import { NotifierService } from './notifier.service';
import { DeviceSyncConfig } from '../device-sync.definition';
import { PushDispatch } from './push/push-dispatch';
import { PushProviders } from './push/push-providers';
import { PushTokens } from './push/push-tokens';

/**
 * What device-sync's module spreads into its controllers and providers. The services take their
 * platform parts explicitly (tests build them without Nest); only these factories know ServiceRuntime.
 * DeviceAuth is the module's own provider (the check-in uses it too).
 */
export const notificationControllers: Type<unknown>[] = [NotificationsController];

export const notificationProviders: Provider[] = [
  {
    provide: NotifierService,
    inject: [ServiceRuntime],
    useFactory: (rt: ServiceRuntime) =>
      new NotifierService({ clock: rt.clock, schema: rt.config.schema, topic: rt.topicName(Topics.deviceNotifications) }),
  },
  { provide: NotifierPort, useExisting: NotifierService },
  { provide: FanOutPort, useClass: CheckInFanOutService },
  PushTokens,
  {
    provide: LongPollHub,
    inject: [ServiceRuntime],
    // One per process; Nest starts and stops it (OnModuleInit / OnModuleDestroy).
    useFactory: (rt: ServiceRuntime) =>
      new LongPollHub({
        db: rt.db,
        clientConfig: { ...rt.db.clientConfig(), application_name: `${rt.definition.name}:long-poll` },
        channel: notificationChannel(rt.config.schema),
        clock: rt.clock,
        logger: rt.logger.child({ component: 'long-poll' }),
      }),
  },
  {
    provide: PushProviders,
    inject: [SERVICE_CONFIG],
    useFactory: (config: DeviceSyncConfig) => PushProviders.from(config),
  },
  {
    provide: PushDispatch,
    inject: [ServiceRuntime, Consumption, SERVICE_CONFIG, PushProviders, PushTokens],
    useFactory: (rt: ServiceRuntime, consumption: Consumption, config: DeviceSyncConfig, providers: PushProviders, tokens: PushTokens) =>
      new PushDispatch(
        {
          kafka: rt.kafka,
          producer: rt.producer,
          db: rt.db,
          clock: rt.clock,
          logger: rt.logger,
          metrics: rt.metrics,
          consumerGroup: consumption.groupId,
          topic: rt.topicName(Topics.deviceNotifications),
        },
        config,
        providers,
        tokens,
      ),
  },
];
