import { randomBytes, randomUUID } from 'node:crypto';
import type { EnrollBody } from '@mdm/contracts/enrollment';
import { eventually, selfSignedCertificatePem } from '@mdm/platform/testing';
import { ApnsKey, FakeApns, FakeFcm, FakeWns, apnsKey } from '../../device-sync/src/notifications/push/fake-providers.fixture';
import { ApiClient } from './support/api-client';
import { TestStack, startStack } from './support/stack';
import { EnrolledDevice, TestTenant, createTenant, enrollDevice } from './support/tenant';

const TOPIC = 'com.example.mdm.agent';
const healthy = { osVersion: '17.4', encrypted: true, jailbroken: false, passcodeSet: true };
const apnsToken = () => randomBytes(32).toString('hex');

/**
 * R16 end to end: devices register push tokens at enrollment and check-in; every notification the
 * system sends also goes out through the device's provider (local fakes of APNs, FCM and WNS that
 * check what the real ones check), while the long poll works as before.
 */
describe('push providers (R16): APNs, FCM and WNS fakes behind a whole stack', () => {
  let key: ApnsKey;
  let apns: FakeApns;
  let fcm: FakeFcm;
  let wns: FakeWns;
  let stack: TestStack;
  let tenant: TestTenant;
  let userId: string;

  beforeAll(async () => {
    key = apnsKey();
    apns = await new FakeApns(key, TOPIC).start();
    fcm = await new FakeFcm().start();
    wns = await new FakeWns('wns-access-token').start();
    stack = await startStack({
      env: {
        APNS_ENDPOINT: apns.url,
        APNS_TOPIC: TOPIC,
        APNS_KEY_FILE: key.keyFile,
        APNS_KEY_ID: key.keyId,
        APNS_TEAM_ID: key.teamId,
        FCM_ENDPOINT: fcm.url,
        FCM_SERVICE_ACCOUNT_FILE: fcm.account().file,
        WNS_ACCESS_TOKEN: 'wns-access-token',
        WNS_CHANNEL_HOSTS: wns.url,
      },
    });
    tenant = await createTenant(stack, 'Push', 'intune');
    const admin = tenant.admin;
    expect((await admin.post(tenant.path('/consents'), { kind: 'appleMdmPush' })).status).toBe(201);
    const certificatePem = await selfSignedCertificatePem({ notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 400 * 86_400_000) });
    expect((await admin.put(tenant.path('/authorities/intune/apns-certificate'), { certificatePem })).status).toBe(200);
    userId = (await admin.post(tenant.path('/users'), { userPrincipalName: 'pat@contoso.com' })).body.userId;
    expect((await admin.post(tenant.path(`/users/${userId}/licenses`), { sku: 'INTUNE_PLAN_1' })).status).toBe(200);
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all([apns?.stop(), fcm?.stop(), wns?.stop()]);
  });

  const enroll = async (platform: EnrollBody['platform'], pushToken?: string): Promise<EnrolledDevice> => {
    const enrolled = await enrollDevice(tenant, { platform, enrollmentType: 'user', userId, osVersion: '17.4', ...(pushToken && { pushToken }) });
    // A device call waits until device-sync has the enrollment; an admin's action right after it may not (404).
    expect((await device(enrolled).poll(0)).status).toBe(200);
    return enrolled;
  };
  const device = (d: EnrolledDevice) => {
    const http = new ApiClient(stack.gateway.url);
    const auth = { authorization: `Device ${d.deviceCredential}` };
    return {
      checkIn: (pushToken?: string) => http.call('POST', '/device/v1/check-in', { state: healthy, ...(pushToken && { pushToken }) }, auth),
      poll: (waitSeconds: number) => http.call('GET', `/device/v1/notifications?waitSeconds=${waitSeconds}`, undefined, auth),
    };
  };
  /** R24: a `sync` action sends the device a notification. */
  const sync = async (d: EnrolledDevice) => {
    const res = await tenant.admin.post(tenant.path(`/devices/${d.deviceId}/actions`), { type: 'sync' });
    expect(res.status).toBe(202);
  };
  const syncEvents = async (d: EnrolledDevice) => stack.deviceSync.runtime.store.readStream(`devicesync-${d.deviceId}`);
  const storedToken = async (d: EnrolledDevice) =>
    (await stack.deviceSync.runtime.db.query<{ push_token: string | null }>('select push_token from devices where device_id = $1', [d.deviceId]))[0]?.push_token;
  const metric = async (name: string, labels: string) => {
    const text = await stack.deviceSync.runtime.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  /** Settles a little past the expected count, so that a duplicate would have arrived. */
  const settle = () => new Promise((r) => setTimeout(r, 1000));

  it('R16: an Apple device with a push token gets exactly one APNs push per notification, with the right topic and token (JWT checked by the fake)', async () => {
    const token = apnsToken();
    const iphone = await enroll('ios', token);
    await sync(iphone);
    await sync(iphone);
    await eventually(() => expect(apns.pushesTo(token)).toHaveLength(2), 20_000);
    await settle();
    const pushes = apns.pushesTo(token);
    expect(pushes).toHaveLength(2);
    expect(apns.refusals).toEqual([]);
    await eventually(async () => expect((await tenant.admin.get(tenant.path(`/devices/${iphone.deviceId}`))).body.push).toEqual({ provider: 'apns', registered: true }));
    for (const p of pushes) expect(p.headers).toMatchObject({ ':path': `/3/device/${token}`, 'apns-topic': TOPIC, 'apns-push-type': 'background' });
    // The pushes are the notifications the long poll hands out: one each.
    const polled = (await device(iphone).poll(0)).body.notifications.map((n: { notificationId: string }) => n.notificationId);
    expect(polled).toHaveLength(2);
    expect(pushes.map((p) => p.body.notificationId).sort()).toEqual([...polled].sort());
    expect(pushes.map((p) => p.headers['apns-id']).sort()).toEqual([...polled].sort());
    expect(await metric('push_sent_total', 'provider="apns"')).toBeGreaterThanOrEqual(2);
  });

  it('R16: Android devices are pushed through FCM HTTP v1 (OAuth 2 from the service account), Windows devices through WNS; a device without a token through neither', async () => {
    const fcmToken = `fcm:${randomBytes(40).toString('base64url')}`;
    const android = await enroll('android', fcmToken);
    const windows = await enroll('windows', wns.channel(`ch-${randomUUID()}`));
    const silent = await enroll('android');
    const before = { fcm: fcm.pushes.length, wns: wns.pushes.length };
    await Promise.all([sync(android), sync(windows), sync(silent)]);
    await eventually(() => {
      expect(fcm.pushesTo(fcmToken)).toHaveLength(1);
      expect(wns.pushes.length - before.wns).toBe(1);
    }, 20_000);
    await settle();
    expect(fcm.pushes.length - before.fcm).toBe(1);
    const [push] = fcm.pushesTo(fcmToken);
    const [notification] = (await device(android).poll(0)).body.notifications;
    expect(push.body).toEqual({
      message: { token: fcmToken, data: { notificationId: notification.notificationId, reason: 'sync', createdAt: notification.createdAt }, android: { priority: 'HIGH' } },
    });
    expect(push.headers.authorization).toMatch(/^Bearer ya29\./);
    expect(fcm.tokenExchanges).toBe(1);
    expect(wns.pushes[wns.pushes.length - 1].body).toMatchObject({ reason: 'sync' });
    expect([...fcm.refusals, ...wns.refusals]).toEqual([]);
  });

  it('R16: a check-in reports a new token (PushTokenRegistered); an APNs 410 clears it (PushTokenCleared, in the views too) and no push goes to it again', async () => {
    const first = apnsToken();
    const iphone = await enroll('ios', first);
    const d = device(iphone);
    expect((await d.checkIn(first)).status).toBe(200);
    expect((await syncEvents(iphone)).map((e) => e.type)).toEqual(['DeviceCheckedIn']);

    const second = apnsToken();
    expect((await d.checkIn(second)).status).toBe(200);
    const registered = (await syncEvents(iphone)).filter((e) => e.type === 'PushTokenRegistered');
    expect(registered.map((e) => e.data)).toEqual([{ deviceId: iphone.deviceId, provider: 'apns', token: second }]);

    apns.unregistered.add(second);
    await sync(iphone);
    await eventually(async () => expect((await syncEvents(iphone)).map((e) => e.type)).toContain('PushTokenCleared'), 20_000);
    const cleared = (await syncEvents(iphone)).find((e) => e.type === 'PushTokenCleared')!;
    expect(cleared.data).toEqual({ deviceId: iphone.deviceId, provider: 'apns', reason: 'unregistered', status: 410 });
    expect(await storedToken(iphone)).toBeNull();
    expect(apns.refusals.filter((r) => r.status === 410)).toHaveLength(1);

    // Cleared: the next notification reaches the device by its long poll alone.
    await sync(iphone);
    expect((await d.poll(5)).body.notifications).toHaveLength(2);
    await settle();
    expect(apns.refusals.filter((r) => r.status === 410)).toHaveLength(1);
    expect(apns.pushesTo(second)).toHaveLength(0);
    expect(await metric('push_failed_total', 'reason="unregistered"')).toBeGreaterThanOrEqual(1);

    // The views agree: no token, and the timeline shows the registration and the clearing, not the token.
    const view = async () => (await tenant.admin.get(tenant.path(`/devices/${iphone.deviceId}`))).body;
    await eventually(async () => {
      const v = await view();
      expect(v.push).toEqual({ provider: 'apns', registered: false });
      expect(v.timeline.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['PushTokenRegistered', 'PushTokenCleared']));
      expect(JSON.stringify(v.timeline)).not.toContain(second);
    }, 20_000);

    // A new token from the device is used again.
    const third = apnsToken();
    expect((await d.checkIn(third)).status).toBe(200);
    await sync(iphone);
    await eventually(() => expect(apns.pushesTo(third)).toHaveLength(1), 20_000);
    await eventually(async () => expect((await view()).push).toEqual({ provider: 'apns', registered: true }), 20_000);
  });

  it('R16: the OpenAPI document names pushToken in the enrollment and the check-in bodies', async () => {
    const { paths } = (await stack.anonymous.get('/api/v1/openapi.json')).body;
    const body = (path: string) => paths[path].post.requestBody.content['application/json'].schema;
    for (const path of ['/api/v1/tenants/{tenantId}/enrollments', '/device/v1/check-in']) {
      expect(body(path).properties.pushToken).toMatchObject({ type: 'string', minLength: 1, maxLength: 1024 });
      expect(body(path).required ?? []).not.toContain('pushToken');
    }
  });

  it('R16: with APNs down, a long-poll notification arrives as fast as with it up; pushes resume when it is back', async () => {
    const token = apnsToken();
    const iphone = await enroll('ios', token);
    const d = device(iphone);
    /** Per round: from just before the admin queues a sync to the answer of the poll already waiting. */
    const deliveries = async (rounds: number) => {
      const ms: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const poll = d.poll(10);
        await new Promise((r) => setTimeout(r, 150)); // the poll is waiting at device-sync
        const started = performance.now();
        await sync(iphone);
        const res = await poll;
        ms.push(performance.now() - started);
        expect(res.body.notifications).toHaveLength(1);
      }
      return ms.sort((a, b) => a - b);
    };
    const median = (ms: number[]) => ms[Math.floor(ms.length / 2)];

    const up = await deliveries(7);
    await eventually(() => expect(apns.pushesTo(token)).toHaveLength(7), 20_000);
    const failedBefore = await metric('push_failed_total', 'provider="apns",reason="error"');
    await apns.stop();
    const down = await deliveries(7);
    // Each push to the stopped provider is retried with backoff, then counted as failed.
    await eventually(async () => expect(await metric('push_failed_total', 'provider="apns",reason="error"')).toBe(failedBefore + 7), 30_000);
    // Shared, loaded machine: the figures are printed for the record; the bound is generous but would
    // catch a long poll that waited on the provider (each failed push takes seconds of retries).
    process.stdout.write(`long-poll delivery, median of 7: APNs up ${median(up).toFixed(0)} ms, APNs down ${median(down).toFixed(0)} ms\n`);
    expect(median(down)).toBeLessThan(Math.max(2 * median(up), median(up) + 250));

    await apns.start();
    await sync(iphone);
    await eventually(() => expect(apns.pushesTo(token)).toHaveLength(8), 20_000);
  });
});
