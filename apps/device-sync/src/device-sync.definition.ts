import { z } from 'zod';
import { authorityEvents, configurationStreamId, tenantStreamId } from '@mdm/contracts/authority';
import { Topics } from '@mdm/contracts/core';
import { deviceSyncEvents } from '@mdm/contracts/device-sync';
import { deviceStreamId, enrollmentEvents } from '@mdm/contracts/enrollment';
import { licensingEvents, userStreamId } from '@mdm/contracts/licensing';
import { serviceUrl } from '@mdm/platform/config';
import { ServiceConfig, ServiceDefinition } from '@mdm/platform/http';
import {
  DeviceAnswerLists1765200000000,
  DeviceAssignments1765100000000,
  DeviceLegacyDue1764800000000,
  DevicePushTokens1765000000000,
  DeviceSyncSchema1764400000000,
  DeviceTenantAuthorityEvent1765300000000,
} from './device-sync.schema';
import { pushConfig } from './notifications/push/push-provider';

export const deviceSyncConfig = {
  AUTHORITY_URL: serviceUrl('http://127.0.0.1:3101'),
  LICENSING_URL: serviceUrl('http://127.0.0.1:3102'),
  ENROLLMENT_URL: serviceUrl('http://127.0.0.1:3103'),
  /** R18: how often a device checks in on its own. */
  CHECK_IN_INTERVAL_HOURS: z.coerce.number().positive().max(24 * 7).default(8),
  /** Outside push providers: each is off until its settings are given. */
  ...pushConfig.shape,
};

export const deviceSyncService: ServiceDefinition<typeof deviceSyncConfig> = {
  name: 'device-sync',
  portVariable: 'DEVICE_SYNC_PORT',
  defaultPort: 3104,
  schema: 'device_sync',
  migrations: [
    DeviceSyncSchema1764400000000,
    DeviceLegacyDue1764800000000,
    DevicePushTokens1765000000000,
    DeviceAssignments1765100000000,
    DeviceAnswerLists1765200000000,
    DeviceTenantAuthorityEvent1765300000000,
  ],
  events: [...deviceSyncEvents, ...authorityEvents, ...licensingEvents, ...enrollmentEvents],
  produces: [Topics.deviceSyncEvents, Topics.deviceCertificates, Topics.deviceNotifications],
  consumes: {
    groupId: 'device-sync.devices',
    topics: [Topics.authorityEvents, Topics.licensingEvents, Topics.enrollmentEvents],
    mode: 'batch',
    // Device calls wait for their tenant, its configurations, the device's user and the device itself.
    awaitedStreams: [tenantStreamId(''), configurationStreamId(''), userStreamId(''), deviceStreamId('')],
  },
  config: deviceSyncConfig,
};

/** The service's whole configuration (the common settings and its own), as injected with SERVICE_CONFIG. */
export type DeviceSyncConfig = ServiceConfig<typeof deviceSyncConfig>;
