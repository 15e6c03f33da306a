import { TenantAuthority } from '@mdm/contracts/authority';
import { DomainError, notFound, ruleViolation } from '@mdm/contracts/core';
import { LicensingEvent } from '@mdm/contracts/licensing';
import { EffectiveAuthority, effectiveAuthority, isKnownSku } from '@mdm/contracts/licensing';
import { NO_INTUNE_CONFIGURATION_ASSIGNED, Warning, toWarnings } from './warnings';

/** The events of a user's stream. */
export type UserEvent = Exclude<LicensingEvent, { type: 'GroupCreated' }>;
export type UserAuthorityChangedEvent = Extract<LicensingEvent, { type: 'UserAuthorityChanged' }>;

export interface UserState {
  exists: boolean;
  userId: string;
  userPrincipalName: string;
  displayName: string | null;
  groupIds: string[];
  licenses: string[];
  /** The effective authority last announced (R9: UserAuthorityChanged); null until the first one. */
  effectiveAuthority: EffectiveAuthority;
}

/** What a licensing decision knows of the tenant, learnt from the authority service's events. */
export interface TenantContext {
  authority: TenantAuthority;
  /** Groups that have at least one live Intune configuration assigned (R10). */
  intuneConfiguredGroupIds: ReadonlySet<string>;
}

export const initialUser: UserState = {
  exists: false,
  userId: '',
  userPrincipalName: '',
  displayName: null,
  groupIds: [],
  licenses: [],
  effectiveAuthority: null,
};

export function evolveUser(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case 'UserCreated':
      return { ...initialUser, ...event.data, groupIds: [...event.data.groupIds], exists: true };
    case 'UserGroupsChanged':
      return { ...state, groupIds: [...event.data.groupIds] };
    case 'LicenseAssigned':
      return state.licenses.includes(event.data.sku) ? state : { ...state, licenses: [...state.licenses, event.data.sku] };
    case 'LicenseRemoved':
      return { ...state, licenses: state.licenses.filter((sku) => sku !== event.data.sku) };
    case 'UserAuthorityChanged':
      return { ...state, effectiveAuthority: event.data.to };
  }
}

export const userEvolver = { initial: initialUser, evolve: evolveUser };

// ---- decisions: each returns the events to append (none when nothing changes) or throws a DomainError ----

export function assertUserExists(state: UserState): void {
  if (!state.exists) throw notFound('user');
}

/** A user's groups must be groups of the tenant; `known` holds those of the given ids that are. */
export function assertKnownGroups(groupIds: readonly string[], known: ReadonlySet<string>): void {
  const unknown = groupIds.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw ruleViolation('UNKNOWN_GROUP', `no such group in this tenant: ${unknown.join(', ')}`, { groupIds: unknown });
  }
}

const distinct = (ids: readonly string[]) => [...new Set(ids)];

/** User principal names are unique per tenant, whatever their case. */
export function createUser(
  cmd: { userId: string; userPrincipalName: string; displayName?: string | null; groupIds?: readonly string[] },
  directory: { principalNameTaken: boolean; knownGroupIds: ReadonlySet<string> },
): UserEvent[] {
  if (directory.principalNameTaken) {
    throw new DomainError('USER_EXISTS', `a user ${cmd.userPrincipalName} exists in this tenant`, {
      userPrincipalName: cmd.userPrincipalName,
    });
  }
  const groupIds = distinct(cmd.groupIds ?? []);
  assertKnownGroups(groupIds, directory.knownGroupIds);
  return [
    {
      type: 'UserCreated',
      data: { userId: cmd.userId, userPrincipalName: cmd.userPrincipalName, displayName: cmd.displayName ?? null, groupIds },
    },
  ];
}

/** Replaces the user's groups; the same set again emits nothing. */
export function setGroups(state: UserState, groupIds: readonly string[], knownGroupIds: ReadonlySet<string>): UserEvent[] {
  assertUserExists(state);
  const next = distinct(groupIds);
  assertKnownGroups(next, knownGroupIds);
  const same = next.length === state.groupIds.length && next.every((id) => state.groupIds.includes(id));
  return same ? [] : [{ type: 'UserGroupsChanged', data: { userId: state.userId, groupIds: next } }];
}

/** R10: does any of the groups have an Intune configuration assigned? */
export const hasIntuneConfiguration = (groupIds: readonly string[], tenant: TenantContext) =>
  groupIds.some((id) => tenant.intuneConfiguredGroupIds.has(id));

/**
 * R9, R10: the UserAuthorityChanged that follows when the effective authority of the user (as the
 * state stands) under the tenant's authority is not the one last announced; nothing otherwise.
 */
export function authorityChange(state: UserState, tenant: TenantContext): UserAuthorityChangedEvent[] {
  const to = effectiveAuthority(tenant.authority, state.licenses);
  const from = state.effectiveAuthority;
  if (to === from) return [];
  const warnings = to === 'intune' && !hasIntuneConfiguration(state.groupIds, tenant) ? [NO_INTUNE_CONFIGURATION_ASSIGNED] : [];
  return [{ type: 'UserAuthorityChanged', data: { userId: state.userId, from, to, warnings } }];
}

const fold = (state: UserState, events: readonly UserEvent[]) => events.reduce(evolveUser, state);

/** R8–R10: an unknown SKU is refused; a license already held changes nothing. */
export function assignLicense(state: UserState, sku: string, tenant: TenantContext): UserEvent[] {
  assertUserExists(state);
  if (!isKnownSku(sku)) throw ruleViolation('UNKNOWN_SKU', `unknown license SKU ${sku}`, { sku });
  if (state.licenses.includes(sku)) return [];
  const assigned: UserEvent[] = [{ type: 'LicenseAssigned', data: { userId: state.userId, sku } }];
  return [...assigned, ...authorityChange(fold(state, assigned), tenant)];
}

/** R8–R10: a license the user does not hold (an unknown SKU included) is a 404. */
export function removeLicense(state: UserState, sku: string, tenant: TenantContext): UserEvent[] {
  assertUserExists(state);
  if (!state.licenses.includes(sku)) throw notFound(`license ${sku} of the user`);
  const removed: UserEvent[] = [{ type: 'LicenseRemoved', data: { userId: state.userId, sku } }];
  return [...removed, ...authorityChange(fold(state, removed), tenant)];
}

/** What a license command did (or, on a dry run, would do) to the user's effective authority. */
export interface LicenseOutcome {
  state: UserState;
  previousAuthority: EffectiveAuthority;
  effectiveAuthority: EffectiveAuthority;
  moved: boolean;
  warnings: Warning[];
}

export function licenseOutcome(before: UserState, events: readonly UserEvent[]): LicenseOutcome {
  const state = fold(before, events);
  const change = events.find((e): e is UserAuthorityChangedEvent => e.type === 'UserAuthorityChanged');
  return {
    state,
    previousAuthority: before.effectiveAuthority,
    effectiveAuthority: state.effectiveAuthority,
    moved: change !== undefined,
    warnings: toWarnings(change?.data.warnings ?? []),
  };
}
