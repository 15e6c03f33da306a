import { randomUUID } from 'node:crypto';
import { UserState, initialUser } from './user';

/** An existing user with these licenses, effective authority and groups (for the specs). */
export const userFixture = (licenses: string[], effective: UserState['effectiveAuthority'], groupIds: string[] = []): UserState => ({
  ...initialUser,
  exists: true,
  userId: randomUUID(),
  userPrincipalName: `${randomUUID()}@contoso.com`,
  licenses,
  groupIds,
  effectiveAuthority: effective,
});
