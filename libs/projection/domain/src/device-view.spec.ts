import { EventData, EventEnvelope } from '@mdm/contracts/core';
import { CheckInsRequested } from '@mdm/contracts/device-sync';
import { envelopeFixture } from '@mdm/platform/testing';
import { DeviceState, applyCheckInRequest, applyDeviceEvent, deviceDetail, emptyDevice, timelineData } from './device-view';

const TENANT = '11111111-1111-4111-8111-111111111111';
const DEVICE = '22222222-2222-4222-8222-222222222222';
const USER = '33333333-3333-4333-8333-333333333333';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** A small deterministic generator, so that a failing seed can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

type Step = { stream: 'enrollment' | 'sync' | 'fanout'; event: EventEnvelope };

/**
 * One device's true history, as the services would write it: enrollment, then a random run of
 * check-ins, fan-outs (each naming the device with its sync stream's version at that moment),
 * blocks, legacy expiry, actions and renewals, the device's migration state decided as device-sync does.
 */
function history(seed: number): Step[] {
  const rnd = random(seed);
  const steps: Step[] = [];
  const versions = { enrollment: 0, sync: 0, fanout: 0 };
  let clock = T0;
  let state = 'none';
  let since: string | null = null;
  const enter = (next: string) => {
    if (next !== state) since = new Date(clock).toISOString();
    state = next;
  };
  let managedBy = 'office365';
  const add = (stream: Step['stream'], type: string, data: unknown, schemaVersion = 1) => {
    clock += Math.floor(rnd() * 3) * 60_000; // often the same minute: order must not come from time alone
    const streamId = { enrollment: `device-${DEVICE}`, sync: `devicesync-${DEVICE}`, fanout: `fanout-${TENANT}` }[stream];
    const at = new Date(clock).toISOString();
    const event = envelopeFixture({ type, streamId, tenantId: TENANT, streamVersion: ++versions[stream], occurredAt: at, recordedAt: at, data, schemaVersion });
    steps.push({ stream, event });
  };
  add('enrollment', 'DeviceEnrolled', {
    deviceId: DEVICE,
    serialNumber: 'S1',
    platform: 'ios',
    enrollmentType: 'user',
    userId: USER,
    deviceName: null,
    osVersion: '17',
    androidWorkProfile: false,
    managedBy,
    mdmCertificate: { serial: 'A1', notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 365 * 86_400_000).toISOString() },
    credentialHash: 'a'.repeat(64),
  });
  const profile = (authority: string) => ({ configurationId: DEVICE, name: 'Wi-Fi', type: 'wifi', authority, version: 1 });
  for (let i = 0; i < 25; i++) {
    const r = rnd();
    if (r < 0.3) {
      const moving = ['pendingCheckIn', 'blockedApns', 'legacyProfilesExpired'].includes(state);
      if (moving && managedBy === 'office365') {
        add('sync', 'DeviceMigrated', { deviceId: DEVICE, from: 'office365', to: 'intune' });
        managedBy = 'intune';
      }
      if (moving || state === 'migrated') enter('migrated');
      add(
        'sync',
        'DeviceCheckedIn',
        {
          deviceId: DEVICE,
          managedBy,
          state: { osVersion: '17', encrypted: true, jailbroken: false, passcodeSet: rnd() < 0.5 },
          configurations: [profile(managedBy)],
          redundantConfigurations: [],
          compliance: { state: rnd() < 0.5 ? 'compliant' : 'noncompliant', reasons: [], source: managedBy },
          nextCheckInAt: new Date(clock + 8 * 3600_000).toISOString(),
          migration: state,
          migrationSince: since,
        },
        2,
      );
    } else if (r < 0.5) {
      enter('pendingCheckIn');
      add('fanout', 'CheckInsRequested', {
        reason: 'authorityChanged',
        causeEventId: DEVICE,
        to: 'intune',
        legacyProfilesExpireAt: new Date(clock + 7 * 86_400_000).toISOString(),
        devices: [{ deviceId: DEVICE, afterVersion: versions.sync, nextCheckInAt: new Date(clock + 3600_000).toISOString(), target: 'intune' }],
      });
    } else if (r < 0.6 && state === 'pendingCheckIn') {
      enter('blockedApns');
      add('sync', 'DeviceMigrationBlocked', { deviceId: DEVICE, reason: 'apns', authority: 'intune' });
    } else if (r < 0.7 && (state === 'pendingCheckIn' || state === 'blockedApns')) {
      enter('legacyProfilesExpired');
      add('sync', 'LegacyProfilesExpired', { deviceId: DEVICE, items: [profile('office365')] });
    } else if (r < 0.85) {
      add('sync', 'RemoteActionQueued', { commandId: `${DEVICE.slice(0, 35)}${i % 10}`, deviceId: DEVICE, type: 'remoteLock' });
    } else {
      add('sync', 'MdmCertificateRenewed', { deviceId: DEVICE, serial: `B${i}`, notBefore: new Date(clock).toISOString(), notAfter: new Date(clock + 400 * 86_400_000).toISOString() });
    }
  }
  return steps;
}

function fold(steps: Step[]): DeviceState {
  const device = emptyDevice(DEVICE, TENANT);
  for (const { event } of steps) {
    if (event.type === 'CheckInsRequested') {
      const e = event as EventEnvelope<EventData<typeof CheckInsRequested>>;
      for (const entry of e.data.devices) applyCheckInRequest(device, e, entry);
    } else {
      applyDeviceEvent(device, event);
    }
  }
  return device;
}

/** The three streams merged in a random order that keeps each stream's own order (what Kafka promises). */
function interleave(steps: Step[], rnd: () => number): Step[] {
  const queues = (['enrollment', 'sync', 'fanout'] as const).map((s) => steps.filter((x) => x.stream === s));
  const out: Step[] = [];
  while (queues.some((q) => q.length > 0)) {
    const open = queues.filter((q) => q.length > 0);
    out.push(open[Math.floor(rnd() * open.length)].shift()!);
  }
  return out;
}

describe('device view fold', () => {
  it('R27: whatever order the enrollment, device-sync and fan-out streams arrive in, and with redeliveries, the device view is the same', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const steps = history(seed);
      const expected = deviceDetail(fold(steps), []);
      const rnd = random(seed * 7919);
      for (let round = 0; round < 5; round++) {
        const shuffled = interleave(steps, rnd);
        const redelivered = shuffled.flatMap((s) => (rnd() < 0.2 ? [s, s] : [s]));
        expect({ seed, view: deviceDetail(fold(redelivered), []) }).toEqual({ seed, view: expected });
      }
    }
  });

  it('R16/R20: a fan-out that arrives after the check-in it preceded does not undo the migration', () => {
    const steps = history(3).slice(0, 1);
    const at = '2026-01-01T01:00:00.000Z';
    const mark = envelopeFixture({
      type: 'CheckInsRequested',
      streamId: `fanout-${TENANT}`,
      tenantId: TENANT,
      occurredAt: at,
      data: { reason: 'authorityChanged' as const, causeEventId: DEVICE, to: 'intune' as const, legacyProfilesExpireAt: at, devices: [{ deviceId: DEVICE, afterVersion: 0, nextCheckInAt: null, target: 'intune' as const }] },
    });
    const migrated = envelopeFixture({ type: 'DeviceMigrated', streamId: `devicesync-${DEVICE}`, tenantId: TENANT, data: { deviceId: DEVICE, from: 'office365', to: 'intune' } });
    const device = fold(steps);
    applyDeviceEvent(device, migrated);
    applyCheckInRequest(device, mark, mark.data.devices[0]);
    expect(device.migration.state).toBe('migrated');
    expect(device.request?.at).toBe(at);
  });

  it('R16: the timeline shows that a push token was registered or cleared, never the token', () => {
    const registered = envelopeFixture({
      type: 'PushTokenRegistered',
      streamId: `devicesync-${DEVICE}`,
      tenantId: TENANT,
      data: { deviceId: DEVICE, provider: 'apns', token: 'ab12cd' },
    });
    expect(timelineData(registered)).toEqual({ deviceId: DEVICE, provider: 'apns' });
    const cleared = { deviceId: DEVICE, provider: 'apns', reason: 'unregistered', status: 410 };
    expect(timelineData(envelopeFixture({ type: 'PushTokenCleared', streamId: `devicesync-${DEVICE}`, tenantId: TENANT, data: cleared }))).toEqual(cleared);
  });

  it('R16: the device view says whether the device has a push token: from its enrollment, then from device-sync\'s last word', () => {
    const enrolled = history(1)[0].event;
    const withToken = { ...enrolled, schemaVersion: 2, data: { ...(enrolled.data as object), pushToken: 'ab12' } };
    const push = (device: DeviceState) => deviceDetail(device, []).push;
    const device = emptyDevice(DEVICE, TENANT);
    applyDeviceEvent(device, enrolled);
    expect(push(device)).toEqual({ provider: 'apns', registered: false });
    const tokened = emptyDevice(DEVICE, TENANT);
    applyDeviceEvent(tokened, withToken);
    expect(push(tokened)).toEqual({ provider: 'apns', registered: true });
    const sync = (streamVersion: number, type: string, data: object) =>
      envelopeFixture({ type, streamId: `devicesync-${DEVICE}`, tenantId: TENANT, streamVersion, data: { deviceId: DEVICE, provider: 'apns', ...data } });
    const cleared = sync(1, 'PushTokenCleared', { reason: 'unregistered', status: 410 });
    applyDeviceEvent(tokened, cleared);
    expect(push(tokened)).toEqual({ provider: 'apns', registered: false });
    // A redelivered clearing after a newer registration changes nothing.
    applyDeviceEvent(tokened, sync(2, 'PushTokenRegistered', { token: 'cd34' }));
    applyDeviceEvent(tokened, cleared);
    expect(push(tokened)).toEqual({ provider: 'apns', registered: true });
  });
});
