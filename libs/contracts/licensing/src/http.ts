import { z } from 'zod';
import { ADMIN_ONLY, HttpOperation, named, READ_ROLES, uuid } from '@mdm/contracts/core';
import { TENANT_PATH, tenantAuthoritySchema, tenantParams } from '@mdm/contracts/authority';
import { effectiveAuthoritySchema } from './events';

export const createGroupBody = z.object({ name: z.string().trim().min(1).max(200) }).strict();
export const createUserBody = z
  .object({
    userPrincipalName: z.string().trim().min(3).max(320).regex(/^[^@\s]+@[^@\s]+$/, 'an address like ada@contoso.com'),
    displayName: z.string().trim().min(1).max(200).optional(),
    groupIds: z.array(uuid).optional(),
  })
  .strict();
export const setUserGroupsBody = z.object({ groupIds: z.array(uuid) }).strict();
/** The SKU is any string here: an unknown one is a rule refusal (422 UNKNOWN_SKU), not malformed input. */
export const assignLicenseBody = z.object({ sku: z.string().min(1).max(100), dryRun: z.boolean().optional() }).strict();
export const previewBody = z.object({ authority: tenantAuthoritySchema }).strict();

/** A keyset cursor: where the previous page ended, opaque to the client. */
const keysetCursor = z.string().min(1).max(1000).regex(/^[A-Za-z0-9_-]+$/, 'a cursor from nextCursor');
const directoryPage = { limit: z.coerce.number().int().min(1).max(500).default(50), cursor: keysetCursor.optional() };

/** Users by principal name; `q` keeps those whose principal name starts with it, `groupId` the members of a group. */
export const userListQuery = z
  .object({ ...directoryPage, q: z.string().trim().min(1).max(320).optional(), groupId: uuid.optional() })
  .strict();
export const groupListQuery = z.object(directoryPage).strict();

export const userParams = tenantParams.extend({ userId: uuid }).strict();
export const licenseParams = userParams.extend({ sku: z.string().min(1).max(100) }).strict();

export const warningSchema = z.object({ code: z.string(), message: z.string() });

export const userSchema = named('User', z.object({
  userId: uuid,
  userPrincipalName: z.string(),
  displayName: z.string().nullable(),
  groupIds: z.array(uuid),
  licenses: z.array(z.string()),
  effectiveAuthority: effectiveAuthoritySchema,
  devices: z.array(uuid),
}));

/** A user as listed: the effective authority (R8) and the number of enrolled devices. */
export const userListItemSchema = userSchema.omit({ devices: true }).extend({ deviceCount: z.number().int() });
export const groupSchema = z.object({ groupId: uuid, name: z.string(), memberCount: z.number().int() });

export const licenseAnswerSchema = named('LicenseAnswer', z.object({
  userId: uuid,
  licenses: z.array(z.string()),
  effectiveAuthority: effectiveAuthoritySchema,
  previousAuthority: effectiveAuthoritySchema,
  devicesToSwitch: z.number().int(),
  warnings: z.array(warningSchema),
  dryRun: z.boolean(),
}));

export const previewSchema = z.object({
  devicesToNotify: z.number().int(),
  devicesNeedingSupport: z.number().int(),
  appleDevicesBlockedWithoutApns: z.number().int(),
  usersToSwitch: z.number().int(),
  warnings: z.array(warningSchema.extend({ userId: uuid.optional() })),
});

export const licensingOperations: HttpOperation[] = [
  { id: 'createGroup', method: 'POST', path: `${TENANT_PATH}/groups`, access: ADMIN_ONLY, summary: 'Create a user group', params: tenantParams, body: createGroupBody, response: z.object({ groupId: uuid, name: z.string() }), successStatus: 201, audited: true },
  { id: 'listGroups', method: 'GET', path: `${TENANT_PATH}/groups`, access: READ_ROLES, summary: 'Groups by name, with their member count (an addition to API.md, for the console)', params: tenantParams, query: groupListQuery, response: z.object({ items: z.array(groupSchema), nextCursor: keysetCursor.nullable() }), successStatus: 200, audited: false },
  { id: 'listUsers', method: 'GET', path: `${TENANT_PATH}/users`, access: READ_ROLES, summary: 'Users by principal name with their effective authority (R8); q: principal name prefix, groupId: members (an addition to API.md, for the console)', params: tenantParams, query: userListQuery, response: z.object({ items: z.array(userListItemSchema), nextCursor: keysetCursor.nullable() }), successStatus: 200, audited: false },
  { id: 'createUser', method: 'POST', path: `${TENANT_PATH}/users`, access: ADMIN_ONLY, summary: 'Create a user; 409 USER_EXISTS', params: tenantParams, body: createUserBody, response: userSchema, successStatus: 201, audited: true },
  { id: 'getUser', method: 'GET', path: `${TENANT_PATH}/users/:userId`, access: READ_ROLES, summary: 'A user with licenses, effective authority (R8) and devices', params: userParams, response: userSchema, successStatus: 200, audited: false },
  { id: 'setUserGroups', method: 'PUT', path: `${TENANT_PATH}/users/:userId/groups`, access: ADMIN_ONLY, summary: "Replace a user's groups", params: userParams, body: setUserGroupsBody, response: userSchema, successStatus: 200, audited: true },
  { id: 'assignLicense', method: 'POST', path: `${TENANT_PATH}/users/:userId/licenses`, access: ADMIN_ONLY, summary: 'Assign a license (R8–R10); dryRun answers without changing anything; 422 UNKNOWN_SKU', params: userParams, body: assignLicenseBody, response: licenseAnswerSchema, successStatus: 200, audited: true },
  { id: 'removeLicense', method: 'DELETE', path: `${TENANT_PATH}/users/:userId/licenses/:sku`, access: ADMIN_ONLY, summary: 'Remove a license (R8–R10)', params: licenseParams, response: licenseAnswerSchema, successStatus: 200, audited: true },
  { id: 'previewAuthority', method: 'POST', path: `${TENANT_PATH}/authority/preview`, access: READ_ROLES, summary: 'What an authority change would do (R10, R16, R17, R22); changes nothing', params: tenantParams, body: previewBody, response: previewSchema, successStatus: 200, audited: false },
];
