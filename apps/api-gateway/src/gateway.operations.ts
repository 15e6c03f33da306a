import { z } from 'zod';
import { ADMIN_ONLY, HttpOperation, READ_ROLES, ROLES, isoDateTime, uuid } from '@mdm/contracts/core';
import { TENANT_PATH, createTenantBody, tenantParams } from '@mdm/contracts/authority';

export const roleSchema = z.enum(ROLES as [string, ...string[]]);
export const createTokenBody = z.object({ role: roleSchema }).strict();
export const tokenParams = tenantParams.extend({ tokenId: uuid }).strict();
export const advanceClockBody = z.object({ seconds: z.number().positive().max(10 * 365 * 24 * 3600) }).strict();

/** Lists: ?limit= (default 50, max 500) and ?cursor= (API.md "Conventions"). */
export const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().regex(/^\d+$/, 'a cursor from nextCursor').optional(),
  })
  .strict();

export const tokenSchema = z.object({ tokenId: uuid, role: roleSchema, createdAt: isoDateTime });

export const auditEntrySchema = z.object({
  at: isoDateTime,
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  outcome: z.string(),
});

/** Who a token is: the console asks once at sign-in to know the tenant and what the role may do. */
export const sessionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('operator') }),
  z.object({ kind: z.literal('tenant'), tenantId: uuid, tokenId: uuid, role: roleSchema }),
]);

/** The calls the gateway answers itself (API.md "Operator", "System" and the audit log). */
export const gatewayOperations = {
  getSession: {
    id: 'getSession',
    method: 'GET',
    path: '/api/v1/session',
    access: 'public',
    summary: "The caller's token: the operator, or a tenant with its role (401 without a token)",
    response: sessionSchema,
    successStatus: 200,
    audited: false,
  },
  createTenant: {
    id: 'createTenant',
    method: 'POST',
    path: '/api/v1/tenants',
    access: 'operator',
    summary: 'Create a tenant (authority unknown, R1) and its first admin token',
    body: createTenantBody,
    response: z.object({ tenantId: uuid, name: z.string(), adminToken: z.string() }),
    successStatus: 201,
    audited: true,
  },
  createToken: {
    id: 'createToken',
    method: 'POST',
    path: `${TENANT_PATH}/tokens`,
    access: ADMIN_ONLY,
    summary: 'Issue a token with a role; the token is shown once',
    params: tenantParams,
    body: createTokenBody,
    response: z.object({ tokenId: uuid, token: z.string(), role: roleSchema }),
    successStatus: 201,
    audited: true,
  },
  listTokens: {
    id: 'listTokens',
    method: 'GET',
    path: `${TENANT_PATH}/tokens`,
    access: ADMIN_ONLY,
    summary: "The tenant's live tokens (ids and roles; the tokens themselves are never shown again), oldest first",
    params: tenantParams,
    query: pageQuery,
    response: z.object({ items: z.array(tokenSchema), nextCursor: z.string().nullable() }),
    successStatus: 200,
    audited: false,
  },
  revokeToken: {
    id: 'revokeToken',
    method: 'DELETE',
    path: `${TENANT_PATH}/tokens/:tokenId`,
    access: ADMIN_ONLY,
    summary: 'Revoke a token; it stops working at once',
    params: tokenParams,
    successStatus: 204,
    audited: true,
  },
  listAudit: {
    id: 'listAudit',
    method: 'GET',
    path: `${TENANT_PATH}/audit`,
    access: READ_ROLES,
    summary: 'The admin commands of a tenant, newest first',
    params: tenantParams,
    query: pageQuery,
    response: z.object({ items: z.array(auditEntrySchema), nextCursor: z.string().nullable() }),
    successStatus: 200,
    audited: false,
  },
  getClock: {
    id: 'getClock',
    method: 'GET',
    path: '/api/v1/system/clock',
    access: 'public',
    summary: 'The system time every service uses',
    response: z.object({ now: isoDateTime }),
    successStatus: 200,
    audited: false,
  },
  advanceClock: {
    id: 'advanceClock',
    method: 'POST',
    path: '/api/v1/system/clock/advance',
    access: 'operator',
    summary: 'Move the shared test clock on (MDM_TEST_CLOCK=1 only); every service runs its due sweeps first',
    body: advanceClockBody,
    response: z.object({ now: isoDateTime }),
    successStatus: 200,
    audited: false,
  },
} satisfies Record<string, HttpOperation>;
