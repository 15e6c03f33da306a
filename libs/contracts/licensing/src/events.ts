import { z } from 'zod';
import { DomainEventOf, Topics, defineEvent } from '@mdm/contracts/core';
import { managingAuthoritySchema } from '@mdm/contracts/authority';

const topic = Topics.licensingEvents.topic;
const uuid = z.string().uuid();
/** A user's effective authority (R8); null = none, the user cannot enroll (NO_MDM_LICENSE). */
export const effectiveAuthoritySchema = managingAuthoritySchema.nullable();

export const GroupCreated = defineEvent({
  type: 'GroupCreated',
  topic,
  data: z.object({ groupId: uuid, name: z.string().min(1) }).strict(),
});

export const UserCreated = defineEvent({
  type: 'UserCreated',
  topic,
  data: z
    .object({
      userId: uuid,
      userPrincipalName: z.string().min(1),
      displayName: z.string().nullable(),
      groupIds: z.array(uuid),
    })
    .strict(),
});

export const UserGroupsChanged = defineEvent({
  type: 'UserGroupsChanged',
  topic,
  data: z.object({ userId: uuid, groupIds: z.array(uuid) }).strict(),
});

export const LicenseAssigned = defineEvent({
  type: 'LicenseAssigned',
  topic,
  data: z.object({ userId: uuid, sku: z.string().min(1) }).strict(),
});

export const LicenseRemoved = defineEvent({
  type: 'LicenseRemoved',
  topic,
  data: z.object({ userId: uuid, sku: z.string().min(1) }).strict(),
});

/** R9: the user's effective authority moved; device-sync switches all their devices (R16). */
export const UserAuthorityChanged = defineEvent({
  type: 'UserAuthorityChanged',
  topic,
  data: z
    .object({
      userId: uuid,
      from: effectiveAuthoritySchema,
      to: effectiveAuthoritySchema,
      /** R10: e.g. NO_INTUNE_CONFIGURATION_ASSIGNED */
      warnings: z.array(z.string()),
    })
    .strict(),
});

export const licensingEvents = [GroupCreated, UserCreated, UserGroupsChanged, LicenseAssigned, LicenseRemoved, UserAuthorityChanged] as const;

export type LicensingEvent =
  | DomainEventOf<typeof GroupCreated>
  | DomainEventOf<typeof UserCreated>
  | DomainEventOf<typeof UserGroupsChanged>
  | DomainEventOf<typeof LicenseAssigned>
  | DomainEventOf<typeof LicenseRemoved>
  | DomainEventOf<typeof UserAuthorityChanged>;

export const groupStreamId = (groupId: string) => `group-${groupId}`;
export const userStreamId = (userId: string) => `user-${userId}`;
