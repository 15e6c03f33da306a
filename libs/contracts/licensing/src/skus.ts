import { ManagingAuthority } from '@mdm/contracts/authority';

/** R8: what each license entitles. */
export const SKU_ENTITLEMENTS: Readonly<Record<string, readonly ManagingAuthority[]>> = {
  M365_BUSINESS_BASIC: ['office365'],
  M365_BUSINESS_STANDARD: ['office365'],
  O365_E1: ['office365'],
  O365_E3: ['office365'],
  M365_BUSINESS_PREMIUM: ['office365', 'intune'],
  M365_E3: ['office365', 'intune'],
  M365_E5: ['office365', 'intune'],
  EMS_E3: ['intune'],
  EMS_E5: ['intune'],
  INTUNE_PLAN_1: ['intune'],
};
