import { randomUUID } from 'node:crypto';
import { EventRegistry } from '@mdm/contracts/core';
import { deviceSyncEvents } from './events';

describe('device-sync event contracts', () => {
  const registry = new EventRegistry(deviceSyncEvents);
  const v1 = (to: string | null) => ({
    reason: 'authorityChanged',
    causeEventId: randomUUID(),
    to,
    legacyProfilesExpireAt: '2026-12-04T00:00:00.000Z',
    devices: [{ deviceId: randomUUID(), afterVersion: 3, nextCheckInAt: null }],
  });

  it('R23: a version-1 CheckInsRequested gives each device the one authority its change named, and none for coexistence', () => {
    const intune = registry.read('CheckInsRequested', 1, v1('intune'));
    expect(intune.schemaVersion).toBe(2);
    expect((intune.data as { devices: { target: string | null }[] }).devices.map((d) => d.target)).toEqual(['intune']);
    const coexistence = registry.read('CheckInsRequested', 1, v1('coexistence'));
    expect((coexistence.data as { devices: { target: string | null }[] }).devices.map((d) => d.target)).toEqual([null]);
  });
});
