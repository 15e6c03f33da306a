import { UserAuthorityChangedEvent, TenantContext, UserState, authorityChange } from './user';

export interface UserAuthorityMove {
  userId: string;
  events: UserAuthorityChangedEvent[];
}

/**
 * R9 on a tenant authority change (AuthorityChanged): every user of the tenant whose effective
 * authority moves under the new authority, with the event that says so (R10 warnings included).
 */
export function recomputeTenant(users: readonly UserState[], tenant: TenantContext): UserAuthorityMove[] {
  return users
    .filter((user) => user.exists)
    .map((user) => ({ userId: user.userId, events: authorityChange(user, tenant) }))
    .filter((move) => move.events.length > 0);
}
