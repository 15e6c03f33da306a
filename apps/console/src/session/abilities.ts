/** Who the signed-in token is (GET /api/v1/session). */
export type Session = { kind: 'operator' } | { kind: 'tenant'; tenantId: string; tokenId: string; role: Role };
export type Role = 'admin' | 'helpdesk' | 'reader' | 'enroller';

/** What the console offers a token: only what the gateway would allow it (DESIGN.md §4), so no button leads to a 403. */
export interface Abilities {
  /** The tenant's views: status, dashboard, devices, users, audit. */
  read: boolean;
  /** Authority, co-management, consents, APNs, configurations, users, groups and licenses. */
  administer: boolean;
  /** Remote lock, wipe, retire and sync. */
  remoteActions: boolean;
  enroll: boolean;
  /** Create and revoke the tenant's tokens. */
  manageTokens: boolean;
  /** Create tenants: the platform operator only. */
  manageTenants: boolean;
}

const none: Abilities = { read: false, administer: false, remoteActions: false, enroll: false, manageTokens: false, manageTenants: false };

const byRole: Record<Role, Abilities> = {
  admin: { ...none, read: true, administer: true, remoteActions: true, enroll: true, manageTokens: true },
  helpdesk: { ...none, read: true, remoteActions: true },
  reader: { ...none, read: true },
  enroller: { ...none, enroll: true },
};

export function abilitiesOf(session: Session): Abilities {
  return session.kind === 'operator' ? { ...none, manageTenants: true } : byRole[session.role];
}
