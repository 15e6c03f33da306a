import { ManagingAuthority, Platform, TenantAuthority } from '@mdm/contracts/authority';
import { ruleViolation } from '@mdm/contracts/core';
import { effectiveAuthority } from '@mdm/contracts/licensing';
import { recomputeTenant } from './tenant-recompute';
import { TenantContext, UserState } from './user';
import { Warning, toWarnings } from './warnings';

/** An enrolled (active) device of the tenant, as the preview needs it. */
export interface PreviewDevice {
  deviceId: string;
  userId: string | null;
  platform: Platform;
}

export interface PreviewTenant extends TenantContext {
  /** notAfter (ISO) of the APNs certificate uploaded to each authority (R6). */
  apnsNotAfter: Partial<Record<ManagingAuthority, string>>;
}

export interface AuthorityPreview {
  devicesToNotify: number;
  devicesNeedingSupport: number;
  appleDevicesBlockedWithoutApns: number;
  usersToSwitch: number;
  warnings: (Warning & { userId?: string })[];
}

const APPLE_PLATFORMS: readonly Platform[] = ['ios', 'ipados', 'macos'];

/** R12, R22: an Apple device needs an unexpired APNs certificate on its managing authority. */
export function hasUnexpiredApnsCertificate(tenant: Pick<PreviewTenant, 'apnsNotAfter'>, authority: ManagingAuthority, now: Date): boolean {
  const notAfter = tenant.apnsNotAfter[authority];
  return notAfter !== undefined && new Date(notAfter).getTime() > now.getTime();
}

const NOTHING: AuthorityPreview = {
  devicesToNotify: 0,
  devicesNeedingSupport: 0,
  appleDevicesBlockedWithoutApns: 0,
  usersToSwitch: 0,
  warnings: [],
};

/**
 * R10 preview of a tenant authority change, changing nothing: the devices notified (R16: every
 * enrolled device with a user, Apple devices that will be blocked included), the userless devices
 * that need support (R17), the Apple devices whose user's new effective authority has no unexpired
 * APNs certificate (R22), and the users switched to Intune without an Intune configuration (R10).
 * The current authority again changes nothing (R3); unknown is never a target (R3).
 */
export function previewAuthorityChange(input: {
  tenant: PreviewTenant;
  target: TenantAuthority;
  users: readonly UserState[];
  devices: readonly PreviewDevice[];
  now: Date;
}): AuthorityPreview {
  const { tenant, target, users, devices, now } = input;
  if (target === tenant.authority) return { ...NOTHING, warnings: [] };
  if (target === 'unknown') {
    throw ruleViolation('AUTHORITY_CANNOT_REVERT_TO_UNKNOWN', 'the MDM authority cannot be set back to unknown');
  }
  const after: TenantContext = { ...tenant, authority: target };
  const licensesOf = new Map(users.map((u) => [u.userId, u.licenses]));
  const withUser = devices.filter((d) => d.userId !== null);
  const blocked = withUser.filter((d) => {
    if (!APPLE_PLATFORMS.includes(d.platform)) return false;
    const next = effectiveAuthority(target, licensesOf.get(d.userId!) ?? []);
    return next !== null && !hasUnexpiredApnsCertificate(tenant, next, now);
  });
  const moves = recomputeTenant(users, after);
  return {
    devicesToNotify: withUser.length,
    devicesNeedingSupport: devices.length - withUser.length,
    appleDevicesBlockedWithoutApns: blocked.length,
    usersToSwitch: moves.length,
    warnings: moves.flatMap(({ userId, events }) =>
      events.flatMap((e) => toWarnings(e.data.warnings).map((w) => ({ ...w, userId }))),
    ),
  };
}
