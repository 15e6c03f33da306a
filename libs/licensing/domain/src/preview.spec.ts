import { randomUUID } from 'node:crypto';
import { DomainError } from '@mdm/contracts/core';
import { PreviewDevice, PreviewTenant, previewAuthorityChange } from './preview';
import { userFixture } from './user.fixture';

const now = new Date('2026-06-01T00:00:00.000Z');
const DAY = 86_400_000;
const staff = randomUUID();

const user = userFixture;
const device = (userId: string | null, platform: PreviewDevice['platform']): PreviewDevice => ({ deviceId: randomUUID(), userId, platform });

describe('authority change preview (pure)', () => {
  const office = user(['O365_E3'], 'office365');
  const both = user(['M365_E5'], 'office365', [staff]);
  const unconfigured = user(['M365_BUSINESS_PREMIUM'], 'office365');
  const devices = [
    device(office.userId, 'ios'),
    device(both.userId, 'ios'),
    device(both.userId, 'windows'),
    device(unconfigured.userId, 'macos'),
    device(null, 'android'),
    device(null, 'ipados'),
  ];
  const tenant = (apnsNotAfter: PreviewTenant['apnsNotAfter'] = {}): PreviewTenant => ({
    authority: 'office365',
    intuneConfiguredGroupIds: new Set([staff]),
    apnsNotAfter,
  });

  it('R16/R17/R22/R10: devices notified, userless needing support, Apple blocked without APNs, warnings', () => {
    const preview = previewAuthorityChange({ tenant: tenant(), target: 'intune', users: [office, both, unconfigured], devices, now });
    expect(preview).toEqual({
      devicesToNotify: 4,
      devicesNeedingSupport: 2,
      // The office365-only user has no effective authority under intune: their iPhone is not blocked by APNs.
      appleDevicesBlockedWithoutApns: 2,
      usersToSwitch: 3,
      warnings: [{ code: 'NO_INTUNE_CONFIGURATION_ASSIGNED', message: expect.any(String), userId: unconfigured.userId }],
    });
  });

  it('R22: an unexpired APNs certificate on the new authority unblocks Apple devices; an expired one does not', () => {
    const valid = previewAuthorityChange({
      tenant: tenant({ intune: new Date(now.getTime() + DAY).toISOString() }),
      target: 'intune',
      users: [office, both, unconfigured],
      devices,
      now,
    });
    expect(valid.appleDevicesBlockedWithoutApns).toBe(0);
    const expired = previewAuthorityChange({
      tenant: tenant({ intune: new Date(now.getTime() - DAY).toISOString(), office365: new Date(now.getTime() + DAY).toISOString() }),
      target: 'intune',
      users: [office, both, unconfigured],
      devices,
      now,
    });
    expect(expired.appleDevicesBlockedWithoutApns).toBe(2);
  });

  it('R3: the current authority again changes nothing; unknown is refused', () => {
    expect(previewAuthorityChange({ tenant: tenant(), target: 'office365', users: [office], devices, now })).toEqual({
      devicesToNotify: 0,
      devicesNeedingSupport: 0,
      appleDevicesBlockedWithoutApns: 0,
      usersToSwitch: 0,
      warnings: [],
    });
    let err: unknown;
    try {
      previewAuthorityChange({ tenant: tenant(), target: 'unknown', users: [office], devices, now });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'AUTHORITY_CANNOT_REVERT_TO_UNKNOWN' });
  });
});
