import { z } from 'zod';
import { DomainEventOf, Topics, defineEvent } from '@mdm/contracts/core';
import { managingAuthoritySchema, platformSchema, pushTokenSchema } from '@mdm/contracts/authority';

const topic = Topics.enrollmentEvents.topic;
const uuid = z.string().uuid();
const isoTime = z.string().datetime();

/** R11 */
export const enrollmentTypeSchema = z.enum(['user', 'ade', 'bulk']);

export const mdmCertificateSchema = z.object({
  serial: z.string().regex(/^[0-9A-F]+$/),
  notBefore: isoTime,
  notAfter: isoTime,
});

/**
 * R13: what device-sync needs to authenticate the device (the credential's hash), never the secret.
 * Version 2 adds `pushToken` (R16): the token the device gave at enrollment for its platform's push
 * provider, or null (version-1 events did not carry one).
 */
export const DeviceEnrolled = defineEvent({
  type: 'DeviceEnrolled',
  topic,
  schemaVersion: 2,
  upcasters: { 1: (data) => ({ ...(data as object), pushToken: null }) },
  data: z
    .object({
      deviceId: uuid,
      serialNumber: z.string().min(1),
      platform: platformSchema,
      enrollmentType: enrollmentTypeSchema,
      userId: uuid.nullable(),
      deviceName: z.string().nullable(),
      osVersion: z.string(),
      androidWorkProfile: z.boolean(),
      managedBy: managingAuthoritySchema,
      mdmCertificate: mdmCertificateSchema,
      credentialHash: z.string().regex(/^[0-9a-f]{64}$/),
      pushToken: pushTokenSchema.nullable(),
    })
    .strict(),
});

/** R14 */
export const DeviceUnenrolled = defineEvent({
  type: 'DeviceUnenrolled',
  topic,
  data: z.object({ deviceId: uuid, by: z.enum(['admin', 'device']) }).strict(),
});

/** R15 */
export const DeviceRemoved = defineEvent({
  type: 'DeviceRemoved',
  topic,
  data: z.object({ deviceId: uuid, reason: z.literal('mdm-certificate-expired') }).strict(),
});

export const enrollmentEvents = [DeviceEnrolled, DeviceUnenrolled, DeviceRemoved] as const;

export type EnrollmentEvent =
  | DomainEventOf<typeof DeviceEnrolled>
  | DomainEventOf<typeof DeviceUnenrolled>
  | DomainEventOf<typeof DeviceRemoved>;

export const deviceStreamId = (deviceId: string) => `device-${deviceId}`;
