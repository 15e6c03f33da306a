import { z } from 'zod';
import { HttpOperation, ADMIN_ONLY, uuid } from '@mdm/contracts/core';
import { managingAuthoritySchema, platformSchema, pushTokenSchema, tenantParams } from '@mdm/contracts/authority';
import { enrollmentTypeSchema } from './events';

/** R12: the platforms that need an APNs certificate. */
export const APPLE_PLATFORMS: readonly string[] = ['ios', 'ipados', 'macos'];

export const enrollBody = z
  .object({
    platform: platformSchema,
    enrollmentType: enrollmentTypeSchema,
    userId: uuid.optional(),
    serialNumber: z.string().trim().min(1).max(128),
    deviceName: z.string().trim().min(1).max(200).optional(),
    osVersion: z.string().trim().min(1).max(64),
    androidWorkProfile: z.boolean().optional(),
    /** R16: the device's token for its platform's push provider (APNs, FCM or WNS). */
    pushToken: pushTokenSchema.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.enrollmentType === 'user' && !body.userId) {
      ctx.addIssue({ code: 'custom', path: ['userId'], message: 'a user enrollment needs the userId' });
    }
    if (body.enrollmentType === 'bulk' && body.userId) {
      ctx.addIssue({ code: 'custom', path: ['userId'], message: 'a bulk enrollment has no user' });
    }
    if (body.enrollmentType === 'ade' && !APPLE_PLATFORMS.includes(body.platform)) {
      ctx.addIssue({ code: 'custom', path: ['enrollmentType'], message: 'automated device enrollment is for Apple devices' });
    }
    if (body.androidWorkProfile && body.platform !== 'android') {
      ctx.addIssue({ code: 'custom', path: ['androidWorkProfile'], message: 'only android devices have a work profile' });
    }
  });
export type EnrollBody = z.infer<typeof enrollBody>;

export const deviceParams = tenantParams.extend({ deviceId: uuid }).strict();

export const enrollmentAnswerSchema = z.object({
  deviceId: uuid,
  deviceCredential: z.string(),
  managedBy: managingAuthoritySchema,
  mdmCertificate: z.object({ serial: z.string(), notAfter: z.string().datetime(), certificatePem: z.string() }),
});

const T = '/api/v1/tenants/:tenantId';

export const enrollmentOperations: HttpOperation[] = [
  {
    id: 'enroll',
    method: 'POST',
    path: `${T}/enrollments`,
    access: ['admin', 'enroller'],
    summary: 'Enroll a device (R11–R13); 422 MDM_AUTHORITY_NOT_SET, NO_MDM_LICENSE, APNS_CERTIFICATE_MISSING, CONSENT_REQUIRED; 409 ALREADY_ENROLLED',
    params: tenantParams,
    body: enrollBody,
    response: enrollmentAnswerSchema,
    successStatus: 201,
    audited: true,
  },
  {
    id: 'unenroll',
    method: 'POST',
    path: `${T}/devices/:deviceId/unenroll`,
    access: ADMIN_ONLY,
    summary: 'Unenroll a device (R14)',
    params: deviceParams,
    response: z.object({ deviceId: uuid, status: z.literal('unenrolled') }),
    successStatus: 200,
    audited: true,
  },
];
