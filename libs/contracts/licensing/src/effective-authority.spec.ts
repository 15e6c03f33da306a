import { TenantAuthority } from '@mdm/contracts/authority';
import { SKU_ENTITLEMENTS } from './skus';
import { effectiveAuthority, entitles, isKnownSku } from './effective-authority';

describe('effective authority (pure)', () => {
  const table: [TenantAuthority, string[], ReturnType<typeof effectiveAuthority>][] = [
    ['intune', [], null],
    ['intune', ['O365_E3'], null],
    ['intune', ['EMS_E3'], 'intune'],
    ['intune', ['M365_BUSINESS_PREMIUM'], 'intune'],
    ['intune', ['O365_E1', 'INTUNE_PLAN_1'], 'intune'],
    ['office365', [], null],
    ['office365', ['EMS_E5'], null],
    ['office365', ['M365_BUSINESS_BASIC'], 'office365'],
    ['office365', ['M365_E5'], 'office365'],
    ['coexistence', [], null],
    ['coexistence', ['O365_E1'], 'office365'],
    ['coexistence', ['INTUNE_PLAN_1'], 'intune'],
    ['coexistence', ['M365_E3'], 'intune'],
    ['coexistence', ['O365_E3', 'EMS_E3'], 'intune'],
    ['unknown', ['M365_E5'], null],
    ['unknown', [], null],
  ];

  it.each(table)('R8: under %s with %j the effective authority is %s', (tenant, licenses, expected) => {
    expect(effectiveAuthority(tenant, licenses)).toBe(expected);
  });

  it('R8: the license table of DESIGN.md', () => {
    const office = ['M365_BUSINESS_BASIC', 'M365_BUSINESS_STANDARD', 'O365_E1', 'O365_E3'];
    const both = ['M365_BUSINESS_PREMIUM', 'M365_E3', 'M365_E5'];
    const intune = ['EMS_E3', 'EMS_E5', 'INTUNE_PLAN_1'];
    expect(Object.keys(SKU_ENTITLEMENTS).sort()).toEqual([...office, ...both, ...intune].sort());
    for (const sku of office) expect([entitles([sku], 'office365'), entitles([sku], 'intune')]).toEqual([true, false]);
    for (const sku of both) expect([entitles([sku], 'office365'), entitles([sku], 'intune')]).toEqual([true, true]);
    for (const sku of intune) expect([entitles([sku], 'office365'), entitles([sku], 'intune')]).toEqual([false, true]);
  });

  it('R8: an unknown SKU entitles nothing (and inherited object keys are not SKUs)', () => {
    expect(isKnownSku('EMS_E3')).toBe(true);
    expect(isKnownSku('E7')).toBe(false);
    expect(isKnownSku('toString')).toBe(false);
    expect(effectiveAuthority('coexistence', ['E7', 'constructor'])).toBeNull();
  });
});
