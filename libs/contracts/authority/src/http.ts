import { z } from 'zod';
import { ADMIN_ONLY, HttpOperation, isoDateTime, named, READ_ROLES, uuid } from '@mdm/contracts/core';
import {
  complianceSettingsSchema,
  configurationTypeSchema,
  consentKindSchema,
  managingAuthoritySchema,
  platformSchema,
  tenantAuthoritySchema,
  workloadsSchema,
} from './vocabulary';

// ---- bodies (strict: unknown fields are refused with VALIDATION_FAILED) ----

export const createTenantBody = z.object({ name: z.string().trim().min(1).max(200) }).strict();
/** What the gateway sends the authority service: the tenant id is chosen up front so a retry is idempotent. */
export const registerTenantBody = createTenantBody.extend({ tenantId: uuid }).strict();

export const setAuthorityBody = z
  .object({ authority: tenantAuthoritySchema, expectedVersion: z.number().int().nonnegative().optional() })
  .strict();

export const setCoManagementBody = z
  .object({
    enabled: z.boolean(),
    autoEnrollment: z.boolean(),
    workloads: workloadsSchema.optional(),
    expectedVersion: z.number().int().nonnegative().optional(),
  })
  .strict();

export const grantConsentBody = z.object({ kind: consentKindSchema }).strict();

export const uploadApnsCertificateBody = z
  .object({ certificatePem: z.string().min(1).max(64 * 1024) })
  .strict();

export const configurationBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    type: configurationTypeSchema,
    platforms: z.array(platformSchema).min(1),
    settings: z.record(z.unknown()),
    assignedGroupIds: z.array(uuid),
    expectedVersion: z.number().int().positive().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.type !== 'compliance') return;
    const parsed = complianceSettingsSchema.safeParse(body.settings);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: ['settings', ...issue.path] });
    }
  });
export type ConfigurationBody = z.infer<typeof configurationBody>;

export const configurationListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().regex(/^\d+$/, 'a cursor from nextCursor').optional(),
  })
  .strict();

/** The operator's list of tenants; the cursor is where the last listed tenant's creation was recorded. */
export const tenantListQuery = configurationListQuery;

// ---- params ----

/** Where a tenant's API begins: every tenant-scoped operation's path starts here, with `tenantParams`. */
export const TENANT_PATH = '/api/v1/tenants/:tenantId';
export const tenantParams = z.object({ tenantId: uuid }).strict();
export const authorityParams = tenantParams.extend({ authority: managingAuthoritySchema }).strict();
export const configurationParams = authorityParams.extend({ configurationId: uuid }).strict();

// ---- answers ----

export const apnsCertificateSchema = z.object({ serial: z.string(), subject: z.string(), notAfter: isoDateTime });

export const authorityStateSchema = named('AuthorityState', z.object({
  tenantId: uuid,
  name: z.string(),
  authority: tenantAuthoritySchema,
  bannerVisible: z.boolean(),
  coManagement: z.object({ enabled: z.boolean(), autoEnrollment: z.boolean(), workloads: workloadsSchema }),
  apnsCertificates: z.object({ intune: apnsCertificateSchema.optional(), office365: apnsCertificateSchema.optional() }),
  consents: z.array(consentKindSchema),
  version: z.number().int(),
  changedAt: isoDateTime.nullable(),
}));
export type AuthorityState = z.infer<typeof authorityStateSchema>;

export const tenantListItemSchema = z.object({
  tenantId: uuid,
  name: z.string(),
  authority: tenantAuthoritySchema,
  bannerVisible: z.boolean(),
  createdAt: isoDateTime,
});

export const consentSchema = z.object({ kind: consentKindSchema, grantedAt: isoDateTime, grantedBy: z.string() });

export const configurationSchema = named('Configuration', z.object({
  configurationId: uuid,
  authority: managingAuthoritySchema,
  name: z.string(),
  type: configurationTypeSchema,
  platforms: z.array(platformSchema),
  settings: z.record(z.unknown()),
  assignedGroupIds: z.array(uuid),
  version: z.number().int(),
}));

export const authorityOperations: HttpOperation[] = [
  {
    id: 'listTenants',
    method: 'GET',
    path: '/api/v1/tenants',
    access: 'operator',
    summary: 'Every tenant with its MDM authority, oldest first (an addition to API.md, for the console)',
    query: tenantListQuery,
    response: z.object({ items: z.array(tenantListItemSchema), nextCursor: z.string().nullable() }),
    successStatus: 200,
    audited: false,
  },
  {
    id: 'getAuthority',
    method: 'GET',
    path: `${TENANT_PATH}/authority`,
    access: READ_ROLES,
    summary: 'The MDM authority, co-management, APNs certificates and consents of a tenant (R1–R6)',
    params: tenantParams,
    response: authorityStateSchema,
    successStatus: 200,
    audited: false,
  },
  {
    id: 'setAuthority',
    method: 'PUT',
    path: `${TENANT_PATH}/authority`,
    access: ADMIN_ONLY,
    summary: 'Set the MDM authority (R2–R4); 422 AUTHORITY_CANNOT_REVERT_TO_UNKNOWN, 409 VERSION_CONFLICT',
    params: tenantParams,
    body: setAuthorityBody,
    response: authorityStateSchema,
    successStatus: 200,
    audited: true,
  },
  {
    id: 'setCoManagement',
    method: 'PUT',
    path: `${TENANT_PATH}/co-management`,
    access: ADMIN_ONLY,
    summary: 'Co-management with Configuration Manager (R2); 422 CO_MANAGEMENT_REQUIRES_INTUNE',
    params: tenantParams,
    body: setCoManagementBody,
    response: authorityStateSchema,
    successStatus: 200,
    audited: true,
  },
  {
    id: 'grantConsent',
    method: 'POST',
    path: `${TENANT_PATH}/consents`,
    access: ADMIN_ONLY,
    summary: 'Record the admin consent to share data with Google or Apple (R5)',
    params: tenantParams,
    body: grantConsentBody,
    response: consentSchema,
    successStatus: 201,
    audited: true,
  },
  {
    id: 'uploadApnsCertificate',
    method: 'PUT',
    path: `${TENANT_PATH}/authorities/:authority/apns-certificate`,
    access: ADMIN_ONLY,
    summary: 'Upload the Apple MDM push certificate of one authority (R5, R6)',
    params: authorityParams,
    body: uploadApnsCertificateBody,
    response: apnsCertificateSchema,
    successStatus: 200,
    audited: true,
  },
  {
    id: 'createConfiguration',
    method: 'POST',
    path: `${TENANT_PATH}/authorities/:authority/configurations`,
    access: ADMIN_ONLY,
    summary: 'Create a profile or compliance policy of one authority (R7)',
    params: authorityParams,
    body: configurationBody,
    response: configurationSchema,
    successStatus: 201,
    audited: true,
  },
  {
    id: 'listConfigurations',
    method: 'GET',
    path: `${TENANT_PATH}/authorities/:authority/configurations`,
    access: READ_ROLES,
    summary: "An authority's configurations (R7), by name; the cursor is the number already listed",
    params: authorityParams,
    query: configurationListQuery,
    response: z.object({ items: z.array(configurationSchema), nextCursor: z.string().nullable() }),
    successStatus: 200,
    audited: false,
  },
  {
    id: 'getConfiguration',
    method: 'GET',
    path: `${TENANT_PATH}/authorities/:authority/configurations/:configurationId`,
    access: READ_ROLES,
    summary: 'One configuration (R7)',
    params: configurationParams,
    response: configurationSchema,
    successStatus: 200,
    audited: false,
  },
  {
    id: 'updateConfiguration',
    method: 'PUT',
    path: `${TENANT_PATH}/authorities/:authority/configurations/:configurationId`,
    access: ADMIN_ONLY,
    summary: 'Replace a configuration (R7)',
    params: configurationParams,
    body: configurationBody,
    response: configurationSchema,
    successStatus: 200,
    audited: true,
  },
  {
    id: 'deleteConfiguration',
    method: 'DELETE',
    path: `${TENANT_PATH}/authorities/:authority/configurations/:configurationId`,
    access: ADMIN_ONLY,
    summary: 'Delete a configuration (R7)',
    params: configurationParams,
    successStatus: 204,
    audited: true,
  },
];

/** Served by the authority service for the gateway only: the gateway adds the tenant's first admin token. */
export const registerTenantOperation: HttpOperation = {
  id: 'registerTenant',
  method: 'POST',
  path: '/internal/tenants',
  access: 'operator',
  summary: 'Create a tenant with authority unknown (R1)',
  body: registerTenantBody,
  response: authorityStateSchema,
  successStatus: 201,
  audited: false,
};
