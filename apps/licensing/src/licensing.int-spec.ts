import { randomBytes, randomUUID } from 'node:crypto';
import { Topics } from '@mdm/contracts/core';
import { Platform } from '@mdm/contracts/authority';
import { RunningService, startService } from '@mdm/platform/http';
import { Producer, createReliableProducer } from '@mdm/platform/kafka';
import { asGateway, eventually, groupCaughtUp, selfSignedCertificatePem, testEnv, testKafka, uniqueName, envelopeFixture } from '@mdm/platform/testing';
// The licensing service learns tenants and configurations from the real authority service, in this process.
import { authorityService } from '../../authority/src/authority.definition';
import { AuthorityModule } from '../../authority/src/authority.module';
import { licensingService } from './licensing.definition';
import { LicensingModule } from './licensing.module';

const DAY = 24 * 3600 * 1000;

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** A direct call to a service, as the gateway would forward it (its signed context names the caller). */
async function call(baseUrl: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const url = new URL(path, baseUrl);
  const json = body === undefined ? undefined : JSON.stringify(body);
  const res = await fetch(url, {
    method,
    headers: { ...asGateway(method, url, {}, json), ...(json !== undefined && { 'content-type': 'application/json' }) },
    body: json,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('licensing service (R8–R10)', () => {
  let authority: RunningService;
  let licensing: RunningService;
  let producer: Producer;

  beforeAll(async () => {
    authority = await startService(authorityService, () => AuthorityModule, testEnv({ AUTHORITY_PORT: '0', DB_SCHEMA: uniqueName('authority') }));
    // A consumer group of its own: this instance reads every event from the beginning, alone.
    const groupId = uniqueName('licensing');
    licensing = await startService(
      licensingService,
      () => LicensingModule,
      testEnv({ LICENSING_PORT: '0', DB_SCHEMA: uniqueName('licensing'), KAFKA_CONSUMER_GROUP: groupId, AUTHORITY_URL: authority.url }),
    );
    // The topics keep every earlier run's events, and a command's read-your-writes wait is bounded (3 s):
    // start once the fresh group has replayed that history.
    const topics = [Topics.authorityEvents.topic, Topics.enrollmentEvents.topic];
    await eventually(async () => expect(await groupCaughtUp(licensing.runtime.kafka, groupId, topics)).toBe(true), 120_000, 250);
    producer = createReliableProducer(testKafka('licensing-test'));
    await producer.connect();
  }, 180_000);

  afterAll(async () => {
    await producer?.disconnect();
    await licensing?.close();
    await authority?.close();
  });

  const auth = (method: string, path: string, body?: unknown) => call(authority.url, method, path, body);
  const lic = (method: string, path: string, body?: unknown) => call(licensing.url, method, path, body);

  /** A tenant at the authority service, with the authority set when given. */
  async function newTenant(tenantAuthority?: string) {
    const tenantId = randomUUID();
    const path = (suffix = '') => `/api/v1/tenants/${tenantId}${suffix}`;
    expect((await auth('POST', '/internal/tenants', { tenantId, name: 'Contoso' })).status).toBe(201);
    if (tenantAuthority) expect((await auth('PUT', path('/authority'), { authority: tenantAuthority })).status).toBe(200);
    const t = {
      tenantId,
      path,
      setAuthority: (a: string) => auth('PUT', path('/authority'), { authority: a }),
      group: async (name = 'Staff'): Promise<string> => {
        const res = await lic('POST', path('/groups'), { name });
        expect(res.status).toBe(201);
        return res.body.groupId;
      },
      user: async (licenses: string[] = [], groupIds: string[] = []): Promise<string> => {
        const res = await lic('POST', path('/users'), { userPrincipalName: `${randomBytes(4).toString('hex')}@contoso.com`, groupIds });
        expect(res.status).toBe(201);
        for (const sku of licenses) expect((await t.assign(res.body.userId, sku)).status).toBe(200);
        return res.body.userId;
      },
      assign: (userId: string, sku: string, dryRun?: boolean) =>
        lic('POST', path(`/users/${userId}/licenses`), { sku, ...(dryRun !== undefined && { dryRun }) }),
      remove: (userId: string, sku: string) => lic('DELETE', path(`/users/${userId}/licenses/${sku}`)),
      get: (userId: string) => lic('GET', path(`/users/${userId}`)),
      /** An intune configuration assigned to the groups, at the authority service. */
      intuneConfiguration: async (groupIds: string[]) => {
        const res = await auth('POST', path('/authorities/intune/configurations'), {
          name: 'Corporate mail',
          type: 'email',
          platforms: ['ios', 'windows'],
          settings: {},
          assignedGroupIds: groupIds,
        });
        expect(res.status).toBe(201);
        return res.body.configurationId as string;
      },
      /** A device enrolled (R11–R13) as the enrollment service publishes it. */
      enroll: async (userId: string | null, platform: Platform): Promise<string> => {
        const deviceId = randomUUID();
        const now = new Date().toISOString();
        const envelope = envelopeFixture({
          type: 'DeviceEnrolled',
          streamId: `device-${deviceId}`,
          tenantId,
          data: {
            deviceId,
            serialNumber: `SN-${deviceId}`,
            platform,
            enrollmentType: userId ? 'user' : 'bulk',
            userId,
            deviceName: null,
            osVersion: '17.0',
            androidWorkProfile: false,
            managedBy: 'office365',
            mdmCertificate: { serial: '0A1B', notBefore: now, notAfter: new Date(Date.now() + 365 * DAY).toISOString() },
            credentialHash: 'a'.repeat(64),
          },
        });
        await producer.send({
          topic: Topics.enrollmentEvents.topic,
          acks: -1,
          messages: [{ key: envelope.streamId, value: JSON.stringify(envelope) }],
        });
        await eventually(async () => {
          const rows = await licensing.runtime.db.query('select 1 from devices where device_id = $1', [deviceId]);
          expect(rows).toHaveLength(1);
        });
        return deviceId;
      },
    };
    return t;
  }

  const streamOf = (userId: string) => licensing.runtime.store.readStream(`user-${userId}`);

  it('R8: the effective authority follows the tenant authority and the licenses, coexistence included', async () => {
    const table: [string, string[], string | null][] = [
      ['intune', [], null],
      ['intune', ['O365_E3'], null],
      ['intune', ['EMS_E3'], 'intune'],
      ['intune', ['M365_E3'], 'intune'],
      ['office365', ['EMS_E5'], null],
      ['office365', ['O365_E1'], 'office365'],
      ['office365', ['M365_BUSINESS_PREMIUM'], 'office365'],
      ['coexistence', [], null],
      ['coexistence', ['M365_BUSINESS_BASIC'], 'office365'],
      ['coexistence', ['INTUNE_PLAN_1'], 'intune'],
      ['coexistence', ['O365_E3', 'EMS_E3'], 'intune'],
      ['coexistence', ['M365_E5'], 'intune'],
    ];
    const tenants = new Map<string, Awaited<ReturnType<typeof newTenant>>>();
    for (const a of ['intune', 'office365', 'coexistence']) tenants.set(a, await newTenant(a));
    for (const [tenantAuthority, licenses, expected] of table) {
      const t = tenants.get(tenantAuthority)!;
      const userId = await t.user(licenses);
      const user = (await t.get(userId)).body;
      expect({ tenantAuthority, licenses, effectiveAuthority: user.effectiveAuthority }).toEqual({
        tenantAuthority,
        licenses,
        effectiveAuthority: expected,
      });
      expect(user.licenses).toEqual(licenses);
    }
    // While the authority is unknown nobody has one.
    const unknown = await newTenant();
    const userId = await unknown.user(['M365_E5']);
    expect((await unknown.get(userId)).body).toMatchObject({ licenses: ['M365_E5'], effectiveAuthority: null, devices: [] });
  });

  it('R9: a license change that moves the effective authority emits UserAuthorityChanged and switches the user\'s devices', async () => {
    const t = await newTenant('coexistence');
    const staff = await t.group();
    await t.intuneConfiguration([staff]);
    const userId = await t.user(['O365_E3'], [staff]);
    const phone = await t.enroll(userId, 'ios');
    const laptop = await t.enroll(userId, 'windows');
    expect((await t.get(userId)).body.devices.sort()).toEqual([phone, laptop].sort());

    const added = await t.assign(userId, 'EMS_E5');
    expect(added.status).toBe(200);
    expect(added.body).toEqual({
      userId,
      licenses: ['O365_E3', 'EMS_E5'],
      effectiveAuthority: 'intune',
      previousAuthority: 'office365',
      devicesToSwitch: 2,
      warnings: [],
      dryRun: false,
    });
    // A license that does not move the authority switches nothing.
    const more = await t.assign(userId, 'M365_E3');
    expect(more.body).toMatchObject({ effectiveAuthority: 'intune', previousAuthority: 'intune', devicesToSwitch: 0 });
    // The same license again: 200, nothing happens.
    const again = await t.assign(userId, 'M365_E3');
    expect(again.status).toBe(200);
    expect(again.body.licenses).toEqual(['O365_E3', 'EMS_E5', 'M365_E3']);

    // An unenrolled device is no longer switched.
    await producer.send({
      topic: Topics.enrollmentEvents.topic,
      acks: -1,
      messages: [{ key: `device-${laptop}`, value: JSON.stringify(deviceEvent(t.tenantId, laptop, 'DeviceUnenrolled', { deviceId: laptop, by: 'admin' })) }],
    });
    await eventually(async () => expect((await t.get(userId)).body.devices).toEqual([phone]));
    expect((await t.remove(userId, 'EMS_E5')).body).toMatchObject({ effectiveAuthority: 'intune', devicesToSwitch: 0 });
    const removed = await t.remove(userId, 'M365_E3');
    expect(removed.body).toMatchObject({ licenses: ['O365_E3'], effectiveAuthority: 'office365', previousAuthority: 'intune', devicesToSwitch: 1 });

    const events = await streamOf(userId);
    expect(events.filter((e) => e.type === 'UserAuthorityChanged').map((e) => e.data)).toEqual([
      { userId, from: null, to: 'office365', warnings: [] },
      { userId, from: 'office365', to: 'intune', warnings: [] },
      { userId, from: 'intune', to: 'office365', warnings: [] },
    ]);
    expect(events.every((e) => e.actor === 'token:test')).toBe(true);
    // The events reach Kafka through the outbox (for enrollment and device-sync, R16).
    await eventually(async () => {
      const [row] = await licensing.runtime.db.query<{ pending: string }>(
        'select count(*)::text as pending from outbox where message_key = $1 and published_at is null',
        [`user-${userId}`],
      );
      expect(row.pending).toBe('0');
    });
  });

  it('R9: a tenant authority change recomputes every user and emits UserAuthorityChanged for those who move', async () => {
    const t = await newTenant('office365');
    const both = await t.user(['M365_E3']);
    const intuneOnly = await t.user(['EMS_E3']);
    const officeOnly = await t.user(['O365_E1']);
    const unlicensed = await t.user([]);
    expect((await t.get(intuneOnly)).body.effectiveAuthority).toBeNull();

    expect((await t.setAuthority('intune')).status).toBe(200);
    const expected: [string, string | null][] = [
      [both, 'intune'],
      [intuneOnly, 'intune'],
      [officeOnly, null],
      [unlicensed, null],
    ];
    await eventually(async () => {
      for (const [userId, effective] of expected) expect((await t.get(userId)).body.effectiveAuthority).toBe(effective);
    });
    const [authorityChanged] = (await authority.runtime.store.readStream(`tenant-${t.tenantId}`)).filter((e) => e.type === 'AuthorityChanged').slice(-1);
    const moved = async (userId: string) => (await streamOf(userId)).filter((e) => e.type === 'UserAuthorityChanged').slice(-1)[0];
    expect(await moved(both)).toMatchObject({
      data: { userId: both, from: 'office365', to: 'intune', warnings: ['NO_INTUNE_CONFIGURATION_ASSIGNED'] },
      causationId: authorityChanged.eventId,
      correlationId: authorityChanged.correlationId,
    });
    expect((await moved(intuneOnly)).data).toMatchObject({ from: null, to: 'intune' });
    expect((await moved(officeOnly)).data).toMatchObject({ from: 'office365', to: null });
    expect((await streamOf(unlicensed)).map((e) => e.type)).toEqual(['UserCreated']);

    // Under coexistence the office-only user is back on office365, the intune-only one stays on intune.
    expect((await t.setAuthority('coexistence')).status).toBe(200);
    // A command right after the change sees it (read-your-writes), without waiting for anything.
    expect((await t.assign(officeOnly, 'O365_E1')).body).toMatchObject({ effectiveAuthority: 'office365' });
    expect((await t.assign(intuneOnly, 'EMS_E3')).body).toMatchObject({ effectiveAuthority: 'intune' });
  });

  it('R9: license commands racing each other and an authority change lose no update and leave a consistent authority', async () => {
    const skus = ['O365_E1', 'EMS_E3', 'M365_E3', 'INTUNE_PLAN_1', 'M365_BUSINESS_BASIC'];
    for (let round = 0; round < 5; round++) {
      const t = await newTenant('office365');
      const userId = await t.user();
      const [, ...answers] = await Promise.all([t.setAuthority('intune'), ...skus.map((sku) => t.assign(userId, sku))]);
      // A lost race is a 409, never a lost update.
      expect(answers.every((a) => a.status === 200 || (a.status === 409 && a.body.code === 'VERSION_CONFLICT'))).toBe(true);
      const assigned = skus.filter((_, i) => answers[i].status === 200);
      await eventually(async () => expect((await t.get(userId)).body).toMatchObject({ effectiveAuthority: 'intune' }));
      expect((await t.get(userId)).body.licenses.sort()).toEqual(assigned.sort());
      // The announced authorities form one unbroken chain from none to intune.
      const moves = (await streamOf(userId)).filter((e) => e.type === 'UserAuthorityChanged').map((e) => e.data as { from: string; to: string });
      moves.forEach((m, i) => expect(m.from).toBe(i === 0 ? null : moves[i - 1].to));
      expect(moves[moves.length - 1].to).toBe('intune');
    }
  });

  it('R10: a switch to Intune with no Intune configuration on the user\'s groups carries NO_INTUNE_CONFIGURATION_ASSIGNED; a dry run writes nothing', async () => {
    const t = await newTenant('intune');
    const configured = await t.group('Configured');
    const bare = await t.group('Bare');
    const bareUser = await t.user([], [bare]);
    const configuredUser = await t.user([], [bare, configured]);
    await t.enroll(bareUser, 'android');
    await t.intuneConfiguration([configured]);

    const preview = await t.assign(bareUser, 'EMS_E3', true);
    expect(preview.status).toBe(200);
    expect(preview.body).toEqual({
      userId: bareUser,
      licenses: ['EMS_E3'],
      effectiveAuthority: 'intune',
      previousAuthority: null,
      devicesToSwitch: 1,
      warnings: [{ code: 'NO_INTUNE_CONFIGURATION_ASSIGNED', message: expect.stringContaining('Intune configuration') }],
      dryRun: true,
    });
    expect((await t.get(bareUser)).body).toMatchObject({ licenses: [], effectiveAuthority: null });
    expect((await streamOf(bareUser)).map((e) => e.type)).toEqual(['UserCreated']);

    const real = await t.assign(bareUser, 'EMS_E3', false);
    expect(real.body).toEqual({ ...preview.body, dryRun: false });
    expect((await streamOf(bareUser)).slice(-1)[0].data).toEqual({
      userId: bareUser,
      from: null,
      to: 'intune',
      warnings: ['NO_INTUNE_CONFIGURATION_ASSIGNED'],
    });

    // The configuration was created the call before: the licensing service already knows it.
    const covered = await t.assign(configuredUser, 'M365_E5');
    expect(covered.body).toMatchObject({ effectiveAuthority: 'intune', warnings: [] });

    // Moving the bare user into the configured group: a later switch has no warning.
    expect((await lic('PUT', t.path(`/users/${bareUser}/groups`), { groupIds: [configured] })).body.groupIds).toEqual([configured]);
    await t.remove(bareUser, 'EMS_E3');
    expect((await t.assign(bareUser, 'EMS_E5')).body).toMatchObject({ effectiveAuthority: 'intune', warnings: [] });
  });

  it('R10/R16/R17/R22: the authority preview counts devices notified, needing support and blocked without APNs, with warnings', async () => {
    const t = await newTenant('office365');
    const staff = await t.group();
    await t.intuneConfiguration([staff]);
    const covered = await t.user(['M365_E5'], [staff]);
    const bare = await t.user(['M365_BUSINESS_PREMIUM']);
    const officeOnly = await t.user(['O365_E1']);
    await t.enroll(covered, 'ios');
    await t.enroll(covered, 'windows');
    await t.enroll(bare, 'macos');
    await t.enroll(officeOnly, 'ipados');
    await t.enroll(null, 'android');
    await t.enroll(null, 'ios');

    const preview = (a: string) => lic('POST', t.path('/authority/preview'), { authority: a });
    const toIntune = await preview('intune');
    expect(toIntune.status).toBe(200);
    expect(toIntune.body).toEqual({
      devicesToNotify: 4,
      devicesNeedingSupport: 2,
      appleDevicesBlockedWithoutApns: 2,
      usersToSwitch: 3,
      warnings: [{ code: 'NO_INTUNE_CONFIGURATION_ASSIGNED', message: expect.any(String), userId: bare }],
    });

    // R22: with an APNs certificate on intune, no Apple device is blocked.
    expect((await auth('POST', t.path('/consents'), { kind: 'appleMdmPush' })).status).toBe(201);
    const pem = await selfSignedCertificatePem({ notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 300 * DAY) });
    expect((await auth('PUT', t.path('/authorities/intune/apns-certificate'), { certificatePem: pem })).status).toBe(200);
    expect((await preview('intune')).body).toMatchObject({ devicesToNotify: 4, appleDevicesBlockedWithoutApns: 0 });

    // The current authority again: nothing; unknown: refused.
    expect((await preview('office365')).body).toEqual({
      devicesToNotify: 0,
      devicesNeedingSupport: 0,
      appleDevicesBlockedWithoutApns: 0,
      usersToSwitch: 0,
      warnings: [],
    });
    const back = await preview('unknown');
    expect([back.status, back.body.code]).toEqual([422, 'AUTHORITY_CANNOT_REVERT_TO_UNKNOWN']);

    // A preview changes nothing.
    expect((await t.get(bare)).body.effectiveAuthority).toBe('office365');
    expect((await auth('GET', t.path('/authority'))).body.authority).toBe('office365');
  });

  it('R8: an unknown SKU is 422 UNKNOWN_SKU; a license not held cannot be removed (404)', async () => {
    const t = await newTenant('intune');
    const userId = await t.user(['EMS_E3']);
    const unknown = await t.assign(userId, 'EMS_E7');
    expect([unknown.status, unknown.body.code]).toEqual([422, 'UNKNOWN_SKU']);
    const notHeld = await t.remove(userId, 'O365_E1');
    expect([notHeld.status, notHeld.body.code]).toEqual([404, 'NOT_FOUND']);
    expect((await t.get(userId)).body.licenses).toEqual(['EMS_E3']);
    expect((await streamOf(userId)).map((e) => e.type)).toEqual(['UserCreated', 'LicenseAssigned', 'UserAuthorityChanged']);
  });

  it('user principal names are unique per tenant whatever their case: 409 USER_EXISTS; groups must exist: 422 UNKNOWN_GROUP', async () => {
    const t = await newTenant('intune');
    const created = await lic('POST', t.path('/users'), { userPrincipalName: 'Ada@Contoso.com', displayName: 'Ada' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      userId: expect.any(String),
      userPrincipalName: 'Ada@Contoso.com',
      displayName: 'Ada',
      groupIds: [],
      licenses: [],
      effectiveAuthority: null,
      devices: [],
    });
    const twice = await lic('POST', t.path('/users'), { userPrincipalName: 'ada@contoso.COM' });
    expect([twice.status, twice.body.code]).toEqual([409, 'USER_EXISTS']);
    // Concurrent creations of one name: exactly one wins.
    const racing = await Promise.all(Array.from({ length: 5 }, () => lic('POST', t.path('/users'), { userPrincipalName: 'grace@contoso.com' })));
    expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    // Another tenant may have the same name.
    const other = await newTenant('intune');
    expect((await lic('POST', other.path('/users'), { userPrincipalName: 'ada@contoso.com' })).status).toBe(201);

    const strangerGroup = await other.group();
    const unknownGroup = await lic('POST', t.path('/users'), { userPrincipalName: 'bob@contoso.com', groupIds: [strangerGroup] });
    expect([unknownGroup.status, unknownGroup.body.code]).toEqual([422, 'UNKNOWN_GROUP']);
    const setUnknown = await lic('PUT', t.path(`/users/${created.body.userId}/groups`), { groupIds: [randomUUID()] });
    expect([setUnknown.status, setUnknown.body.code]).toEqual([422, 'UNKNOWN_GROUP']);
  });

  it('unknown tenants and users are 404, a user of another tenant too; bad input is 400 VALIDATION_FAILED', async () => {
    const t = await newTenant('intune');
    const userId = await t.user();
    const other = await newTenant('intune');
    const missing = randomUUID();
    for (const res of [
      await lic('POST', `/api/v1/tenants/${missing}/users`, { userPrincipalName: 'x@contoso.com' }),
      await lic('POST', `/api/v1/tenants/${missing}/groups`, { name: 'x' }),
      await lic('POST', `/api/v1/tenants/${missing}/authority/preview`, { authority: 'intune' }),
      await t.assign(missing, 'EMS_E3'),
      await t.get(missing),
      await other.get(userId),
      await other.assign(userId, 'EMS_E3'),
      await lic('PUT', other.path(`/users/${userId}/groups`), { groupIds: [] }),
      await lic('GET', '/api/v1/tenants/not-a-uuid/users/also-not'),
    ]) {
      expect([res.status, res.body.code]).toEqual([404, 'NOT_FOUND']);
    }
    const unknownField = await lic('POST', t.path(`/users/${userId}/licenses`), { sku: 'EMS_E3', dryRun: 'yes' });
    expect([unknownField.status, unknownField.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    const extra = await lic('POST', t.path('/users'), { userPrincipalName: 'eve@contoso.com', admin: true });
    expect([extra.status, extra.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect((await lic('POST', t.path('/authority/preview'), { authority: 'windows' })).status).toBe(400);
  });

  it('read-your-writes: 100 times create tenant, set authority, assign license: the effective authority is right at once', async () => {
    const cases: [string, string, string][] = [
      ['intune', 'EMS_E3', 'intune'],
      ['office365', 'O365_E1', 'office365'],
      ['coexistence', 'O365_E3', 'office365'],
      ['coexistence', 'EMS_E5', 'intune'],
    ];
    for (let i = 0; i < 100; i++) {
      const [tenantAuthority, sku, expected] = cases[i % cases.length];
      const t = await newTenant(tenantAuthority);
      const created = await lic('POST', t.path('/users'), { userPrincipalName: `user${i}@contoso.com` });
      expect(created.status).toBe(201);
      const res = await t.assign(created.body.userId, sku);
      expect({ i, status: res.status, effectiveAuthority: res.body.effectiveAuthority }).toEqual({ i, status: 200, effectiveAuthority: expected });
    }
  }, 300_000);
});

function deviceEvent(tenantId: string, deviceId: string, type: string, data: unknown) {
  return envelopeFixture({ type, streamId: `device-${deviceId}`, streamVersion: 2, tenantId, data });
}
