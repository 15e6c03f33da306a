import { ConfigurationType, ManagingAuthority, Platform } from '@mdm/contracts/authority';
import { ruleViolation } from '@mdm/contracts/core';
import { APPLE_PLATFORMS } from '@mdm/contracts/enrollment';

export interface Installed {
  configurationId: string;
  name: string;
  type: ConfigurationType;
  authority: ManagingAuthority;
  version: number;
}

export type MigrationState = 'none' | 'pendingCheckIn' | 'migrated' | 'needsSupport' | 'blockedApns' | 'legacyProfilesExpired';

export interface DeviceFacts {
  deviceId: string;
  userId: string | null;
  platform: Platform;
  managedBy: ManagingAuthority;
  migrationState: MigrationState;
  installed: Installed[];
  redundant: Installed[];
}

export interface CheckInPlan {
  managedBy: ManagingAuthority;
  migrated: { from: ManagingAuthority; to: ManagingAuthority } | null;
  migrationState: MigrationState;
  configurations: Installed[];
  redundant: Installed[];
}

/** R22: moving an Apple device to an authority without an APNs certificate is refused, and recorded. */
export class MigrationBlockedByApns extends Error {
  constructor(readonly authority: ManagingAuthority) {
    super(`no APNs certificate on ${authority}`);
  }
}

export const apnsMissing = (authority: ManagingAuthority) =>
  ruleViolation('APNS_CERTIFICATE_MISSING', `Apple devices moving to ${authority} need an APNs certificate on it first`, { authority });

/** R17/R20: where a device is managed after its check-in: its target if it has a user and a target, else where it is. */
export function nextManagedBy(device: Pick<DeviceFacts, 'userId' | 'managedBy'>, target: ManagingAuthority | null): ManagingAuthority {
  return device.userId !== null && target !== null ? target : device.managedBy;
}

/** Where a check-in leaves the device (R17, R20, R22), whatever its configurations. */
export type AuthorityPlan = Pick<CheckInPlan, 'managedBy' | 'migrated' | 'migrationState'>;

/**
 * R17/R20/R22: where a check-in leaves the device: `target` is where it belongs now (the user's
 * effective authority, R8; userless devices stay where they are, R17). Moving an Apple device to an
 * authority without an APNs certificate throws MigrationBlockedByApns.
 */
export function planAuthority(
  device: Pick<DeviceFacts, 'userId' | 'platform' | 'managedBy' | 'migrationState'>,
  target: ManagingAuthority | null,
  apnsReady: (authority: ManagingAuthority) => boolean,
): AuthorityPlan {
  const managedBy = nextManagedBy(device, target);
  const moving = managedBy !== device.managedBy;
  if (moving && APPLE_PLATFORMS.includes(device.platform) && !apnsReady(managedBy)) throw new MigrationBlockedByApns(managedBy);
  const affected = device.migrationState !== 'none' && device.migrationState !== 'needsSupport';
  return {
    managedBy,
    migrated: moving ? { from: device.managedBy, to: managedBy } : null,
    migrationState: moving || affected ? 'migrated' : device.migrationState,
  };
}

/**
 * R20/R21: a check-in that neither moves the device nor finds its assignment changed since its last
 * check-in (`assignmentMoved`, see assignmentKey) leaves its configurations exactly as they are:
 * planCheckIn would give back the lists it has, so they need not be read at all.
 */
export function keepsConfigurations(device: Pick<DeviceFacts, 'userId' | 'managedBy'>, target: ManagingAuthority | null, assignmentMoved: boolean): boolean {
  return !assignmentMoved && nextManagedBy(device, target) === device.managedBy;
}

/**
 * R18–R21: what a check-in does. `configurationsOf` gives an authority's profiles assigned to the
 * device's user and platform.
 */
export function planCheckIn(
  device: DeviceFacts,
  target: ManagingAuthority | null,
  apnsReady: (authority: ManagingAuthority) => boolean,
  configurationsOf: (authority: ManagingAuthority) => Installed[],
): CheckInPlan {
  const authority = planAuthority(device, target, apnsReady);
  const { managedBy } = authority;
  const configurations = configurationsOf(managedBy);
  // R21: a new profile replaces an installed one only with the same name and type; the rest of the
  // old authority's profiles stay on the device and are reported as redundant.
  const replaced = (old: Installed) => configurations.some((c) => c.name === old.name && c.type === old.type);
  const leftBehind = authority.migrated ? device.installed.filter((old) => old.authority !== managedBy && !replaced(old)) : [];
  const redundant = [...device.redundant, ...leftBehind].filter((r) => !replaced(r));
  return { ...authority, configurations, redundant: dedupe(redundant) };
}

function dedupe(items: Installed[]): Installed[] {
  return items.filter((x, i) => items.findIndex((y) => y.configurationId === x.configurationId) === i);
}

/** R15: an MDM certificate is renewed at a check-in in its last 30 days. */
export const RENEWAL_WINDOW_DAYS = 30;

export function inRenewalWindow(notAfter: Date, now: Date): boolean {
  return now < notAfter && notAfter.getTime() - now.getTime() <= RENEWAL_WINDOW_DAYS * 86_400_000;
}

/** R23: profiles of the old authority stay this long on a device that has not checked in since the change. */
export const LEGACY_PROFILE_DAYS = 7;
