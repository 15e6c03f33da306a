import { randomUUID } from 'node:crypto';
import { fanOutStreamId } from '@mdm/contracts/device-sync';
import { deviceStreamId } from '@mdm/contracts/enrollment';
import { ConsumerHandle } from '@mdm/platform/http';
import { eventually } from '@mdm/platform/testing';
import { DeviceClient } from './support/device-client';
import { TestTenant, createTenant, tokenFor, useStackWithTenant } from './support/tenant';

const DAY = 86_400;
const HOUR_MS = 3600_000;
const healthy = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };

/** The views (R26–R30) through the gateway, fed by the real services over Kafka. */
describe('views through the gateway (R26–R30)', () => {
  const ctx = useStackWithTenant({ testClock: true });
  const now = async () => Date.parse((await ctx.stack.anonymous.get('/api/v1/system/clock')).body.now);
  const advance = (seconds: number) => ctx.stack.operator.post('/api/v1/system/clock/advance', { seconds });
  const device = (credential: string) => new DeviceClient(ctx.stack.gateway.url, credential);

  /** An office365 tenant with a group, Wi-Fi and Mail profiles on office365 and Wi-Fi on intune, and licensed users. */
  async function office365Tenant(t: TestTenant) {
    const { admin } = t;
    expect((await admin.put(t.path('/authority'), { authority: 'office365' })).status).toBe(200);
    const group = (await admin.post(t.path('/groups'), { name: 'Staff' })).body.groupId;
    for (const [authority, name, type] of [
      ['office365', 'Office Wi-Fi', 'wifi'],
      ['office365', 'Mail', 'email'],
      ['intune', 'Office Wi-Fi', 'wifi'],
    ]) {
      const body = { name, type, platforms: ['android', 'ios', 'windows'], settings: {}, assignedGroupIds: [group] };
      expect((await admin.post(t.path(`/authorities/${authority}/configurations`), body)).status).toBe(201);
    }
    const user = async (name: string, sku = 'M365_E3') => {
      const res = await admin.post(t.path('/users'), { userPrincipalName: `${name}-${randomUUID()}@contoso.com`, groupIds: [group] });
      expect((await admin.post(t.path(`/users/${res.body.userId}/licenses`), { sku })).status).toBe(200);
      return res.body.userId as string;
    };
    const enroll = async (body: object) => {
      const res = await admin.post(t.path('/enrollments'), { serialNumber: `SN-${randomUUID()}`, osVersion: '14.0', ...body });
      expect(res.status).toBe(201);
      return res.body as { deviceId: string; deviceCredential: string; mdmCertificate: { serial: string; notAfter: string } };
    };
    return { user, enroll };
  }

  /** A view once it satisfies the check: views lag the commands (R29), by well under a second. */
  async function view(path: string, check: (body: any) => void, token = ctx.tenant.admin) {
    return eventually(async () => {
      const res = await token.get(path);
      expect(res.status).toBe(200);
      check(res.body);
      return res.body;
    });
  }

  /**
   * A change to Intune has been fanned out, once: its user's own change (R9, licensing's answer to the
   * tenant's) has reached device-sync and told the device nothing more, and the device's timeline
   * shows the tenant's fan-out alone.
   */
  const toldOnce = async (deviceId: string, userId: string) => {
    await eventually(async () => {
      const fans = await ctx.stack.deviceSync.runtime.store.readStream(fanOutStreamId(ctx.tenant.tenantId));
      const userFan = fans.find((e) => e.type === 'CheckInFanOut' && (e.data as { userId: string | null; to: string }).userId === userId && (e.data as { to: string }).to === 'intune');
      expect(userFan?.data).toMatchObject({ reason: 'userAuthorityChanged', devicesNotified: 0 });
    });
    await view(ctx.tenant.path(`/devices/${deviceId}`), (d) =>
      expect(d.timeline.filter((e: { type: string }) => e.type === 'CheckInsRequested').map((e: { data: { reason: string } }) => e.data.reason)).toEqual(['authorityChanged']),
    );
  };

  it("R26: a new tenant's overview shows the unknown authority and its banner, then the authority once set", async () => {
    const { tenant } = ctx;
    const empty = (await tenant.admin.get(tenant.path('/overview'))).body;
    expect(empty).toMatchObject({
      authority: 'unknown',
      bannerVisible: true,
      devices: { total: 0, byManagedBy: { intune: 0, office365: 0 } },
      expectedByScheduledCheckIn: { count: 0, earliest: null, latest: null },
    });
    await tenant.admin.put(tenant.path('/authority'), { authority: 'office365' });
    await view(tenant.path('/overview'), (o) => expect([o.authority, o.bannerVisible]).toEqual(['office365', false]));
  });

  it('R29: while the views\' consumer is held, events the owners commit make lagMs grow; released, it is back to 0', async () => {
    const { tenant } = ctx;
    expect((await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' })).status).toBe(200);
    await view(tenant.path('/overview'), (o) => expect(o.lagMs).toBe(0));
    const consumer = ctx.stack.projection.app.get(ConsumerHandle).consumer!;
    consumer.pause();
    try {
      expect((await tenant.admin.post(tenant.path('/groups'), { name: 'Held back' })).status).toBe(201);
      const first = await view(tenant.path('/overview'), (o) => expect(o.lagMs).toBeGreaterThan(0));
      await new Promise((r) => setTimeout(r, 700));
      const later = (await tenant.admin.get(tenant.path('/overview'))).body;
      expect(later.lagMs).toBeGreaterThanOrEqual(first.lagMs + 500);
    } finally {
      consumer.resume();
    }
    await view(tenant.path('/overview'), (o) => expect(o.lagMs).toBe(0));
  });

  it('R26/R27/R29: an authority change shows who is pending, who needs support and who moved, in the overview, the list and the device view', async () => {
    const { tenant } = ctx;
    const { user, enroll } = await office365Tenant(tenant);
    const aliceUser = await user('alice');
    const alice = await enroll({ platform: 'android', enrollmentType: 'user', userId: aliceUser });
    const carol = await enroll({ platform: 'android', enrollmentType: 'user', userId: await user('carol') });
    const kiosk = await enroll({ platform: 'windows', enrollmentType: 'bulk' });
    expect((await device(alice.deviceCredential).checkIn(healthy)).status).toBe(200);
    const changedAt = await now();
    expect((await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' })).status).toBe(200);
    // R16: the tenant's change; each user's, once licensing has recomputed them (R9), tells nobody twice.
    await toldOnce(alice.deviceId, aliceUser);

    // R16/R17/R26: both user devices are told to move at their next check-in (8 h after their last one, or after enrollment).
    // The tenant's authority and its devices' migration come from different owners' topics, which the
    // views apply in no common order (R29: eventually consistent): the overview is read once it has both.
    const pending = await view(tenant.path('/overview'), (o) =>
      expect([o.authority, o.devices.byMigration]).toEqual(['intune', { migrated: 0, pendingCheckIn: 2, needsSupport: 1, blockedApns: 0, legacyProfilesExpired: 0 }]),
    );
    const scheduled = new Date(changedAt + 8 * HOUR_MS).toISOString();
    expect(pending).toMatchObject({
      authority: 'intune',
      bannerVisible: false,
      devices: { total: 3, byManagedBy: { intune: 0, office365: 3 }, byCompliance: { compliant: 0, noncompliant: 0, notEvaluated: 3 } },
      expectedByScheduledCheckIn: { count: 2, earliest: scheduled, latest: scheduled },
    });

    // R20: Alice checks in and moves; the views follow.
    expect((await device(alice.deviceCredential).checkIn(healthy)).body.managedBy).toBe('intune');
    const overview = await view(tenant.path('/overview'), (o) => expect(o.devices.byMigration.migrated).toBe(1));
    expect(overview.devices.byMigration).toMatchObject({ pendingCheckIn: 1, needsSupport: 1 });
    // R29: caught up, the view says so, as of the newest event it applied.
    await view(tenant.path('/overview'), (o) => expect(o.lagMs).toBe(0));
    expect(Date.parse(overview.asOf)).toBe(changedAt);

    // R27: filters and cursor paging.
    const list = (query: string) => view(tenant.path(`/devices?${query}`), () => undefined);
    expect((await list('migration=migrated')).items).toEqual([
      { deviceId: alice.deviceId, platform: 'android', userId: expect.any(String), managedBy: 'intune', compliance: 'notEvaluated', migration: 'migrated', lastCheckInAt: new Date(changedAt).toISOString() },
    ]);
    expect((await list('platform=windows')).items.map((d: { deviceId: string; migration: string }) => [d.deviceId, d.migration])).toEqual([
      [kiosk.deviceId, 'needsSupport'],
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await list(`limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.items).toHaveLength(1);
      seen.push(page.items[0].deviceId);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([alice.deviceId, carol.deviceId, kiosk.deviceId].sort());

    // R27: the device view: what it has, what is redundant or legacy, its certificate and removal date, its timeline.
    const detail = await view(tenant.path(`/devices/${carol.deviceId}`), () => undefined);
    expect(detail).toMatchObject({
      managedBy: 'office365',
      migration: 'pendingCheckIn',
      legacyConfigurations: { items: [], expiresAt: new Date(changedAt + 7 * DAY * 1000).toISOString(), expired: false },
      mdmCertificate: { serial: carol.mdmCertificate.serial, notAfter: carol.mdmCertificate.notAfter },
      removalDueAt: new Date(Date.parse(carol.mdmCertificate.notAfter) + 180 * DAY * 1000).toISOString(),
    });
    const moved = await view(tenant.path(`/devices/${alice.deviceId}`), () => undefined);
    expect(moved).toMatchObject({
      configurations: [{ name: 'Office Wi-Fi', type: 'wifi', authority: 'intune', version: 1 }],
      redundantConfigurations: [{ name: 'Mail', type: 'email', authority: 'office365', version: 1 }],
    });
    // A check-in records what changed in the device's configurations, when something did, before itself.
    expect(moved.timeline.map((e: { type: string }) => e.type)).toEqual([
      'DeviceEnrolled',
      'DeviceConfigurationsChanged',
      'DeviceCheckedIn',
      'CheckInsRequested',
      'DeviceMigrated',
      'DeviceConfigurationsChanged',
      'DeviceCheckedIn',
    ]);
    expect(moved.timeline[5].data).toMatchObject({
      added: [{ name: 'Office Wi-Fi', type: 'wifi', authority: 'intune', version: 1 }],
      removed: [
        { name: 'Mail', type: 'email', authority: 'office365', version: 1 },
        { name: 'Office Wi-Fi', type: 'wifi', authority: 'office365', version: 1 },
      ],
      redundantAdded: [{ name: 'Mail', type: 'email', authority: 'office365', version: 1 }],
    });
    expect(moved.timeline[0].data).not.toHaveProperty('credentialHash');
    expect((await view(tenant.path('/reports/redundant-configurations'), () => undefined)).items).toEqual([
      { deviceId: alice.deviceId, name: 'Mail', type: 'email', authority: 'office365' },
    ]);
    const report = await view(tenant.path('/reports/migration'), () => undefined);
    expect(report).toMatchObject({ changedAt: new Date(changedAt).toISOString(), from: 'office365', to: 'intune' });
    expect(report.points.at(-1)).toEqual({ at: new Date(changedAt).toISOString(), migrated: 1, pending: 1 });
  });

  it("R27: a tenant's views are its own (another tenant's ids are a 404) and readers may read, enrollers may not", async () => {
    const { tenant, stack } = ctx;
    const { user, enroll } = await office365Tenant(tenant);
    const mine = await enroll({ platform: 'android', enrollmentType: 'user', userId: await user('dave') });
    await view(tenant.path(`/devices/${mine.deviceId}`), (d) => expect(d.deviceId).toBe(mine.deviceId));
    const other = await createTenant(stack, 'Fabrikam');
    expect((await other.admin.get(other.path(`/devices/${mine.deviceId}`))).status).toBe(404);
    expect((await other.admin.get(tenant.path('/overview'))).status).toBe(404);
    const reader = await tokenFor(stack, tenant, 'reader');
    expect((await reader.get(tenant.path(`/devices/${mine.deviceId}`))).status).toBe(200);
    const enroller = await tokenFor(stack, tenant, 'enroller');
    const refused = await enroller.get(tenant.path('/overview'));
    expect([refused.status, refused.body.code]).toEqual([403, 'FORBIDDEN']);
    const bad = await tenant.admin.get(tenant.path('/devices?migration=elsewhere'));
    expect([bad.status, bad.body.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('R28: a user switched to Intune with no Intune configuration for their groups is reported (R10)', async () => {
    const { tenant } = ctx;
    const { admin } = tenant;
    await admin.put(tenant.path('/authority'), { authority: 'intune' });
    const group = (await admin.post(tenant.path('/groups'), { name: 'No Intune profiles' })).body.groupId;
    const userId = (await admin.post(tenant.path('/users'), { userPrincipalName: `erin-${randomUUID()}@contoso.com`, groupIds: [group] })).body.userId;
    const switched = await admin.post(tenant.path(`/users/${userId}/licenses`), { sku: 'INTUNE_PLAN_1' });
    expect(switched.body.warnings.map((w: { code: string }) => w.code)).toEqual(['NO_INTUNE_CONFIGURATION_ASSIGNED']);
    const report = await view(tenant.path('/reports/unconfigured-switches'), (r) => expect(r.items).toHaveLength(1));
    expect(report.items).toEqual([{ userId, from: null, to: 'intune', switchedAt: new Date(await now()).toISOString() }]);
  });

  it('R28/R23/R15: legacy profiles expire after 7 days, an expired certificate is due for removal, and removed devices (two in one sweep) leave the views', async () => {
    const { tenant } = ctx;
    const { user, enroll } = await office365Tenant(tenant);
    const frank = await enroll({ platform: 'android', enrollmentType: 'user', userId: await user('frank') });
    const gina = await enroll({ platform: 'android', enrollmentType: 'user', userId: await user('gina') });
    expect((await device(frank.deviceCredential).checkIn(healthy)).status).toBe(200);
    expect((await device(gina.deviceCredential).checkIn(healthy)).status).toBe(200);
    await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' });
    const changedAt = await now();
    const path = tenant.path(`/devices/${frank.deviceId}`);
    const waiting = await view(path, (d) => expect(d.migration).toBe('pendingCheckIn'));
    expect(waiting.legacyConfigurations.items.map((c: { name: string }) => c.name)).toEqual(['Mail', 'Office Wi-Fi']);

    await advance(7 * DAY + 60);
    const expired = await view(path, (d) => expect(d.migration).toBe('legacyProfilesExpired'));
    expect(expired.legacyConfigurations).toEqual({ items: [], expiresAt: new Date(changedAt + 7 * DAY * 1000).toISOString(), expired: true });
    await view(tenant.path('/overview'), (o) => expect(o.devices.byMigration.legacyProfilesExpired).toBe(2));

    // Neither device checks in again: their certificates expire, and 180 days later the sweep removes both.
    await advance(360 * DAY);
    const due = (d: typeof frank) => ({
      deviceId: d.deviceId,
      mdmCertificateNotAfter: d.mdmCertificate.notAfter,
      removalDueAt: new Date(Date.parse(d.mdmCertificate.notAfter) + 180 * DAY * 1000).toISOString(),
    });
    const byId = (items: { deviceId: string }[]) => [...items].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
    await view(tenant.path('/reports/removal-due'), (r) => expect(byId(r.items)).toEqual(byId([due(frank), due(gina)])));
    await advance(181 * DAY);
    for (const d of [frank, gina]) {
      await eventually(async () => expect((await tenant.admin.get(tenant.path(`/devices/${d.deviceId}`))).status).toBe(404));
      const removed = (await ctx.stack.enrollment.runtime.store.readStream(deviceStreamId(d.deviceId))).filter((e) => e.type === 'DeviceRemoved');
      expect(removed.map((e) => [e.tenantId, e.data])).toEqual([[tenant.tenantId, { deviceId: d.deviceId, reason: 'mdm-certificate-expired' }]]);
    }
    await view(tenant.path('/overview'), (o) => expect(o.devices.total).toBe(0));
    expect((await tenant.admin.get(tenant.path('/reports/removal-due'))).body.items).toEqual([]);
  });

  it('R30: the operator rebuilds the views through the gateway while they serve; the rebuilt views equal the live ones', async () => {
    const { tenant, stack } = ctx;
    const { user, enroll } = await office365Tenant(tenant);
    const graceUser = await user('grace');
    const grace = await enroll({ platform: 'android', enrollmentType: 'user', userId: graceUser });
    await device(grace.deviceCredential).checkIn(healthy);
    await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' });
    await toldOnce(grace.deviceId, graceUser);
    const live = async () => ({
      overview: { ...(await tenant.admin.get(tenant.path('/overview'))).body, lagMs: 0 },
      device: { ...(await tenant.admin.get(tenant.path(`/devices/${grace.deviceId}`))).body, lagMs: 0 },
    });
    await view(tenant.path('/overview'), (o) => expect([o.devices.byMigration.pendingCheckIn, o.lagMs]).toEqual([1, 0]));
    const before = await live();

    expect((await tenant.admin.post('/api/v1/system/projection/rebuild')).status).toBe(403);
    const started = await stack.operator.post('/api/v1/system/projection/rebuild');
    expect(started.status).toBe(202);
    const generation = started.body.rebuild.generation;
    // The live views keep answering while the replay runs.
    expect((await tenant.admin.get(tenant.path('/overview'))).status).toBe(200);
    await eventually(async () => {
      const status = (await stack.operator.get('/api/v1/system/projection/rebuild')).body;
      expect([status.liveGeneration, status.rebuild.status]).toEqual([generation, 'switched']);
    }, 30_000);
    expect(await live()).toEqual(before);
  });
});
