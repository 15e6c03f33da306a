import { authorityEvents } from '@mdm/contracts/authority';
import { Topics } from '@mdm/contracts/core';
import { deviceSyncEvents } from '@mdm/contracts/device-sync';
import { enrollmentEvents } from '@mdm/contracts/enrollment';
import { licensingEvents } from '@mdm/contracts/licensing';
import { serviceUrl } from '@mdm/platform/config';
import { ServiceConfig, ServiceDefinition } from '@mdm/platform/http';
import { DeviceListsApart1765100000000, DeviceRowStorage1764700000000, ProjectionSchema1764500000000 } from './view-tables';

/** The owners of the events it folds: their outboxes count in the views' lag (R29). */
export const projectionConfig = {
  AUTHORITY_URL: serviceUrl('http://127.0.0.1:3101'),
  LICENSING_URL: serviceUrl('http://127.0.0.1:3102'),
  ENROLLMENT_URL: serviceUrl('http://127.0.0.1:3103'),
  DEVICE_SYNC_URL: serviceUrl('http://127.0.0.1:3104'),
};

/** The service's whole configuration (the common settings and its own), as injected with SERVICE_CONFIG. */
export type ProjectionConfig = ServiceConfig<typeof projectionConfig>;

/** The views (R26–R30): every event topic in, read models out; it produces no events. */
export const projectionService: ServiceDefinition<typeof projectionConfig> = {
  name: 'projection',
  portVariable: 'PROJECTION_PORT',
  defaultPort: 3105,
  schema: 'projection',
  migrations: [ProjectionSchema1764500000000, DeviceRowStorage1764700000000, DeviceListsApart1765100000000],
  events: [...authorityEvents, ...licensingEvents, ...enrollmentEvents, ...deviceSyncEvents],
  produces: [],
  consumes: {
    groupId: 'projection.views',
    topics: [Topics.authorityEvents, Topics.licensingEvents, Topics.enrollmentEvents, Topics.deviceSyncEvents],
    mode: 'batch',
    ownConsumers: true,
  },
  config: projectionConfig,
};
