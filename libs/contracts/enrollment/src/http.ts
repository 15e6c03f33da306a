import { z } from 'zod';
import { HttpOperation, ADMIN_ONLY, uuid } from '@mdm/contracts/core';
import { managingAuthoritySchema, platformSchema, pushTokenSchema, TENANT_PATH, tenantParams } from '@mdm/contracts/authority';
import { enrollmentTypeSchema } from './events';

/** R12: the platforms that need an APNs certificate. */
export const APPLE_PLATFORMS: readonly string[] = ['ios', 'ipados', 'macos'];

/** A PEM PKCS#10 request; whether it parses and verifies is the service's 422 INVALID_CSR. */
export const csrPem = z.string().min(1).max(16 * 1024).describe('PEM PKCS#10 certificate signing request (P-256 or RSA ≥ 2048 bits); its subject is ignored');

export const enrollBody = z
  .object({
    platform: platformSchema,
    enrollmentType: enrollmentTypeSchema,
    userId: uuid.optional(),
    serialNumber: z.string().trim().min(1).max(128),
    deviceName: z.string().trim().min(1).max(200).optional(),
    osVersion: z.string().trim().min(1).max(64),
    androidWorkProfile: z.boolean().optional(),
    /** R13: the device's PKCS#10 request (P-256 or RSA ≥ 2048); without one the service makes the key (PKCS#12). */
    csrPem: csrPem.optional(),
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
  mdmCertificate: z.object({
    serial: z.string(),
    notAfter: z.string().datetime(),
    pem: z.string().describe('the device certificate: subject CN=<deviceId>, O=<tenantId>, OU=MDM device; client authentication'),
    caPem: z.string().describe('the CA certificate that signed it'),
    pkcs12: z.string().optional().describe('without csrPem only: the key the service made, its certificate and the CA certificate, PKCS#12 in base64, shown once and stored nowhere'),
    pkcs12Password: z.string().optional().describe('without csrPem only: the one-time password of pkcs12'),
  }),
});

export const enrollmentOperations: HttpOperation[] = [
  {
    id: 'enroll',
    method: 'POST',
    path: `${TENANT_PATH}/enrollments`,
    access: ['admin', 'enroller'],
    summary:
      'Enroll a device (R11–R13); 422 INVALID_CSR, MDM_AUTHORITY_NOT_SET, NO_MDM_LICENSE, APNS_CERTIFICATE_MISSING, CONSENT_REQUIRED; 409 ALREADY_ENROLLED. With csrPem the certificate is for the device\'s key; without, the service makes a P-256 key and returns it once as PKCS#12 (every enrollment type alike)',
    params: tenantParams,
    body: enrollBody,
    response: enrollmentAnswerSchema,
    successStatus: 201,
    audited: true,
  },
  {
    id: 'unenroll',
    method: 'POST',
    path: `${TENANT_PATH}/devices/:deviceId/unenroll`,
    access: ADMIN_ONLY,
    summary: 'Unenroll a device (R14)',
    params: deviceParams,
    response: z.object({ deviceId: uuid, status: z.literal('unenrolled') }),
    successStatus: 200,
    audited: true,
  },
];
