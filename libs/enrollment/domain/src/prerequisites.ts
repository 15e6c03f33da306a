import { ConsentKind, ManagingAuthority, Platform, TenantAuthority } from '@mdm/contracts/authority';
import { DomainError, conflict, notFound, ruleViolation } from '@mdm/contracts/core';
import { APPLE_PLATFORMS, EnrollBody, REMOVAL_AFTER_EXPIRY_MS } from '@mdm/contracts/enrollment';
import { effectiveAuthority } from '@mdm/contracts/licensing';

/** What enrollment knows of a tenant, from the authority service's events. */
export interface TenantFacts {
  authority: TenantAuthority;
  apnsNotAfter: Partial<Record<ManagingAuthority, string>>;
  consents: ConsentKind[];
}

/**
 * What enrollment knows of a user, from the licensing service's events: the licenses. The effective
 * authority is computed here from them and the tenant's authority (R8, the contract's rule), so an
 * enrollment right after an authority change does not depend on licensing having recomputed the user.
 */
export interface UserFacts {
  licenses: string[];
}

export const isApple = (platform: Platform) => APPLE_PLATFORMS.includes(platform);

/** R12: userless devices take the tenant's authority, intune under coexistence. */
export function authorityForUserless(tenantAuthority: TenantAuthority): ManagingAuthority {
  return tenantAuthority === 'office365' ? 'office365' : 'intune';
}

export function apnsReady(tenant: TenantFacts, authority: ManagingAuthority, now: Date): boolean {
  const notAfter = tenant.apnsNotAfter[authority];
  return notAfter !== undefined && Date.parse(notAfter) > now.getTime();
}

/**
 * R12, in its order: authority set → the user's effective authority → APNs for Apple platforms →
 * consents → (one active enrollment per serial, checked where the serials are). Returns the
 * authority that will manage the device (R13).
 */
export function checkPrerequisites(
  tenant: TenantFacts,
  user: UserFacts | undefined,
  cmd: Pick<EnrollBody, 'platform' | 'enrollmentType' | 'userId' | 'androidWorkProfile'>,
  now: Date,
): ManagingAuthority {
  if (tenant.authority === 'unknown') {
    throw ruleViolation('MDM_AUTHORITY_NOT_SET', 'set the MDM authority before enrolling devices');
  }
  let managedBy: ManagingAuthority;
  if (cmd.userId) {
    if (!user) throw notFound('user');
    const effective = effectiveAuthority(tenant.authority, user.licenses);
    if (!effective) {
      throw ruleViolation('NO_MDM_LICENSE', 'the user holds no license that entitles the tenant’s MDM authority');
    }
    managedBy = effective;
  } else {
    managedBy = authorityForUserless(tenant.authority);
  }
  if (isApple(cmd.platform) && !apnsReady(tenant, managedBy, now)) {
    throw ruleViolation('APNS_CERTIFICATE_MISSING', `Apple devices need an unexpired APNs certificate on ${managedBy}`, {
      authority: managedBy,
    });
  }
  requireConsent(tenant, cmd.platform === 'android' && cmd.androidWorkProfile === true, 'androidWorkProfile');
  requireConsent(tenant, cmd.enrollmentType === 'ade', 'appleDep');
  return managedBy;
}

function requireConsent(tenant: TenantFacts, needed: boolean, kind: ConsentKind) {
  if (needed && !tenant.consents.includes(kind)) {
    throw ruleViolation('CONSENT_REQUIRED', `this enrollment needs the admin's consent ${kind}`, { consent: kind });
  }
}

export const alreadyEnrolled = (serialNumber: string): DomainError =>
  conflict('ALREADY_ENROLLED', `a device with serial number ${serialNumber} is enrolled`);


export function removalDueAt(certificateNotAfter: string): string {
  return new Date(Date.parse(certificateNotAfter) + REMOVAL_AFTER_EXPIRY_MS).toISOString();
}
