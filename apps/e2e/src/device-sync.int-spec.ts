import { randomUUID } from 'node:crypto';
import { eventually, selfSignedCertificatePem } from '@mdm/platform/testing';
import { ApiClient } from './support/api-client';
import { TestStack, startStack } from './support/stack';
import { TestTenant, createTenant } from './support/tenant';

const DAY = 86_400;
const healthy = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };

/**
 * The story of DESIGN.md's device rules, end to end through the gateway: an MDM for Office 365
 * tenant with an Android and an iOS user device and a userless Windows kiosk moves to Intune.
 */
describe('device-sync story: office365 → intune (R15–R25)', () => {
  let stack: TestStack;
  let tenant: TestTenant;
  let now: () => Promise<number>;

  beforeAll(async () => {
    stack = await startStack({ testClock: true });
    tenant = await createTenant(stack, 'Story');
    now = async () => Date.parse((await stack.anonymous.get('/api/v1/system/clock')).body.now);
  });
  afterAll(() => stack.stop());

  const device = (credential: string) => new DeviceClient(stack.gateway.url, credential);
  const events = async (deviceId: string) => (await stack.deviceSync.runtime.store.readStream(`devicesync-${deviceId}`)).map((e) => e.type);

  async function apns(authority: string) {
    const t = await now();
    const certificatePem = await selfSignedCertificatePem({ notBefore: new Date(t - DAY * 1000), notAfter: new Date(t + 400 * DAY * 1000) });
    expect((await tenant.admin.put(tenant.path(`/authorities/${authority}/apns-certificate`), { certificatePem })).status).toBe(200);
  }

  async function configure(authority: string, name: string, type: string, groupId: string, settings: object = {}) {
    const res = await tenant.admin.post(tenant.path(`/authorities/${authority}/configurations`), {
      name,
      type,
      platforms: ['android', 'ios', 'windows'],
      settings,
      assignedGroupIds: [groupId],
    });
    expect(res.status).toBe(201);
  }

  it('runs the whole migration', async () => {
    const admin = tenant.admin;
    await admin.put(tenant.path('/authority'), { authority: 'office365' });
    await admin.post(tenant.path('/consents'), { kind: 'appleMdmPush' });
    await apns('office365');
    const group = (await admin.post(tenant.path('/groups'), { name: 'Staff' })).body.groupId;
    await configure('office365', 'Office Wi-Fi', 'wifi', group);
    await configure('office365', 'Mail', 'email', group);
    await configure('intune', 'Office Wi-Fi', 'wifi', group);
    await configure('intune', 'VPN', 'vpn', group);
    await configure('intune', 'Baseline', 'compliance', group, { minOsVersion: '13.1', requireEncryption: true });

    const user = async (name: string) => {
      const res = await admin.post(tenant.path('/users'), { userPrincipalName: `${name}@contoso.com`, groupIds: [group] });
      await admin.post(tenant.path(`/users/${res.body.userId}/licenses`), { sku: 'M365_E3' });
      return res.body.userId as string;
    };
    const enroll = async (body: object) => {
      const res = await admin.post(tenant.path('/enrollments'), { serialNumber: `SN-${randomUUID()}`, ...body });
      expect(res.status).toBe(201);
      return res.body as { deviceId: string; deviceCredential: string; managedBy: string };
    };
    const android = await enroll({ platform: 'android', enrollmentType: 'user', userId: await user('alice'), osVersion: '14.0' });
    const iphone = await enroll({ platform: 'ios', enrollmentType: 'user', userId: await user('bob'), osVersion: '17.4' });
    const kiosk = await enroll({ platform: 'windows', enrollmentType: 'bulk', osVersion: '10.0.22631' });
    const offline = await enroll({ platform: 'android', enrollmentType: 'user', userId: await user('carol'), osVersion: '14.0' });
    const [alice, bob, kioskDevice, carol] = [android, iphone, kiosk, offline].map((d) => device(d.deviceCredential));

    // Before the change: office365 profiles, no compliance policy of office365 → notEvaluated.
    for (const d of [alice, carol]) {
      const res = await d.checkIn(healthy);
      expect(res.status).toBe(200);
      expect(res.body.managedBy).toBe('office365');
      expect(res.body.configurations.map((c: { name: string }) => c.name)).toEqual(['Mail', 'Office Wi-Fi']);
      expect(res.body.compliance).toMatchObject({ state: 'notEvaluated', reasons: [] });
    }
    const first = await alice.checkIn(healthy);
    // R18: the next scheduled check-in is 8 hours on.
    expect(Date.parse(first.body.nextCheckInAt) - (await now())).toBe(8 * 3600 * 1000);

    // R16: the devices wait for notifications; the change reaches those with a user at once.
    const alicePoll = alice.poll(30);
    const bobPoll = bob.poll(30);
    const kioskPoll = kioskDevice.poll(2);
    expect((await admin.put(tenant.path('/authority'), { authority: 'intune' })).status).toBe(200);
    expect((await alicePoll).body.notifications).toEqual([{ notificationId: expect.any(String), reason: 'authorityChanged', createdAt: expect.any(String) }]);
    expect((await bobPoll).body.notifications.map((n: { reason: string }) => n.reason)).toEqual(['authorityChanged']);
    // R17: the userless kiosk is not migrated: no notification, needsSupport.
    expect((await kioskPoll).body.notifications).toEqual([]);
    await eventually(async () => expect(await events(kiosk.deviceId)).toContain('DeviceMigrationBlocked'));
    // Carol's notifications stay queued until a poll receives them: the tenant's change (R16) and, once
    // licensing recomputed her, her own (R9 → R16).
    const reasons: string[] = [];
    await eventually(async () => {
      reasons.push(...(await carol.poll(0)).body.notifications.map((n: { reason: string }) => n.reason));
      expect([...reasons].sort()).toEqual(['authorityChanged', 'userAuthorityChanged']);
    });
    expect((await carol.poll(0)).body.notifications).toHaveLength(0);

    // R20/R21/R25: Alice checks in: Intune, its profiles, the same-named Wi-Fi replaced, Mail redundant, compliance evaluated.
    const migrated = await alice.checkIn({ ...healthy, osVersion: '12.0' });
    expect(migrated.status).toBe(200);
    expect(migrated.body).toMatchObject({
      managedBy: 'intune',
      configurations: [
        { name: 'Office Wi-Fi', type: 'wifi', authority: 'intune', version: 1 },
        { name: 'VPN', type: 'vpn', authority: 'intune', version: 1 },
      ],
      redundantConfigurations: [{ name: 'Mail', type: 'email', authority: 'office365', version: 1 }],
      compliance: { state: 'noncompliant', reasons: [{ setting: 'minOsVersion', expected: '13.1', actual: '12.0' }] },
    });
    expect(await events(android.deviceId)).toContain('DeviceMigrated');

    // R22: Bob's iPhone cannot move while Intune has no APNs certificate; it can once one is uploaded.
    const blocked = await bob.checkIn(healthy);
    expect([blocked.status, blocked.body.code]).toEqual([422, 'APNS_CERTIFICATE_MISSING']);
    await apns('intune');
    const unblocked = await bob.checkIn(healthy);
    expect([unblocked.status, unblocked.body.managedBy]).toEqual([200, 'intune']);

    // R24: a remote lock is delivered at the next check-in and reported done.
    const lock = await admin.post(tenant.path(`/devices/${android.deviceId}/actions`), { type: 'remoteLock' });
    expect(lock.status).toBe(202);
    expect(lock.body).toEqual({ commandId: expect.any(String), type: 'remoteLock', status: 'pending' });
    const delivered = await alice.checkIn(healthy);
    expect(delivered.body.commands).toEqual([{ commandId: lock.body.commandId, type: 'remoteLock' }]);
    const action = () => admin.get(tenant.path(`/devices/${android.deviceId}/actions/${lock.body.commandId}`));
    expect((await action()).body.status).toBe('sent');
    await alice.checkIn(healthy, [{ commandId: lock.body.commandId, status: 'done' }]);
    expect((await action()).body).toMatchObject({ status: 'done', type: 'remoteLock' });

    // R23: Carol never checked in: after 7 days the old profiles expire.
    await stack.operator.post('/api/v1/system/clock/advance', { seconds: 7 * DAY });
    expect(await events(offline.deviceId)).toContain('LegacyProfilesExpired');

    // R15: in the last 30 days before expiry, a check-in renews the MDM certificate.
    const before = await alice.checkIn(healthy);
    await stack.operator.post('/api/v1/system/clock/advance', { seconds: (365 - 7 - 20) * DAY });
    const renewed = await alice.checkIn(healthy);
    expect(renewed.status).toBe(200);
    expect(renewed.body.mdmCertificate.serial).not.toBe(before.body.mdmCertificate.serial);
    expect(Date.parse(renewed.body.mdmCertificate.notAfter) - (await now())).toBe(365 * DAY * 1000);
    expect(await events(android.deviceId)).toContain('MdmCertificateRenewed');
  });

  it('a check-in without a valid credential is 401; bad state is 400', async () => {
    const stranger = device('dc_not-a-device');
    expect((await stranger.checkIn(healthy)).status).toBe(401);
    expect((await stranger.poll(0)).status).toBe(401);
  });
});

class DeviceClient {
  private readonly http: ApiClient;
  constructor(
    baseUrl: string,
    private readonly credential: string,
  ) {
    this.http = new ApiClient(baseUrl);
  }
  checkIn(state: object, commandResults?: object[]) {
    return this.http.call('POST', '/device/v1/check-in', { state, ...(commandResults && { commandResults }) }, this.auth());
  }
  poll(waitSeconds: number) {
    return this.http.call('GET', `/device/v1/notifications?waitSeconds=${waitSeconds}`, undefined, this.auth());
  }
  private auth() {
    return { authorization: `Device ${this.credential}` };
  }
}
