import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Zod's schemas learn `.openapi(name)` (used by `named` below) before any contract schema is made.
// This module is the contracts' root, so every service loads the OpenAPI package with it. A named
// schema's pick and omit make an unnamed one, and its extend one that refers to the named one.
extendZodWithOpenApi(z);

/**
 * Names an answer that several operations give: the OpenAPI document declares it once, in its
 * components, and refers to it from each (so the console's generated types share it too).
 */
export function named<T extends z.ZodTypeAny>(name: string, schema: T): T {
  return schema.openapi(name);
}

export type Role = 'admin' | 'helpdesk' | 'reader' | 'enroller';
export const ROLES: readonly Role[] = ['admin', 'helpdesk', 'reader', 'enroller'];

/**
 * One call of the public HTTP contract (API.md). The owning service serves it, the gateway
 * routes and authorises it, and the OpenAPI document is generated from the same record.
 */
export interface HttpOperation {
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Express-style path, e.g. /api/v1/tenants/:tenantId/authority */
  path: string;
  /** Who may call it: tenant roles, 'operator', 'public' or 'device'. */
  access: readonly Role[] | 'operator' | 'public' | 'device';
  summary: string;
  body?: z.ZodTypeAny;
  params?: z.AnyZodObject;
  query?: z.AnyZodObject;
  response?: z.ZodTypeAny;
  successStatus: number;
  /** Admin commands are written to the audit log. */
  audited: boolean;
}

export const READ_ROLES: readonly Role[] = ['admin', 'helpdesk', 'reader'];
export const ADMIN_ONLY: readonly Role[] = ['admin'];

export const errorBodySchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.unknown().optional(),
});

export const isoDateTime = z.string().datetime();
export const uuid = z.string().uuid();
