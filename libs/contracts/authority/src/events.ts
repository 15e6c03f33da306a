import { z } from 'zod';
import { defineEvent, DomainEventOf, Topics } from '@mdm/contracts/core';
import {
  configurationTypeSchema,
  consentKindSchema,
  managingAuthoritySchema,
  platformSchema,
  tenantAuthoritySchema,
  workloadsSchema,
} from './vocabulary';

export const AUTHORITY_EVENTS_TOPIC = Topics.authorityEvents.topic;

const topic = AUTHORITY_EVENTS_TOPIC;
const isoTime = z.string().datetime();

export const TenantCreated = defineEvent({
  type: 'TenantCreated',
  topic,
  data: z.object({ tenantId: z.string().uuid(), name: z.string().min(1) }).strict(),
});

/** R4: the trigger of the check-in fan-out (R16). */
export const AuthorityChanged = defineEvent({
  type: 'AuthorityChanged',
  topic,
  data: z.object({ from: tenantAuthoritySchema, to: tenantAuthoritySchema }).strict(),
});

export const CoManagementChanged = defineEvent({
  type: 'CoManagementChanged',
  topic,
  data: z
    .object({ enabled: z.boolean(), autoEnrollment: z.boolean(), workloads: workloadsSchema })
    .strict(),
});

export const ConsentGranted = defineEvent({
  type: 'ConsentGranted',
  topic,
  data: z.object({ kind: consentKindSchema, actor: z.string().min(1) }).strict(),
});

export const ApnsCertificateUploaded = defineEvent({
  type: 'ApnsCertificateUploaded',
  topic,
  data: z
    .object({
      authority: managingAuthoritySchema,
      serial: z.string().regex(/^[0-9A-F]+$/),
      subject: z.string(),
      notBefore: isoTime,
      notAfter: isoTime,
    })
    .strict(),
});

const configurationData = {
  configurationId: z.string().uuid(),
  authority: managingAuthoritySchema,
  name: z.string().min(1),
  type: configurationTypeSchema,
  platforms: z.array(platformSchema),
  settings: z.record(z.unknown()),
  assignedGroupIds: z.array(z.string().uuid()),
  version: z.number().int().positive(),
};

export const ConfigurationCreated = defineEvent({
  type: 'ConfigurationCreated',
  topic,
  data: z.object(configurationData).strict(),
});

export const ConfigurationUpdated = defineEvent({
  type: 'ConfigurationUpdated',
  topic,
  data: z.object(configurationData).strict(),
});

export const ConfigurationDeleted = defineEvent({
  type: 'ConfigurationDeleted',
  topic,
  data: z
    .object({ configurationId: z.string().uuid(), authority: managingAuthoritySchema, version: z.number().int().positive() })
    .strict(),
});

export const authorityEvents = [
  TenantCreated,
  AuthorityChanged,
  CoManagementChanged,
  ConsentGranted,
  ApnsCertificateUploaded,
  ConfigurationCreated,
  ConfigurationUpdated,
  ConfigurationDeleted,
] as const;

export type TenantEvent =
  | DomainEventOf<typeof TenantCreated>
  | DomainEventOf<typeof AuthorityChanged>
  | DomainEventOf<typeof CoManagementChanged>
  | DomainEventOf<typeof ConsentGranted>
  | DomainEventOf<typeof ApnsCertificateUploaded>;

export type ConfigurationEvent =
  | DomainEventOf<typeof ConfigurationCreated>
  | DomainEventOf<typeof ConfigurationUpdated>
  | DomainEventOf<typeof ConfigurationDeleted>;

export const tenantStreamId = (tenantId: string) => `tenant-${tenantId}`;
export const configurationStreamId = (configurationId: string) => `configuration-${configurationId}`;
