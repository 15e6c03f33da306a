import { ManagingAuthority, TenantAuthority } from '@mdm/contracts/authority';
import { SKU_ENTITLEMENTS } from './skus';

/** A user's effective authority (R8); null = none, the user cannot enroll (NO_MDM_LICENSE). */
export type EffectiveAuthority = ManagingAuthority | null;

export const isKnownSku = (sku: string): boolean => Object.prototype.hasOwnProperty.call(SKU_ENTITLEMENTS, sku);

/** R8: does any of the licenses entitle the service? */
export function entitles(licenses: readonly string[], authority: ManagingAuthority): boolean {
  return licenses.some((sku) => isKnownSku(sku) && SKU_ENTITLEMENTS[sku].includes(authority));
}

/**
 * R8: under intune or office365 the tenant's authority, provided a license entitles it; under
 * coexistence intune if any license entitles Intune, else office365 if any entitles MDM for Office;
 * while the tenant's authority is unknown, none.
 */
export function effectiveAuthority(tenantAuthority: TenantAuthority, licenses: readonly string[]): EffectiveAuthority {
  switch (tenantAuthority) {
    case 'intune':
    case 'office365':
      return entitles(licenses, tenantAuthority) ? tenantAuthority : null;
    case 'coexistence':
      if (entitles(licenses, 'intune')) return 'intune';
      return entitles(licenses, 'office365') ? 'office365' : null;
    case 'unknown':
      return null;
  }
}
