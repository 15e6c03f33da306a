import { DeviceFacts, Installed, MigrationBlockedByApns, inRenewalWindow, keepsConfigurations, planAuthority, planCheckIn } from './check-in';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const profile = (n: number, name: string, type: Installed['type'], authority: Installed['authority']): Installed => ({
  configurationId: id(n),
  name,
  type,
  authority,
  version: 1,
});

const oldWifi = profile(1, 'Office Wi-Fi', 'wifi', 'office365');
const oldMail = profile(2, 'Mail', 'email', 'office365');
const newWifi = profile(3, 'Office Wi-Fi', 'wifi', 'intune');
const newVpn = profile(4, 'VPN', 'vpn', 'intune');

const device = (overrides: Partial<DeviceFacts> = {}): DeviceFacts => ({
  deviceId: id(9),
  userId: id(8),
  platform: 'android',
  managedBy: 'office365',
  migrationState: 'pendingCheckIn',
  installed: [oldWifi, oldMail],
  redundant: [],
  ...overrides,
});

const configs = (a: string) => (a === 'intune' ? [newWifi, newVpn] : [oldWifi, oldMail]);

describe('check-in (pure)', () => {
  it('R20: at the first check-in after the change the device moves and gets the new authority’s profiles', () => {
    const plan = planCheckIn(device(), 'intune', () => true, configs);
    expect(plan.migrated).toEqual({ from: 'office365', to: 'intune' });
    expect(plan.managedBy).toBe('intune');
    expect(plan.migrationState).toBe('migrated');
    expect(plan.configurations).toEqual([newWifi, newVpn]);
  });

  it('R21: a profile is replaced only by one of the same name and type; the others are redundant', () => {
    const plan = planCheckIn(device(), 'intune', () => true, configs);
    expect(plan.redundant).toEqual([oldMail]);
  });

  it('R17: a userless device stays where it is', () => {
    const plan = planCheckIn(device({ userId: null, migrationState: 'needsSupport' }), null, () => true, configs);
    expect([plan.migrated, plan.managedBy, plan.migrationState]).toEqual([null, 'office365', 'needsSupport']);
  });

  it('R22: an Apple device moving to an authority without APNs certificate is blocked', () => {
    expect(() => planCheckIn(device({ platform: 'ios' }), 'intune', () => false, configs)).toThrow(MigrationBlockedByApns);
    expect(planCheckIn(device({ platform: 'ios' }), 'intune', () => true, configs).managedBy).toBe('intune');
  });

  it('R18: a device never affected by a change keeps migration state none', () => {
    const plan = planCheckIn(device({ managedBy: 'intune', migrationState: 'none', installed: [] }), 'intune', () => true, configs);
    expect([plan.migrated, plan.migrationState]).toEqual([null, 'none']);
  });

  it('R20/R21: a check-in that keeps its configurations (same authority, same assignment) is planned as the lists it has, so they need not be read', () => {
    const settled = device({ managedBy: 'intune', migrationState: 'migrated', installed: [newWifi, newVpn], redundant: [oldMail] });
    expect(keepsConfigurations(settled, 'intune', false)).toBe(true);
    const plan = planCheckIn(settled, 'intune', () => true, () => settled.installed);
    expect([plan.configurations, plan.redundant]).toEqual([settled.installed, settled.redundant]);
    expect(planAuthority(settled, 'intune', () => true)).toEqual({ managedBy: plan.managedBy, migrated: plan.migrated, migrationState: plan.migrationState });
    // Moving, or an assignment that moved, reads and plans them again.
    expect(keepsConfigurations(settled, 'office365', false)).toBe(false);
    expect(keepsConfigurations(settled, 'intune', true)).toBe(false);
    // R17: a userless device never moves.
    expect(keepsConfigurations({ userId: null, managedBy: 'intune' }, 'office365', false)).toBe(true);
  });

  it('R15: renewal in the last 30 days before expiry, not before, not after expiry', () => {
    const notAfter = new Date('2027-01-30T00:00:00.000Z');
    expect(inRenewalWindow(notAfter, new Date('2026-12-31T00:00:00.000Z'))).toBe(true); // 30 days before
    expect(inRenewalWindow(notAfter, new Date('2026-12-30T23:59:59.000Z'))).toBe(false);
    expect(inRenewalWindow(notAfter, new Date('2027-01-30T00:00:00.000Z'))).toBe(false); // expired: not renewed
  });
});
