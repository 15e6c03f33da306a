import { EventData, EventEnvelope } from '@mdm/contracts/core';
import { CheckInsRequested } from '@mdm/contracts/device-sync';
import { envelopeFixture } from '@mdm/platform/testing';
import { DeviceState, applyCheckInRequest, applyDeviceEvent, deviceDetail, emptyDevice } from './device-view';

const TENANT = '11111111-1111-4111-8111-111111111111';
const DEVICE = '22222222-2222-4222-8222-222222222222';
const USER = '33333333-3333-4333-8333-333333333333';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

type Cfg = { configurationId: string; name: string; type: string; authority: string; version: number };
const cfg = (n: number, name: string, type: string, authority: string, version = 1): Cfg => ({ configurationId: id(n), name, type, authority, version });

/** What one check-in left on the device, and how it stood. */
interface CheckIn {
  managedBy: string;
  configurations: Cfg[];
  redundant: Cfg[];
  compliance: { state: string; reasons: unknown[]; source: string };
  migration: string;
}
type Step = { checkIn: CheckIn } | { migrated: [string, string] } | { fanOut: string | null } | { expired: Cfg[] };

/** The difference by id, as a reader of the two lists would compute it. */
function delta(before: CheckIn | undefined, after: CheckIn) {
  const had = new Map((before?.configurations ?? []).map((c) => [c.configurationId, c]));
  const has = new Set(after.configurations.map((c) => c.configurationId));
  const wasRedundant = new Set((before?.redundant ?? []).map((c) => c.configurationId));
  const isRedundant = new Set(after.redundant.map((c) => c.configurationId));
  return {
    added: after.configurations.filter((c) => !had.has(c.configurationId)),
    updated: after.configurations.filter((c) => had.has(c.configurationId) && had.get(c.configurationId)!.version !== c.version),
    removed: (before?.configurations ?? []).filter((c) => !has.has(c.configurationId)),
    redundantAdded: after.redundant.filter((c) => !wasRedundant.has(c.configurationId)),
    redundantRemoved: (before?.redundant ?? []).filter((c) => !isRedundant.has(c.configurationId)),
  };
}

/**
 * Folds one device's history twice: as check-ins carrying the whole lists (DeviceCheckedIn v2, the
 * events already in the log) and as check-ins that record only what changed (DeviceConfigurationsChanged,
 * then DeviceCheckedIn v3). Returns both device views, without their timelines.
 */
function foldBothWays(steps: Step[]) {
  const fold = (lists: boolean) => {
    const device: DeviceState = emptyDevice(DEVICE, TENANT);
    let version = 0;
    let fanOuts = 0;
    let clock = T0;
    let previous: CheckIn | undefined;
    // One minute per step: the events of one check-in share its time, however many there are.
    let time = new Date(T0).toISOString();
    const sync = (type: string, data: unknown, schemaVersion = 1) => {
      applyDeviceEvent(
        device,
        envelopeFixture({ type, streamId: `devicesync-${DEVICE}`, tenantId: TENANT, streamVersion: ++version, occurredAt: time, recordedAt: time, data, schemaVersion }),
      );
    };
    applyDeviceEvent(
      device,
      envelopeFixture({
        type: 'DeviceEnrolled',
        streamId: `device-${DEVICE}`,
        tenantId: TENANT,
        streamVersion: 1,
        occurredAt: new Date(T0).toISOString(),
        data: {
          deviceId: DEVICE,
          serialNumber: 'S1',
          platform: 'android',
          enrollmentType: 'user',
          userId: USER,
          deviceName: null,
          osVersion: '14',
          androidWorkProfile: false,
          managedBy: 'office365',
          mdmCertificate: { serial: 'A1', notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 365 * 86_400_000).toISOString() },
          credentialHash: 'a'.repeat(64),
        },
      }),
    );
    for (const step of steps) {
      time = new Date((clock += 60_000)).toISOString();
      if ('checkIn' in step) {
        const c = step.checkIn;
        const common = {
          deviceId: DEVICE,
          managedBy: c.managedBy,
          state: { osVersion: '14', encrypted: true, jailbroken: false, passcodeSet: true },
          compliance: c.compliance,
          nextCheckInAt: new Date(clock + 8 * 3600_000).toISOString(),
          migration: c.migration,
          migrationSince: null,
        };
        if (lists) sync('DeviceCheckedIn', { ...common, configurations: c.configurations, redundantConfigurations: c.redundant }, 2);
        else {
          const d = delta(previous, c);
          if (Object.values(d).some((l) => l.length > 0)) sync('DeviceConfigurationsChanged', { deviceId: DEVICE, ...d });
          sync('DeviceCheckedIn', common, 3);
        }
        previous = c;
      } else if ('migrated' in step) {
        sync('DeviceMigrated', { deviceId: DEVICE, from: step.migrated[0], to: step.migrated[1] });
      } else if ('expired' in step) {
        sync('LegacyProfilesExpired', { deviceId: DEVICE, items: step.expired });
      } else {
        const data: EventData<typeof CheckInsRequested> = {
          reason: 'authorityChanged',
          causeEventId: id(999),
          to: step.fanOut as 'intune' | null,
          legacyProfilesExpireAt: new Date(clock + 7 * 86_400_000).toISOString(),
          devices: [{ deviceId: DEVICE, afterVersion: version, nextCheckInAt: time, target: step.fanOut as 'intune' | null }],
        };
        const e = envelopeFixture({ type: 'CheckInsRequested', streamId: `fanout-${TENANT}`, tenantId: TENANT, streamVersion: ++fanOuts, occurredAt: time, data, schemaVersion: 2 });
        applyCheckInRequest(device, e as EventEnvelope<typeof data>, data.devices[0]);
      }
    }
    return deviceDetail(device, []);
  };
  return { lists: fold(true), changes: fold(false) };
}

const compliant = (source: string) => ({ state: 'compliant', reasons: [], source });
const wifi365 = cfg(1, 'Office Wi-Fi', 'wifi', 'office365');
const mail365 = cfg(2, 'Mail', 'email', 'office365');
const wifiIntune = cfg(3, 'Office Wi-Fi', 'wifi', 'intune');
const vpnIntune = cfg(4, 'VPN', 'vpn', 'intune');
const before: CheckIn = { managedBy: 'office365', configurations: [mail365, wifi365], redundant: [], compliance: compliant('office365'), migration: 'none' };

describe('check-ins that record only what changed fold to the views the whole lists gave (R20, R21, R23, R25)', () => {
  it('R20: a device that moves has the new authority\'s configurations; R21: the old one\'s without a same-named replacement stays redundant', () => {
    const { lists, changes } = foldBothWays([
      { checkIn: before },
      { fanOut: 'intune' },
      { migrated: ['office365', 'intune'] },
      { checkIn: { managedBy: 'intune', configurations: [wifiIntune, vpnIntune], redundant: [mail365], compliance: compliant('intune'), migration: 'migrated' } },
    ]);
    expect(changes).toEqual(lists);
    expect(changes.configurations.map((c) => c.name)).toEqual(['Office Wi-Fi', 'VPN']);
    expect(changes.redundantConfigurations).toEqual([{ name: 'Mail', type: 'email', authority: 'office365', version: 1 }]);
  });

  it('R21: a later same-named configuration replaces the redundant one; an updated one shows its new version; a deleted one goes', () => {
    const moved: CheckIn = { managedBy: 'intune', configurations: [wifiIntune, vpnIntune], redundant: [mail365], compliance: compliant('intune'), migration: 'migrated' };
    const mailIntune = cfg(5, 'Mail', 'email', 'intune');
    const { lists, changes } = foldBothWays([
      { checkIn: before },
      { fanOut: 'intune' },
      { migrated: ['office365', 'intune'] },
      { checkIn: moved },
      { checkIn: { ...moved, configurations: [mailIntune, { ...wifiIntune, version: 2 }], redundant: [] } },
      { checkIn: { ...moved, configurations: [{ ...wifiIntune, version: 2 }], redundant: [] } },
    ]);
    expect(changes).toEqual(lists);
    expect(changes.configurations).toEqual([{ name: 'Office Wi-Fi', type: 'wifi', authority: 'intune', version: 2 }]);
    expect(changes.redundantConfigurations).toEqual([]);
  });

  it('R23: a device told to move keeps its old profiles as legacy until they expire; after expiry they are gone', () => {
    const told = foldBothWays([{ checkIn: before }, { fanOut: 'intune' }]);
    expect(told.changes).toEqual(told.lists);
    expect(told.changes.legacyConfigurations.items.map((c) => c.name)).toEqual(['Mail', 'Office Wi-Fi']);
    const expired = foldBothWays([{ checkIn: before }, { fanOut: 'intune' }, { expired: [mail365, wifi365] }]);
    expect(expired.changes).toEqual(expired.lists);
    expect(expired.changes.legacyConfigurations).toMatchObject({ items: [], expired: true });
    expect(expired.changes.configurations).toEqual([]);
  });

  it('R25: the compliance a check-in reports is the view\'s, with its reasons, whether or not the configurations changed', () => {
    const reasons = [{ setting: 'minOsVersion', expected: '15', actual: '14' }];
    const { lists, changes } = foldBothWays([
      { checkIn: before },
      { checkIn: { ...before, compliance: { state: 'noncompliant', reasons, source: 'office365' } } },
    ]);
    expect(changes).toEqual(lists);
    expect(changes.compliance).toEqual({ state: 'noncompliant', reasons, source: 'office365' });
  });
});
