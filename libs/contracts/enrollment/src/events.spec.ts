import { randomUUID } from 'node:crypto';
import { EventRegistry } from '@mdm/contracts/core';
import { pushProviderOf } from '@mdm/contracts/authority';
import { enrollmentEvents } from './events';
import { enrollBody } from './http';

describe('enrollment event contracts', () => {
  const registry = new EventRegistry(enrollmentEvents);
  const v1 = {
    deviceId: randomUUID(),
    serialNumber: 'SN-1',
    platform: 'ios',
    enrollmentType: 'user',
    userId: randomUUID(),
    deviceName: null,
    osVersion: '17.4',
    androidWorkProfile: false,
    managedBy: 'intune',
    mdmCertificate: { serial: 'AB01', notBefore: '2026-04-01T08:00:00.000Z', notAfter: '2027-04-01T08:00:00.000Z' },
    credentialHash: 'a'.repeat(64),
  };

  it('R16: a version-1 DeviceEnrolled reads as version 2 with no push token', () => {
    const read = registry.read('DeviceEnrolled', 1, v1);
    expect(read).toEqual({ schemaVersion: 2, data: { ...v1, pushToken: null } });
  });

  it('R16: a version-2 DeviceEnrolled carries the push token; a token with spaces is refused', () => {
    expect(registry.read('DeviceEnrolled', 2, { ...v1, pushToken: 'ab12' }).data).toMatchObject({ pushToken: 'ab12' });
    expect(() => registry.read('DeviceEnrolled', 2, { ...v1, pushToken: 'a b' })).toThrow(/pushToken/);
  });

  it('R16: the enrollment body may carry a push token, validated like every field', () => {
    const body = { platform: 'android', enrollmentType: 'bulk', serialNumber: 'S', osVersion: '14' };
    expect(enrollBody.safeParse({ ...body, pushToken: 'fcm-token:APA91b' }).success).toBe(true);
    const bad = enrollBody.safeParse({ ...body, pushToken: '' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].path).toEqual(['pushToken']);
  });

  it('R16: the push provider follows from the platform', () => {
    expect(['ios', 'ipados', 'macos', 'android', 'windows'].map((p) => pushProviderOf(p as never))).toEqual(['apns', 'apns', 'apns', 'fcm', 'wns']);
  });
});
