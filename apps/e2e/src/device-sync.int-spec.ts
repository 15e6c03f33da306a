import { randomUUID } from 'node:crypto';
import { fanOutStreamId } from '@mdm/contracts/device-sync';
import { eventually, selfSignedCertificatePem } from '@mdm/platform/testing';
import { DeviceClient } from './support/device-client';
import { TestStack, startStack } from './support/stack';
import { TestTenant, createTenant, createUser, enrollDevice } from './support/tenant';

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

  it('R20: the story of a tenant moving to Intune: notifications (R16), profiles (R21), APNs (R22), actions (R24), legacy expiry (R23), renewal (R15)', async () => {
    // One long story under a loaded CI machine: allow more than the default minute.
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
    const android = await enrollDevice(tenant, { platform: 'android', enrollmentType: 'user', userId: await user('alice'), osVersion: '14.0' });
    const iphone = await enrollDevice(tenant, { platform: 'ios', enrollmentType: 'user', userId: await user('bob'), osVersion: '17.4' });
    const kiosk = await enrollDevice(tenant, { platform: 'windows', enrollmentType: 'bulk', osVersion: '10.0.22631' });
    const offline = await enrollDevice(tenant, { platform: 'android', enrollmentType: 'user', userId: await user('carol'), osVersion: '14.0' });
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
    // Licensing answers the change with each user's own (R9), caused by it: the tenant's fan-out told
    // their devices already, so those tell nobody twice (the first three came with the users' licences,
    // before they had devices).
    await eventually(async () => {
      const fans = (await stack.deviceSync.runtime.store.readStream(fanOutStreamId(tenant.tenantId))).filter((e) => e.type === 'CheckInFanOut');
      const byUser = fans.map((e) => e.data as { reason: string; devicesNotified: number }).filter((f) => f.reason === 'userAuthorityChanged');
      expect(byUser.map((f) => f.devicesNotified)).toEqual([0, 0, 0, 0, 0, 0]);
    });
    // Carol's notification stays queued until a poll receives it: the tenant's change (R16), once.
    expect((await carol.poll(0)).body.notifications.map((n: { reason: string }) => n.reason)).toEqual(['authorityChanged']);
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
    // The enrollment service learns the new expiry: its removal date (R15) follows the renewed certificate.
    await eventually(async () => {
      const [row] = await stack.enrollment.runtime.db.query<{ certificate_not_after: Date }>(
        'select certificate_not_after from devices where device_id = $1',
        [android.deviceId],
      );
      expect(row.certificate_not_after.toISOString()).toBe(renewed.body.mdmCertificate.notAfter);
    });
    // It learns it from the topic of renewals alone, not from device-sync's topic of every check-in.
    const topics = await stack.enrollment.runtime.db.query<{ topic: string }>(`select distinct topic from inbox where topic like '%.devicesync.%'`);
    expect(topics.map((t) => t.topic.split('.').slice(-2).join('.'))).toEqual(['devicesync.certificates']);
  }, 180_000);

  it('R19: a check-in the user starts moves a device just like a notified one, without any poll', async () => {
    const t = await createTenant(stack, 'Portal', 'office365');
    const userId = await createUser(t, 'dora@contoso.com', 'M365_E5');
    const enrolled = await enrollDevice(t, { platform: 'android', enrollmentType: 'user', userId, osVersion: '14' });
    const dora = device(enrolled.deviceCredential);
    await t.admin.put(t.path('/authority'), { authority: 'intune' });
    await eventually(async () => expect((await dora.checkIn(healthy)).body.managedBy).toBe('intune'));
    expect(await events(enrolled.deviceId)).toContain('DeviceMigrated');
  });

  /** An office365 tenant with a group whose Android devices get two profiles, `<group> Wi-Fi` and `<group> Mail`. */
  async function office365WithProfiles(tenantName: string, groupName: string) {
    const t = await createTenant(stack, tenantName, 'office365');
    const group: string = (await t.admin.post(t.path('/groups'), { name: groupName })).body.groupId;
    for (const [name, type] of [[`${groupName} Wi-Fi`, 'wifi'], [`${groupName} Mail`, 'email']]) {
      await t.admin.post(t.path('/authorities/office365/configurations'), { name, type, platforms: ['android'], settings: {}, assignedGroupIds: [group] });
    }
    return { t, group };
  }

  it('R23: a device that has not checked in keeps the old profiles 7 days, then they expire', async () => {
    const { t, group } = await office365WithProfiles('Away', 'Field');
    const userId = (await t.admin.post(t.path('/users'), { userPrincipalName: 'erin@contoso.com', groupIds: [group] })).body.userId;
    await t.admin.post(t.path(`/users/${userId}/licenses`), { sku: 'M365_E3' });
    const enrolled = await enrollDevice(t, { platform: 'android', enrollmentType: 'user', userId, osVersion: '14' });
    const erin = device(enrolled.deviceCredential);
    expect((await erin.checkIn(healthy)).body.configurations).toHaveLength(2);
    await t.admin.put(t.path('/authority'), { authority: 'intune' });
    // The device is told (R16) but stays away.
    await eventually(async () => expect((await erin.poll(0)).body.notifications.length).toBeGreaterThan(0));
    await stack.operator.post('/api/v1/system/clock/advance', { seconds: 6 * DAY });
    expect(await events(enrolled.deviceId)).not.toContain('LegacyProfilesExpired');
    await stack.operator.post('/api/v1/system/clock/advance', { seconds: DAY });
    const stored = await stack.deviceSync.runtime.store.readStream(`devicesync-${enrolled.deviceId}`);
    const expiry = stored.find((e) => e.type === 'LegacyProfilesExpired');
    expect((expiry?.data as { items: { name: string }[] }).items.map((i) => i.name).sort()).toEqual(['Field Mail', 'Field Wi-Fi']);
    // Its next check-in moves it to Intune, which assigns it nothing.
    expect((await erin.checkIn(healthy)).body).toMatchObject({ managedBy: 'intune', configurations: [] });
  });

  it('R23: a device told to check in that keeps its authority (coexistence, no Intune license) loses no profiles after 7 days', async () => {
    const { t, group } = await office365WithProfiles('Coexisting', 'Sales');
    const enrol = async (upn: string, sku: string) => {
      const userId = (await t.admin.post(t.path('/users'), { userPrincipalName: upn, groupIds: [group] })).body.userId;
      await t.admin.post(t.path(`/users/${userId}/licenses`), { sku });
      const enrolled = await enrollDevice(t, { platform: 'android', enrollmentType: 'user', userId, osVersion: '14' });
      const handle = device(enrolled.deviceCredential);
      expect((await handle.checkIn(healthy)).body).toMatchObject({ managedBy: 'office365', configurations: [{}, {}] });
      return { deviceId: enrolled.deviceId, handle };
    };
    const olga = await enrol('olga@contoso.com', 'O365_E3'); // office365 only: stays (R8)
    const ivan = await enrol('ivan@contoso.com', 'M365_E3'); // entitles Intune: moves (R8)
    await t.admin.put(t.path('/authority'), { authority: 'coexistence' });
    // Both are told to check in (R16), and both stay away for 7 days.
    for (const d of [olga, ivan]) await eventually(async () => expect((await d.handle.poll(0)).body.notifications.length).toBeGreaterThan(0));
    // The views (R27) agree: only Ivan's device holds an authority it is leaving.
    const legacyNames = async (d: { deviceId: string }) =>
      ((await t.admin.get(t.path(`/devices/${d.deviceId}`))).body.legacyConfigurations?.items ?? []).map((c: { name: string }) => c.name).sort();
    await eventually(async () => expect(await legacyNames(ivan)).toEqual(['Sales Mail', 'Sales Wi-Fi']));
    expect(await legacyNames(olga)).toEqual([]);
    await stack.operator.post('/api/v1/system/clock/advance', { seconds: 7 * DAY });

    const expiry = (await stack.deviceSync.runtime.store.readStream(`devicesync-${ivan.deviceId}`)).find((e) => e.type === 'LegacyProfilesExpired');
    expect((expiry?.data as { items: { name: string }[] }).items.map((i) => i.name).sort()).toEqual(['Sales Mail', 'Sales Wi-Fi']);
    expect(await events(olga.deviceId)).not.toContain('LegacyProfilesExpired');
    // Olga's device still has its profiles: its check-in keeps office365 and changes nothing on it.
    const back = (await olga.handle.checkIn(healthy)).body;
    expect(back).toMatchObject({ managedBy: 'office365', redundantConfigurations: [] });
    expect(back.configurations.map((c: { name: string }) => c.name).sort()).toEqual(['Sales Mail', 'Sales Wi-Fi']);
  });

  it('R18: check-ins follow the schedule: nextCheckInAt is 8 hours after each', async () => {
    const t = await createTenant(stack, 'Schedule', 'intune');
    const enrolled = await enrollDevice(t, { platform: 'windows', enrollmentType: 'bulk', osVersion: '10' });
    const kiosk = device(enrolled.deviceCredential);
    const first = await kiosk.checkIn(healthy);
    await stack.operator.post('/api/v1/system/clock/advance', { seconds: 8 * 3600 });
    const second = await kiosk.checkIn(healthy);
    expect(Date.parse(second.body.nextCheckInAt) - Date.parse(first.body.nextCheckInAt)).toBe(8 * 3600 * 1000);
  });

  it('R18: 30 devices checking in at once, one of them twice, are each answered for themselves; every event carries its own request\'s correlation id', async () => {
    const t = await createTenant(stack, 'Crowd', 'intune');
    const fleet = await Promise.all(
      Array.from({ length: 30 }, () => enrollDevice(t, { platform: 'android', enrollmentType: 'bulk', osVersion: '14' })),
    );
    const calls = [...fleet, fleet[0]].map((d) => ({ device: d, correlationId: randomUUID() }));
    const answers = await Promise.all(
      calls.map(({ device: d, correlationId }) =>
        stack.anonymous.call('POST', '/device/v1/check-in', { state: healthy }, { authorization: `Device ${d.deviceCredential}`, 'x-correlation-id': correlationId }),
      ),
    );
    expect(answers.map((a) => [a.status, a.body.deviceId])).toEqual(calls.map((c) => [200, c.device.deviceId]));
    for (const d of fleet) {
      const checkIns = (await stack.deviceSync.runtime.store.readStream(`devicesync-${d.deviceId}`)).filter((e) => e.type === 'DeviceCheckedIn');
      const sent = calls.filter((c) => c.device === d).map((c) => c.correlationId);
      expect(checkIns.map((e) => e.correlationId).sort()).toEqual(sent.sort());
      expect(checkIns.every((e) => e.actor === `device:${d.deviceId}`)).toBe(true);
    }
  });

  it('the device API passes through the gateway: over 1 MiB is 413, an unknown device path 404, and a dropped long poll loses no notification (R16)', async () => {
    const t = await createTenant(stack, 'Pass', 'intune');
    const enrolled = await enrollDevice(t, { platform: 'android', enrollmentType: 'bulk', osVersion: '14' });
    const auth = { authorization: `Device ${enrolled.deviceCredential}` };
    const huge = await fetch(`${stack.gateway.url}/device/v1/check-in`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ state: { ...healthy, osVersion: 'x'.repeat(1024 * 1024) } }),
    });
    expect([huge.status, ((await huge.json()) as { code: string }).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const unknown = await stack.anonymous.call('GET', '/device/v1/printers', undefined, auth);
    expect([unknown.status, unknown.body.code]).toEqual([404, 'NOT_FOUND']);

    const dropped = new AbortController();
    const poll = fetch(`${stack.gateway.url}/device/v1/notifications?waitSeconds=30`, { headers: auth, signal: dropped.signal }).catch((e: Error) => e.name);
    await new Promise((r) => setTimeout(r, 300));
    dropped.abort();
    expect(await poll).toBe('AbortError');
    await new Promise((r) => setTimeout(r, 200));
    expect((await t.admin.post(t.path(`/devices/${enrolled.deviceId}/actions`), { type: 'sync' })).status).toBe(202);
    const next = await device(enrolled.deviceCredential).poll(10);
    expect(next.status).toBe(200);
    expect(next.body.notifications.map((n: { reason: string }) => n.reason)).toEqual(['sync']);
  });

  /** The gateway signing as it would have a minute ago (the context has expired when device-sync reads it), until restored. */
  const signingLate = (calls: 'next call' | 'every call') => {
    const { signer } = stack.gateway.runtime;
    const sign = signer.sign.bind(signer);
    const late = (context: Parameters<typeof sign>[0]) => sign(context, Date.now() - 60_000);
    const spy = jest.spyOn(signer, 'sign');
    return calls === 'next call' ? spy.mockImplementationOnce(late) : spy.mockImplementation(late);
  };

  it("R13: a device call whose signed context reached device-sync expired (relayed late) is signed anew and relayed once more: the device gets its answer", async () => {
    const t = await createTenant(stack, 'Late once', 'intune');
    const enrolled = await enrollDevice(t, { platform: 'android', enrollmentType: 'bulk', osVersion: '14' });
    const late = signingLate('next call');
    try {
      // The first relay's context is late; only the second, signed anew, can be answered 200.
      expect((await device(enrolled.deviceCredential).checkIn(healthy)).status).toBe(200);
    } finally {
      late.mockRestore();
    }
  });

  it("R13: a device call whose signed context reaches device-sync expired (relayed late), signed anew and still refused, is 503 SERVICE_UNAVAILABLE with Retry-After, not a 401 that would tell the device its credential is dead", async () => {
    const t = await createTenant(stack, 'Late', 'intune');
    const enrolled = await enrollDevice(t, { platform: 'android', enrollmentType: 'bulk', osVersion: '14' });
    const late = signingLate('every call');
    const refusals = async () => (await stack.gateway.runtime.metrics.registry.getSingleMetric('gateway_refused_contexts_total')!.get()).values[0]?.value ?? 0;
    const before = await refusals();
    const warned = jest.spyOn(stack.gateway.runtime.logger, 'warn');
    try {
      const res = await fetch(`${stack.gateway.url}/device/v1/check-in`, {
        method: 'POST',
        headers: { authorization: `Device ${enrolled.deviceCredential}`, 'content-type': 'application/json' },
        body: JSON.stringify({ state: healthy }),
      });
      expect([res.status, ((await res.json()) as { code: string }).code, res.headers.get('retry-after')]).toEqual([503, 'SERVICE_UNAVAILABLE', '1']);
      expect((await device(enrolled.deviceCredential).checkIn(healthy)).status).toBe(503);
      // Counted on the gateway's /metrics, once per call (of two sends each); warned once in the interval.
      expect((await refusals()) - before).toBe(2);
      expect(warned.mock.calls.filter(([, message]) => message === "a service refused the gateway's signed call context")).toHaveLength(1);
    } finally {
      late.mockRestore();
      warned.mockRestore();
    }
    expect((await device(enrolled.deviceCredential).checkIn(healthy)).status).toBe(200);
  });

  it('a check-in without a valid credential is 401, an unenrolled device too; bad state is 400', async () => {
    const stranger = device('dc_not-a-device');
    expect((await stranger.checkIn(healthy)).status).toBe(401);
    expect((await stranger.poll(0)).status).toBe(401);
    const t = await createTenant(stack, 'Leavers', 'intune');
    const enrolled = await enrollDevice(t, { platform: 'android', enrollmentType: 'bulk', osVersion: '14' });
    const leaver = device(enrolled.deviceCredential);
    expect((await leaver.checkIn({ ...healthy, osVersion: 14 })).status).toBe(400);
    expect((await leaver.checkIn(healthy)).status).toBe(200);
    await t.admin.post(t.path(`/devices/${enrolled.deviceId}/unenroll`));
    await eventually(async () => expect((await leaver.checkIn(healthy)).status).toBe(401));
  });

  // Last: it stops the enrollment service.
  it('R14: with the enrollment service unreachable, no check-in is decided: 503 SERVICE_UNAVAILABLE', async () => {
    const t = await createTenant(stack, 'Unconfirmed', 'intune');
    const enrolled = await Promise.all(
      [1, 2, 3].map(() => enrollDevice(t, { platform: 'android', enrollmentType: 'bulk', osVersion: '14' })),
    );
    for (const d of enrolled) expect((await device(d.deviceCredential).checkIn(healthy)).status).toBe(200);
    await stack.enrollment.close();
    // Whether a device was unenrolled a moment ago can only be confirmed by its owner.
    const answers = await Promise.all(enrolled.map((d) => device(d.deviceCredential).checkIn(healthy)));
    expect(answers.map((a) => [a.status, a.body.code])).toEqual(enrolled.map(() => [503, 'SERVICE_UNAVAILABLE']));
  });
});
