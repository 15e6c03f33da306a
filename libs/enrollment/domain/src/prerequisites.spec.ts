import { checkPrerequisites, removalDueAt, TenantFacts } from './prerequisites';

const now = new Date('2026-06-01T00:00:00.000Z');
const later = '2027-01-01T00:00:00.000Z';
const earlier = '2026-01-01T00:00:00.000Z';
const userId = '2b0a8c3e-55f4-4b8e-9a51-8f3a1c6d7e90';

const tenant = (overrides: Partial<TenantFacts> = {}): TenantFacts => ({
  authority: 'intune',
  apnsNotAfter: { intune: later },
  consents: ['androidWorkProfile', 'appleDep'],
  ...overrides,
});

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('enrollment prerequisites (pure)', () => {
  it('R12: the checks come in order: authority, license, APNs, consent', () => {
    // Everything wrong at once: the first check speaks.
    const worst = tenant({ authority: 'unknown', apnsNotAfter: {}, consents: [] });
    const cmd = { platform: 'ios' as const, enrollmentType: 'ade' as const, userId };
    expect(code(() => checkPrerequisites(worst, { licenses: [] }, cmd, now))).toBe('MDM_AUTHORITY_NOT_SET');
    const set = { ...worst, authority: 'intune' as const };
    expect(code(() => checkPrerequisites(set, { licenses: [] }, cmd, now))).toBe('NO_MDM_LICENSE');
    expect(code(() => checkPrerequisites(set, { licenses: ['EMS_E3'] }, cmd, now))).toBe('APNS_CERTIFICATE_MISSING');
    const withApns = { ...set, apnsNotAfter: { intune: later } };
    expect(code(() => checkPrerequisites(withApns, { licenses: ['EMS_E3'] }, cmd, now))).toBe('CONSENT_REQUIRED');
    expect(checkPrerequisites({ ...withApns, consents: ['appleDep'] }, { licenses: ['EMS_E3'] }, cmd, now)).toBe('intune');
  });

  it('R1: no enrollment while the authority is unknown', () => {
    expect(code(() => checkPrerequisites(tenant({ authority: 'unknown' }), undefined, { platform: 'windows', enrollmentType: 'bulk' }, now))).toBe(
      'MDM_AUTHORITY_NOT_SET',
    );
  });

  it('R11/R12: userless devices take the tenant authority, intune under coexistence', () => {
    const bulk = { platform: 'windows' as const, enrollmentType: 'bulk' as const };
    expect(checkPrerequisites(tenant({ authority: 'office365' }), undefined, bulk, now)).toBe('office365');
    expect(checkPrerequisites(tenant({ authority: 'coexistence' }), undefined, bulk, now)).toBe('intune');
  });

  it('R13: a user device is managed by the user’s effective authority', () => {
    const cmd = { platform: 'android' as const, enrollmentType: 'user' as const, userId };
    expect(checkPrerequisites(tenant({ authority: 'coexistence' }), { licenses: ['O365_E3'] }, cmd, now)).toBe('office365');
    expect(checkPrerequisites(tenant({ authority: 'coexistence' }), { licenses: ['O365_E3', 'EMS_E5'] }, cmd, now)).toBe('intune');
    expect(code(() => checkPrerequisites(tenant({ authority: 'office365' }), { licenses: ['EMS_E5'] }, cmd, now))).toBe('NO_MDM_LICENSE');
  });

  it('R12: an expired APNs certificate, or one on the other authority, does not serve', () => {
    const cmd = { platform: 'macos' as const, enrollmentType: 'bulk' as const };
    expect(code(() => checkPrerequisites(tenant({ apnsNotAfter: { intune: earlier } }), undefined, cmd, now))).toBe('APNS_CERTIFICATE_MISSING');
    expect(code(() => checkPrerequisites(tenant({ apnsNotAfter: { office365: later } }), undefined, cmd, now))).toBe('APNS_CERTIFICATE_MISSING');
  });

  it('R12: an Android work profile needs its consent; without a work profile it does not', () => {
    const t = tenant({ consents: [] });
    const cmd = { platform: 'android' as const, enrollmentType: 'user' as const, userId };
    expect(code(() => checkPrerequisites(t, { licenses: ['EMS_E3'] }, { ...cmd, androidWorkProfile: true }, now))).toBe('CONSENT_REQUIRED');
    expect(checkPrerequisites(t, { licenses: ['EMS_E3'] }, cmd, now)).toBe('intune');
  });

  it('R15: a device is removed 180 days after its certificate expired', () => {
    expect(removalDueAt('2027-06-01T00:00:00.000Z')).toBe('2027-11-28T00:00:00.000Z');
  });
});
