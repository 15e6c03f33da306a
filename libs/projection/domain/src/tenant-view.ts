import { TenantAuthority } from '@mdm/contracts/authority';
import { EventData, EventEnvelope } from '@mdm/contracts/core';
import { UserAuthorityChanged } from '@mdm/contracts/licensing';

/** What the overview and the migration report know of a tenant, from its authority stream (`tenant-<id>`). */
export interface TenantState {
  tenantId: string;
  version: number;
  authority: TenantAuthority;
  lastChange: { changedAt: string; from: TenantAuthority; to: TenantAuthority } | null;
}

export const emptyTenant = (tenantId: string): TenantState => ({ tenantId, version: 0, authority: 'unknown', lastChange: null });

export const isTenantStream = (event: EventEnvelope) => event.streamId === `tenant-${event.tenantId}`;

export function applyTenantEvent(tenant: TenantState, event: EventEnvelope): boolean {
  if (event.streamVersion <= tenant.version) return false;
  tenant.version = event.streamVersion;
  if (event.type === 'AuthorityChanged') {
    const { from, to } = event.data as { from: TenantAuthority; to: TenantAuthority };
    tenant.authority = to;
    tenant.lastChange = { changedAt: event.occurredAt, from, to };
  }
  return true;
}

/** R1: the orange banner shows while the authority is unknown. */
export const bannerVisible = (tenant: TenantState) => tenant.authority === 'unknown';

/** R10, R28: a user's latest switch, kept when it moved them to Intune with no Intune configuration. */
export interface UserState {
  userId: string;
  tenantId: string;
  version: number;
  unconfiguredSwitch: { from: string | null; to: string | null; switchedAt: string } | null;
}

export const NO_INTUNE_CONFIGURATION_ASSIGNED = 'NO_INTUNE_CONFIGURATION_ASSIGNED';

export function applyUserSwitch(user: UserState, event: EventEnvelope<EventData<typeof UserAuthorityChanged>>): boolean {
  if (event.streamVersion <= user.version) return false;
  user.version = event.streamVersion;
  const { from, to, warnings } = event.data;
  user.unconfiguredSwitch =
    to === 'intune' && warnings.includes(NO_INTUNE_CONFIGURATION_ASSIGNED) ? { from, to, switchedAt: event.occurredAt } : null;
  return true;
}
