import { z } from 'zod';
import { DomainEventOf, Topics, defineEvent } from '@mdm/contracts/core';
import { configurationTypeSchema, managingAuthoritySchema, pushProviderSchema, pushTokenSchema, tenantAuthoritySchema } from '@mdm/contracts/authority';

const topic = Topics.deviceSyncEvents.topic;
const uuid = z.string().uuid();
const isoTime = z.string().datetime();

export const notificationReasonSchema = z.enum(['authorityChanged', 'userAuthorityChanged', 'sync', 'remoteAction']);
export const remoteActionTypeSchema = z.enum(['remoteLock', 'wipe', 'retire', 'sync']);
export type RemoteActionType = z.infer<typeof remoteActionTypeSchema>;
export const remoteActionStatusSchema = z.enum(['pending', 'sent', 'done', 'failed']);
export const complianceStateSchema = z.enum(['compliant', 'noncompliant', 'notEvaluated']);
export const migrationStateSchema = z.enum(['none', 'pendingCheckIn', 'migrated', 'needsSupport', 'blockedApns', 'legacyProfilesExpired']);

/** A configuration as it sits on a device. */
export const installedConfigurationSchema = z.object({
  configurationId: uuid,
  name: z.string(),
  type: configurationTypeSchema,
  authority: managingAuthoritySchema,
  version: z.number().int(),
});

/** The order a device's configurations are listed in: by name, then id (code points, the same everywhere). */
export function configurationOrder(a: { name: string; configurationId: string }, b: { name: string; configurationId: string }): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.configurationId < b.configurationId ? -1 : a.configurationId > b.configurationId ? 1 : 0;
}

export const complianceReasonSchema = z.object({ setting: z.string(), expected: z.unknown(), actual: z.unknown() });

/**
 * R16/R17: one authority change (tenant or user) fanned out to the devices it affects, in bulk: one
 * event, however many devices. Each device's notification goes to mdm.device.notifications (key:
 * device id); each userless device gets DeviceMigrationBlocked.
 */
export const CheckInFanOut = defineEvent({
  type: 'CheckInFanOut',
  topic,
  data: z
    .object({
      reason: z.enum(['authorityChanged', 'userAuthorityChanged']),
      causeEventId: uuid,
      userId: uuid.nullable(),
      from: tenantAuthoritySchema.nullable(),
      to: tenantAuthoritySchema.nullable(),
      devicesNotified: z.number().int().nonnegative(),
      devicesNeedingSupport: z.number().int().nonnegative(),
    })
    .strict(),
});

/**
 * R16: the devices one fan-out marked pendingCheckIn, at most FAN_OUT_CHUNK per event (a tenant of
 * 100,000 devices is 100 small events, not one huge one). `afterVersion` is the device's own stream
 * version when it was marked: a reader that meets this event and the device's own events in any
 * order still knows which came first. Version 2 adds each device's `target`: the authority it is to
 * move to, its user's effective authority (R8), which under `coexistence` differs from user to user
 * (version-1 events take the event's `to` where it names one authority, else null).
 */
export const CheckInsRequested = defineEvent({
  type: 'CheckInsRequested',
  topic,
  schemaVersion: 2,
  upcasters: {
    1: (data) => {
      const v1 = data as { to: string | null; devices: object[] };
      const target = v1.to === 'intune' || v1.to === 'office365' ? v1.to : null;
      return { ...v1, devices: v1.devices.map((d) => ({ ...d, target })) };
    },
  },
  data: z
    .object({
      reason: z.enum(['authorityChanged', 'userAuthorityChanged']),
      causeEventId: uuid,
      to: tenantAuthoritySchema.nullable(),
      /** R23: when the old authority's profiles expire on a device that has not checked in by then. */
      legacyProfilesExpireAt: isoTime,
      devices: z
        .array(
          z
            .object({
              deviceId: uuid,
              afterVersion: z.number().int().nonnegative(),
              nextCheckInAt: isoTime.nullable(),
              target: managingAuthoritySchema.nullable(),
            })
            .strict(),
        )
        .min(1),
    })
    .strict(),
});

/** Devices per CheckInsRequested event: about 100 kB of JSON. */
export const FAN_OUT_CHUNK = 1000;

/** R17 (userless) and R22 (no APNs certificate on the new authority). */
export const DeviceMigrationBlocked = defineEvent({
  type: 'DeviceMigrationBlocked',
  topic,
  data: z.object({ deviceId: uuid, reason: z.enum(['userless', 'apns']), authority: managingAuthoritySchema.nullable() }).strict(),
});

/** R20 */
export const DeviceMigrated = defineEvent({
  type: 'DeviceMigrated',
  topic,
  data: z.object({ deviceId: uuid, from: managingAuthoritySchema, to: managingAuthoritySchema }).strict(),
});

/**
 * R18, R19, R25: what a check-in reported and how the device stands after it. Version 2 added
 * `migration`, the device's migration state after the check-in, and `migrationSince`, when it
 * entered that state (both null in version-1 events, which did not say). Version 3 no longer carries
 * the device's whole configuration lists: what changed is a DeviceConfigurationsChanged before it.
 * Events of versions 1 and 2 keep their lists (`configurations`, `redundantConfigurations`), which a
 * reader takes as the device's lists at that point.
 */
export const DeviceCheckedIn = defineEvent({
  type: 'DeviceCheckedIn',
  topic,
  schemaVersion: 3,
  upcasters: {
    1: (data) => ({ ...(data as object), migration: null, migrationSince: null }),
    2: (data) => data,
  },
  data: z
    .object({
      deviceId: uuid,
      managedBy: managingAuthoritySchema,
      state: z.object({ osVersion: z.string(), encrypted: z.boolean(), jailbroken: z.boolean(), passcodeSet: z.boolean() }).strict(),
      compliance: z.object({ state: complianceStateSchema, reasons: z.array(complianceReasonSchema), source: z.enum(['intune', 'office365', 'configMgr']) }),
      nextCheckInAt: isoTime,
      migration: migrationStateSchema.nullable(),
      migrationSince: isoTime.nullable(),
      /** Versions 1 and 2 only: the device's lists at that point. */
      configurations: z.array(installedConfigurationSchema).optional(),
      redundantConfigurations: z.array(installedConfigurationSchema).optional(),
    })
    .strict(),
});

/**
 * R20/R21: what a check-in changed in the configurations a device has and the redundant ones it
 * keeps, by configuration id (`removed` as they were). Written only when something changed; a
 * check-in that changes nothing is a DeviceCheckedIn alone.
 */
export const DeviceConfigurationsChanged = defineEvent({
  type: 'DeviceConfigurationsChanged',
  topic,
  data: z
    .object({
      deviceId: uuid,
      added: z.array(installedConfigurationSchema),
      updated: z.array(installedConfigurationSchema),
      removed: z.array(installedConfigurationSchema),
      redundantAdded: z.array(installedConfigurationSchema),
      redundantRemoved: z.array(installedConfigurationSchema),
    })
    .strict(),
});

type Held = { configurationId?: string; name: string; type: string; authority: string };
type Item = { configurationId: string; name: string; type: string; authority: string };

/** The held item the delta's item is about: by id, or by name, type and authority for one held without an id. */
const isItem = (held: Held, item: Item) =>
  held.configurationId !== undefined
    ? held.configurationId === item.configurationId
    : held.name === item.name && held.type === item.type && held.authority === item.authority;

/**
 * A device's configurations and redundant ones after a DeviceConfigurationsChanged, configurations in
 * configurationOrder. Readers that kept lists without ids (from version-2 check-ins) match by name,
 * type and authority.
 */
export function applyConfigurationDelta<T extends Held>(
  current: { configurations: T[]; redundant: T[] },
  delta: { added: (T & Item)[]; updated: (T & Item)[]; removed: Item[]; redundantAdded: (T & Item)[]; redundantRemoved: Item[] },
): { configurations: T[]; redundant: T[] } {
  const kept = current.configurations
    .filter((c) => !delta.removed.some((r) => isItem(c, r)))
    .map((c) => delta.updated.find((u) => isItem(c, u)) ?? c);
  return {
    configurations: [...kept, ...delta.added].sort((a, b) => configurationOrder({ configurationId: '', ...a }, { configurationId: '', ...b })),
    redundant: [...current.redundant.filter((c) => !delta.redundantRemoved.some((r) => isItem(c, r))), ...delta.redundantAdded],
  };
}

/** R23 */
export const LegacyProfilesExpired = defineEvent({
  type: 'LegacyProfilesExpired',
  topic,
  data: z.object({ deviceId: uuid, items: z.array(installedConfigurationSchema) }).strict(),
});

/** R24 */
export const RemoteActionQueued = defineEvent({
  type: 'RemoteActionQueued',
  topic,
  data: z.object({ commandId: uuid, deviceId: uuid, type: remoteActionTypeSchema }).strict(),
});

export const RemoteActionStatusChanged = defineEvent({
  type: 'RemoteActionStatusChanged',
  topic,
  data: z
    .object({ commandId: uuid, deviceId: uuid, type: remoteActionTypeSchema, status: remoteActionStatusSchema, error: z.string().nullable() })
    .strict(),
});

/**
 * R15: renewed at check-in in the last 30 days; enrollment learns the new expiry from it, on a topic
 * of renewals alone (device-sync's own carries every check-in of the fleet).
 */
export const MdmCertificateRenewed = defineEvent({
  type: 'MdmCertificateRenewed',
  topic,
  alsoOn: [Topics.deviceCertificates.topic],
  data: z.object({ deviceId: uuid, serial: z.string().regex(/^[0-9A-F]+$/), notBefore: isoTime, notAfter: isoTime }).strict(),
});

/**
 * R16: the device reported a push token at check-in that differs from the one device-sync had (the
 * token given at enrollment travels in DeviceEnrolled). The provider follows from the platform.
 */
export const PushTokenRegistered = defineEvent({
  type: 'PushTokenRegistered',
  topic,
  data: z.object({ deviceId: uuid, provider: pushProviderSchema, token: pushTokenSchema }).strict(),
});

/**
 * R16: the provider said the token is dead (APNs 410, FCM UNREGISTERED, WNS 410): it is no longer
 * used until the device reports a new one. `status` is the provider's HTTP answer.
 */
export const PushTokenCleared = defineEvent({
  type: 'PushTokenCleared',
  topic,
  data: z.object({ deviceId: uuid, provider: pushProviderSchema, reason: z.literal('unregistered'), status: z.number().int() }).strict(),
});

export const deviceSyncEvents = [
  CheckInFanOut,
  CheckInsRequested,
  DeviceMigrationBlocked,
  DeviceMigrated,
  DeviceCheckedIn,
  DeviceConfigurationsChanged,
  LegacyProfilesExpired,
  RemoteActionQueued,
  RemoteActionStatusChanged,
  MdmCertificateRenewed,
  PushTokenRegistered,
  PushTokenCleared,
] as const;

export type DeviceSyncEvent =
  | DomainEventOf<typeof CheckInFanOut>
  | DomainEventOf<typeof CheckInsRequested>
  | DomainEventOf<typeof DeviceMigrationBlocked>
  | DomainEventOf<typeof DeviceMigrated>
  | DomainEventOf<typeof DeviceCheckedIn>
  | DomainEventOf<typeof DeviceConfigurationsChanged>
  | DomainEventOf<typeof LegacyProfilesExpired>
  | DomainEventOf<typeof RemoteActionQueued>
  | DomainEventOf<typeof RemoteActionStatusChanged>
  | DomainEventOf<typeof MdmCertificateRenewed>
  | DomainEventOf<typeof PushTokenRegistered>
  | DomainEventOf<typeof PushTokenCleared>;

/** Device-sync's own stream of a device (enrollment's is `device-<id>`: each service names its own). */
export const syncStreamId = (deviceId: string) => `devicesync-${deviceId}`;
export const fanOutStreamId = (tenantId: string) => `fanout-${tenantId}`;

/** The message on mdm.device.notifications (key: device id), for outside push providers. */
export const deviceNotificationSchema = z.object({
  notificationId: uuid,
  deviceId: uuid,
  tenantId: uuid,
  reason: notificationReasonSchema,
  createdAt: isoTime,
});
export type DeviceNotification = z.infer<typeof deviceNotificationSchema>;
