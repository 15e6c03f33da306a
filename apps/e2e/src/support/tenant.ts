import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { TenantAuthority } from '@mdm/contracts/authority';
import type { EnrollBody, enrollmentAnswerSchema } from '@mdm/contracts/enrollment';
import { StackOptions, TestStack, startStack } from './stack';
import { ApiClient } from './api-client';

export interface TestTenant {
  tenantId: string;
  admin: ApiClient;
  path: (suffix?: string) => string;
}

/** A new tenant, created by the operator, with its admin client; given an `authority`, the admin has chosen it (R3). */
export async function createTenant(stack: TestStack, name = 'Contoso', authority?: TenantAuthority): Promise<TestTenant> {
  const res = await stack.operator.post('/api/v1/tenants', { name });
  if (res.status !== 201) throw new Error(`tenant creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  const { tenantId, adminToken } = res.body;
  const tenant: TestTenant = { tenantId, admin: stack.client(adminToken), path: (suffix = '') => `/api/v1/tenants/${tenantId}${suffix}` };
  if (authority) {
    const chosen = await tenant.admin.put(tenant.path('/authority'), { authority });
    if (chosen.status !== 200) throw new Error(`choosing ${authority} failed: ${chosen.status} ${JSON.stringify(chosen.body)}`);
  }
  return tenant;
}

/** A new user of the tenant, with a license of `sku` when one is given: its id. */
export async function createUser(tenant: TestTenant, userPrincipalName: string, sku?: string): Promise<string> {
  const created = await tenant.admin.post(tenant.path('/users'), { userPrincipalName });
  if (created.status !== 201) throw new Error(`user creation failed: ${created.status} ${JSON.stringify(created.body)}`);
  const { userId } = created.body;
  if (sku) {
    const licensed = await tenant.admin.post(tenant.path(`/users/${userId}/licenses`), { sku });
    if (licensed.status !== 200) throw new Error(`assigning ${sku} failed: ${licensed.status} ${JSON.stringify(licensed.body)}`);
  }
  return userId;
}

export type EnrolledDevice = z.infer<typeof enrollmentAnswerSchema>;

/** A device enrolled by the tenant's admin, under a serial number of its own unless one is given: the enrollment's answer. */
export async function enrollDevice(tenant: TestTenant, body: Omit<EnrollBody, 'serialNumber'> & { serialNumber?: string }): Promise<EnrolledDevice> {
  const res = await tenant.admin.post(tenant.path('/enrollments'), { serialNumber: `SN-${randomUUID()}`, ...body });
  if (res.status !== 201) throw new Error(`enrollment failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A token of the tenant with the given role. */
export async function tokenFor(stack: TestStack, tenant: TestTenant, role: string): Promise<ApiClient> {
  const res = await tenant.admin.post(tenant.path('/tokens'), { role });
  if (res.status !== 201) throw new Error(`token creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  return stack.client(res.body.token);
}

/**
 * The hooks of a test file: one stack for the file, a new tenant for each test. Read both after the
 * hooks ran (in a test or a later hook).
 */
export function useStackWithTenant(opts: StackOptions = {}): { stack: TestStack; tenant: TestTenant } {
  const ctx = {} as { stack: TestStack; tenant: TestTenant };
  beforeAll(async () => {
    ctx.stack = await startStack(opts);
  });
  afterAll(() => ctx.stack?.stop());
  beforeEach(async () => {
    ctx.tenant = await createTenant(ctx.stack);
  });
  return ctx;
}
