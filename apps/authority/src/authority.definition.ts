import { authorityEvents } from '@mdm/contracts/authority';
import { Topics } from '@mdm/contracts/core';
import { ServiceDefinition } from '@mdm/platform/http';

export const authorityService: ServiceDefinition = {
  name: 'authority',
  // Each of them waits for the tenant's authority and configurations before a command that depends on them.
  publishedVersionsReaders: ['licensing', 'enrollment', 'device-sync'],
  portVariable: 'AUTHORITY_PORT',
  defaultPort: 3101,
  schema: 'authority',
  migrations: [],
  events: authorityEvents,
  produces: [Topics.authorityEvents],
};
