import { Installed, MigrationBlockedByApns } from './check-in';
import { assignmentKey, blockedCheckInEvents, checkInEvents, configurationDelta } from './configuration-delta';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const cfg = (n: number, name: string, type: Installed['type'], authority: Installed['authority'], version = 1): Installed => ({
  configurationId: id(n),
  name,
  type,
  authority,
  version,
});
const wifi = cfg(1, 'Office Wi-Fi', 'wifi', 'office365');
const mail = cfg(2, 'Mail', 'email', 'office365');
const wifiIntune = cfg(3, 'Office Wi-Fi', 'wifi', 'intune');

describe('what a check-in changed (R20, R21)', () => {
  it('R20/R21: a move records the new configurations added, the old removed and the one without replacement redundant', () => {
    expect(configurationDelta({ configurations: [mail, wifi], redundant: [] }, { configurations: [wifiIntune], redundant: [mail] })).toEqual({
      added: [wifiIntune],
      updated: [],
      removed: [mail, wifi],
      redundantAdded: [mail],
      redundantRemoved: [],
    });
  });

  it('R21: a new version of a configuration is an update; nothing changed is no delta at all', () => {
    expect(configurationDelta({ configurations: [wifi], redundant: [mail] }, { configurations: [{ ...wifi, version: 2 }], redundant: [mail] })).toEqual({
      added: [],
      updated: [{ ...wifi, version: 2 }],
      removed: [],
      redundantAdded: [],
      redundantRemoved: [],
    });
    expect(configurationDelta({ configurations: [mail, wifi], redundant: [mail] }, { configurations: [wifi, mail], redundant: [mail] })).toBeNull();
  });

  it('the assignment key moves with the tenant\'s configurations, the user\'s groups and the managing authority, and only with them', () => {
    const key = assignmentKey(4, 2, 'intune');
    expect(assignmentKey(4, 2, 'intune')).toBe(key);
    expect([assignmentKey(5, 2, 'intune'), assignmentKey(4, 3, 'intune'), assignmentKey(4, 2, 'office365')]).not.toContain(key);
  });

  it('R18/R25: a check-in that changed nothing is one small DeviceCheckedIn, whatever the number of configurations', () => {
    const many = Array.from({ length: 200 }, (_, i) => cfg(100 + i, `Profile ${i}`, 'configuration', 'intune'));
    const events = checkInEvents({
      deviceId: id(9),
      plan: { managedBy: 'intune', migrated: null, migrationState: 'migrated' },
      delta: configurationDelta({ configurations: many, redundant: [] }, { configurations: many, redundant: [] }),
      renewed: null,
      state: { osVersion: '17.4', encrypted: true, jailbroken: false, passcodeSet: true },
      compliance: { state: 'noncompliant', reasons: [{ setting: 'requirePasscode', expected: true, actual: false }], source: 'intune' },
      nextCheckInAt: '2026-01-01T08:00:00.000Z',
      migrationSince: '2026-01-01T00:00:00.000Z',
    });
    expect(events.map((e) => e.type)).toEqual(['DeviceCheckedIn']);
    expect(events[0].data).not.toHaveProperty('configurations');
    expect(JSON.stringify(events[0].data).length).toBeLessThan(512);
  });
  it('R22: a check-in refused for a missing APNs certificate records DeviceMigrationBlocked once, not again while the device stays blocked', () => {
    const refusal = new MigrationBlockedByApns('intune');
    expect(blockedCheckInEvents({ deviceId: id(9), migrationState: 'pendingCheckIn' }, refusal)).toEqual([
      { type: 'DeviceMigrationBlocked', data: { deviceId: id(9), reason: 'apns', authority: 'intune' } },
    ]);
    expect(blockedCheckInEvents({ deviceId: id(9), migrationState: 'blockedApns' }, refusal)).toEqual([]);
  });
});
