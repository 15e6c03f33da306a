import { z } from 'zod';
import { authorityEvents, tenantStreamId } from '@mdm/contracts/authority';
import { Topics } from '@mdm/contracts/core';
import { deviceSyncEvents } from '@mdm/contracts/device-sync';
import { enrollmentEvents } from '@mdm/contracts/enrollment';
import { licensingEvents, userStreamId } from '@mdm/contracts/licensing';
import { serviceUrl } from '@mdm/platform/config';
import { ServiceConfig, ServiceDefinition } from '@mdm/platform/http';
import { EnrollmentDeviceKeys1765100000000, EnrollmentSchema1764300000100 } from './enrollment.schema';

export const enrollmentConfig = {
  AUTHORITY_URL: serviceUrl('http://127.0.0.1:3101'),
  LICENSING_URL: serviceUrl('http://127.0.0.1:3102'),
  /** R13: how long an MDM certificate is valid. */
  MDM_CERTIFICATE_DAYS: z.coerce.number().int().min(1).max(3650).default(365),
  /** The key-encryption key of the CA's private key at rest, or a file holding it; required in production. */
  MDM_CA_KEY_ENCRYPTION_KEY: z.string().optional(),
  MDM_CA_KEY_ENCRYPTION_KEY_FILE: z.string().optional(),
};

export const enrollmentService: ServiceDefinition<typeof enrollmentConfig> = {
  name: 'enrollment',
  portVariable: 'ENROLLMENT_PORT',
  defaultPort: 3103,
  schema: 'enrollment',
  migrations: [EnrollmentSchema1764300000100, EnrollmentDeviceKeys1765100000000],
  events: [...enrollmentEvents, ...authorityEvents, ...licensingEvents, ...deviceSyncEvents],
  produces: [Topics.enrollmentEvents],
  publishedVersionsReaders: ['device-sync'],
  // Batch mode: a fresh replica replays the topics' history in one transaction per Kafka batch.
  consumes: {
    groupId: 'enrollment.prerequisites',
    topics: [Topics.authorityEvents, Topics.licensingEvents, Topics.deviceCertificates],
    mode: 'batch',
    // An enrollment waits for its tenant's and its user's streams; of device-sync's events it wants
    // renewals only, which come on a topic of their own.
    awaitedStreams: [tenantStreamId(''), userStreamId('')],
  },
  config: enrollmentConfig,
};

/** The service's whole configuration (the common settings and its own), as injected with SERVICE_CONFIG. */
export type EnrollmentConfig = ServiceConfig<typeof enrollmentConfig>;
