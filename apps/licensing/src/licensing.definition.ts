import { authorityEvents, tenantStreamId } from '@mdm/contracts/authority';
import { Topics } from '@mdm/contracts/core';
import { enrollmentEvents } from '@mdm/contracts/enrollment';
import { licensingEvents } from '@mdm/contracts/licensing';
import { serviceUrl } from '@mdm/platform/config';
import { ServiceConfig, ServiceDefinition } from '@mdm/platform/http';
import { LicensingDirectoryLists1765100000000, LicensingSchema1764300000000 } from './licensing.schema';

/** The authority service's streams a licensing command depends on: the tenant's and its configurations. */
export const AUTHORITY_PREFIXES = [tenantStreamId(''), 'configuration-'];

export const licensingConfig = {
  /** The owner of tenants and configurations: asked which of its events a command must wait for. */
  AUTHORITY_URL: serviceUrl('http://127.0.0.1:3101'),
};

/** The service's whole configuration (the common settings and its own), as injected with SERVICE_CONFIG. */
export type LicensingConfig = ServiceConfig<typeof licensingConfig>;

/** Users, groups and licenses (R8–R10), with what it learns of tenants, configurations and devices. */
export const licensingService: ServiceDefinition<typeof licensingConfig> = {
  name: 'licensing',
  // Enrollment waits for the enrolling user's licenses (R8, R12).
  publishedVersionsReaders: ['enrollment', 'device-sync'],
  portVariable: 'LICENSING_PORT',
  defaultPort: 3102,
  schema: 'licensing',
  migrations: [LicensingSchema1764300000000, LicensingDirectoryLists1765100000000],
  events: [...licensingEvents, ...authorityEvents, ...enrollmentEvents],
  produces: [Topics.licensingEvents],
  consumes: {
    groupId: 'licensing.directory',
    topics: [Topics.authorityEvents, Topics.enrollmentEvents],
    mode: 'batch',
    awaitedStreams: AUTHORITY_PREFIXES,
  },
  config: licensingConfig,
};
