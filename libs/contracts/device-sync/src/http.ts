import { z } from 'zod';
import { HttpOperation, READ_ROLES, isoDateTime, named, uuid } from '@mdm/contracts/core';
import { managingAuthoritySchema, pushTokenSchema, TENANT_PATH } from '@mdm/contracts/authority';
import {
  complianceReasonSchema,
  complianceStateSchema,
  installedConfigurationSchema,
  notificationReasonSchema,
  remoteActionStatusSchema,
  remoteActionTypeSchema,
} from './events';

export const deviceStateSchema = z
  .object({ osVersion: z.string().trim().min(1).max(64), encrypted: z.boolean(), jailbroken: z.boolean(), passcodeSet: z.boolean() })
  .strict();

export const checkInBody = z
  .object({
    state: deviceStateSchema,
    commandResults: z
      .array(z.object({ commandId: uuid, status: z.enum(['done', 'failed']), error: z.string().max(2000).optional() }).strict())
      .max(100)
      .optional(),
    /** R15: a new key's PKCS#10 request, sent in the renewal window (422 INVALID_CSR); ignored outside it. */
    csrPem: z.string().min(1).max(16 * 1024).optional(),
    /** R16: the device's current token for its platform's push provider; a new one replaces the old. */
    pushToken: pushTokenSchema.optional(),
  })
  .strict();
export type CheckInBody = z.infer<typeof checkInBody>;

const configurationView = installedConfigurationSchema.omit({ configurationId: true });

export const checkInAnswerSchema = z.object({
  deviceId: uuid,
  managedBy: managingAuthoritySchema,
  configurations: z.array(configurationView),
  redundantConfigurations: z.array(configurationView),
  commands: z.array(z.object({ commandId: uuid, type: remoteActionTypeSchema })),
  compliance: z.object({ state: complianceStateSchema, reasons: z.array(complianceReasonSchema), source: z.string() }),
  mdmCertificate: z.object({
    serial: z.string(),
    notAfter: isoDateTime,
    renewalDue: z.boolean().describe('R15: in the last 30 days and not renewed by this check-in: send csrPem with the next one'),
    pem: z.string().optional().describe('the renewed certificate, when this check-in renewed it (the previous one stays valid until its notAfter)'),
  }),
  nextCheckInAt: isoDateTime,
});
export type CheckInAnswer = z.infer<typeof checkInAnswerSchema>;

export const notificationsQuery = z.object({ waitSeconds: z.coerce.number().int().min(0).max(60).default(0) }).strict();

export const notificationsAnswerSchema = z.object({
  notifications: z.array(z.object({ notificationId: uuid, reason: notificationReasonSchema, createdAt: isoDateTime })),
});

export const actionBody = z.object({ type: remoteActionTypeSchema }).strict();
export const deviceActionParams = z.object({ tenantId: uuid, deviceId: uuid }).strict();
export const actionParams = deviceActionParams.extend({ commandId: uuid }).strict();

export const actionSchema = named('Action', z.object({
  commandId: uuid,
  type: remoteActionTypeSchema,
  status: remoteActionStatusSchema,
  updatedAt: isoDateTime,
  error: z.string().optional(),
}));

export const deviceSyncOperations: HttpOperation[] = [
  {
    id: 'checkIn',
    method: 'POST',
    path: '/device/v1/check-in',
    access: 'device',
    summary:
      'A device checks in (R15, R18–R25); 422 APNS_CERTIFICATE_MISSING (R22), INVALID_CSR (R15); 401 for a bad or unenrolled credential, or a bad Mdm-Signature (optional header: base64 detached CMS SignedData of the body, made with the device\'s MDM certificate, which it carries)',
    body: checkInBody,
    response: checkInAnswerSchema,
    successStatus: 200,
    audited: false,
  },
  {
    id: 'pollNotifications',
    method: 'GET',
    path: '/device/v1/notifications',
    access: 'device',
    summary: 'Long poll for check-in notifications, at most waitSeconds (≤ 60)',
    query: notificationsQuery,
    response: notificationsAnswerSchema,
    successStatus: 200,
    audited: false,
  },
  {
    id: 'queueAction',
    method: 'POST',
    path: `${TENANT_PATH}/devices/:deviceId/actions`,
    access: ['admin', 'helpdesk'],
    summary: 'Queue a remote action (R24)',
    params: deviceActionParams,
    body: actionBody,
    response: actionSchema.pick({ commandId: true, type: true, status: true }),
    successStatus: 202,
    audited: true,
  },
  {
    id: 'getAction',
    method: 'GET',
    path: `${TENANT_PATH}/devices/:deviceId/actions/:commandId`,
    access: READ_ROLES,
    summary: 'A remote action and its status (R24)',
    params: actionParams,
    response: actionSchema,
    successStatus: 200,
    audited: false,
  },
];
