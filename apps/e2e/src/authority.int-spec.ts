import { randomUUID } from 'node:crypto';
import { eventually, selfSignedCertificatePem } from '@mdm/platform/testing';
import { TestStack } from './support/stack';
import { TestTenant, useStackWithTenant } from './support/tenant';

const DAY = 24 * 3600 * 1000;

describe('authority through the gateway (R1–R7)', () => {
  const ctx = useStackWithTenant();
  let stack: TestStack;
  let tenant: TestTenant;
  beforeEach(() => ({ stack, tenant } = ctx));

  const authority = () => tenant.admin.get(tenant.path('/authority'));
  const setAuthority = (body: object) => tenant.admin.put(tenant.path('/authority'), body);

  it('R1: a new tenant has authority unknown and shows the banner', async () => {
    const res = await authority();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      tenantId: tenant.tenantId,
      authority: 'unknown',
      bannerVisible: true,
      consents: [],
      apnsCertificates: {},
      version: 1,
      changedAt: null,
      coManagement: { enabled: false, autoEnrollment: false },
    });
  });

  it('R2: the authority can be set to intune, office365 or coexistence, and the banner goes', async () => {
    for (const [value, version] of [
      ['office365', 2],
      ['coexistence', 3],
      ['intune', 4],
    ] as const) {
      const res = await setAuthority({ authority: value });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ authority: value, bannerVisible: false, version });
    }
    expect((await authority()).body.changedAt).toEqual(expect.any(String));
  });

  it('R2: co-management sits on intune or coexistence only, with workloads per handler', async () => {
    const refused = await tenant.admin.put(tenant.path('/co-management'), { enabled: true, autoEnrollment: true });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('CO_MANAGEMENT_REQUIRES_INTUNE');

    await setAuthority({ authority: 'coexistence' });
    const res = await tenant.admin.put(tenant.path('/co-management'), {
      enabled: true,
      autoEnrollment: true,
      workloads: { compliancePolicies: 'intune' },
    });
    expect(res.status).toBe(200);
    expect(res.body.coManagement).toEqual({
      enabled: true,
      autoEnrollment: true,
      workloads: {
        compliancePolicies: 'intune',
        deviceConfiguration: 'configMgr',
        resourceAccess: 'configMgr',
        endpointProtection: 'configMgr',
        clientApps: 'configMgr',
        officeClickToRun: 'configMgr',
        windowsUpdatePolicies: 'configMgr',
      },
    });

    const toOffice = await setAuthority({ authority: 'office365' });
    expect(toOffice.status).toBe(422);
    expect(toOffice.body.code).toBe('CO_MANAGEMENT_REQUIRES_INTUNE');
    expect((await authority()).body.authority).toBe('coexistence');
  });

  it('R3: the authority can never go back to unknown; the same value again changes nothing', async () => {
    await setAuthority({ authority: 'intune' });
    const back = await setAuthority({ authority: 'unknown' });
    expect(back.status).toBe(422);
    expect(back.body.code).toBe('AUTHORITY_CANNOT_REVERT_TO_UNKNOWN');

    const again = await setAuthority({ authority: 'intune' });
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(2);
    const events = await stack.authority.runtime.store.readStream(`tenant-${tenant.tenantId}`);
    expect(events.map((e) => e.type)).toEqual(['TenantCreated', 'AuthorityChanged']);
  });

  it('R3: a stale expectedVersion is a 409 VERSION_CONFLICT, even when the value equals the current one', async () => {
    await setAuthority({ authority: 'intune' });
    const stale = await setAuthority({ authority: 'intune', expectedVersion: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('VERSION_CONFLICT');
    const current = await setAuthority({ authority: 'office365', expectedVersion: 2 });
    expect(current.status).toBe(200);
    expect(current.body.version).toBe(3);
  });

  it('R3: concurrent changes with the same expectedVersion: one wins, the others get 409', async () => {
    const results = await Promise.all(
      ['intune', 'office365', 'coexistence', 'intune', 'office365', 'coexistence'].map((a) =>
        setAuthority({ authority: a, expectedVersion: 1 }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'VERSION_CONFLICT')).toBe(true);
    expect((await authority()).body.version).toBe(2);
  });

  it('R4: every change emits AuthorityChanged { from, to }, and it reaches Kafka through the outbox', async () => {
    await setAuthority({ authority: 'office365' });
    await setAuthority({ authority: 'intune' });
    const events = await stack.authority.runtime.store.readStream(`tenant-${tenant.tenantId}`);
    const changes = events.filter((e) => e.type === 'AuthorityChanged');
    expect(changes.map((e) => e.data)).toEqual([
      { from: 'unknown', to: 'office365' },
      { from: 'office365', to: 'intune' },
    ]);
    await eventually(async () => {
      const [row] = await stack.authority.runtime.db.query<{ pending: string; sent: string }>(
        `select count(*) filter (where published_at is null)::text pending, count(*) filter (where published_at is not null)::text sent
           from outbox where message_key = $1`,
        [`tenant-${tenant.tenantId}`],
      );
      expect(row).toEqual({ pending: '0', sent: '3' });
    });
  });

  it('R4: the event carries the correlation id of the request that caused it, and the actor', async () => {
    const correlationId = `trace-${randomUUID()}`;
    const ok = await tenant.admin.call('PUT', tenant.path('/authority'), { authority: 'intune' }, { 'x-correlation-id': correlationId });
    expect(ok.headers.get('x-correlation-id')).toBe(correlationId);
    const events = await stack.authority.runtime.store.readStream(`tenant-${tenant.tenantId}`);
    const change = events.find((e) => e.type === 'AuthorityChanged')!;
    expect(change.correlationId).toBe(correlationId);
    expect(change.actor).toMatch(/^token:[0-9a-f-]{36}$/);
  });

  it('R5: consents are recorded with who and when; granting again changes nothing', async () => {
    const res = await tenant.admin.post(tenant.path('/consents'), { kind: 'appleMdmPush' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ kind: 'appleMdmPush', grantedAt: expect.any(String), grantedBy: expect.stringMatching(/^token:/) });
    const again = await tenant.admin.post(tenant.path('/consents'), { kind: 'appleMdmPush' });
    expect(again.body).toEqual(res.body);
    expect((await authority()).body.consents).toEqual(['appleMdmPush']);
  });

  it('R5: uploading an APNs certificate without the appleMdmPush consent is CONSENT_REQUIRED', async () => {
    const pem = await selfSignedCertificatePem({ notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 365 * DAY) });
    const res = await tenant.admin.put(tenant.path('/authorities/intune/apns-certificate'), { certificatePem: pem });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('CONSENT_REQUIRED');
    expect((await authority()).body.apnsCertificates).toEqual({});
  });

  it('R6: an APNs certificate is parsed for real and serves only the authority it was uploaded to', async () => {
    await tenant.admin.post(tenant.path('/consents'), { kind: 'appleMdmPush' });
    const notAfter = new Date(Math.floor((Date.now() + 300 * DAY) / 1000) * 1000);
    const pem = await selfSignedCertificatePem({
      subject: 'CN=APSP:contoso-push, O=Contoso',
      serialNumber: '7f3a9c',
      notBefore: new Date(Date.now() - DAY),
      notAfter,
    });
    const res = await tenant.admin.put(tenant.path('/authorities/office365/apns-certificate'), { certificatePem: pem });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ serial: '7F3A9C', subject: expect.stringContaining('CN=APSP:contoso-push'), notAfter: notAfter.toISOString() });
    const state = (await authority()).body;
    expect(state.apnsCertificates.office365).toEqual(res.body);
    expect(state.apnsCertificates.intune).toBeUndefined();
  });

  it('R6: an expired or unparsable certificate is INVALID_CERTIFICATE and changes nothing', async () => {
    await tenant.admin.post(tenant.path('/consents'), { kind: 'appleMdmPush' });
    const expired = await selfSignedCertificatePem({ notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
    for (const certificatePem of [expired, 'not a certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----']) {
      const res = await tenant.admin.put(tenant.path('/authorities/intune/apns-certificate'), { certificatePem });
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('INVALID_CERTIFICATE');
    }
    expect((await authority()).body.apnsCertificates).toEqual({});
  });

  it('R7: configurations belong to an authority, with versions; update and delete', async () => {
    const groupId = randomUUID();
    const body = {
      name: 'Corporate Wi-Fi',
      type: 'wifi',
      platforms: ['ios', 'android'],
      settings: { ssid: 'contoso' },
      assignedGroupIds: [groupId],
    };
    const created = await tenant.admin.post(tenant.path('/authorities/intune/configurations'), body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ configurationId: expect.any(String), version: 1, authority: 'intune', ...body });
    const id = created.body.configurationId;

    // A configuration may be prepared for an authority that is not (yet) the tenant's.
    expect((await authority()).body.authority).toBe('unknown');
    const wrongAuthority = await tenant.admin.get(tenant.path(`/authorities/office365/configurations/${id}`));
    expect(wrongAuthority.status).toBe(404);

    const updated = await tenant.admin.put(tenant.path(`/authorities/intune/configurations/${id}`), {
      ...body,
      settings: { ssid: 'contoso-5g' },
      expectedVersion: 1,
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ version: 2, settings: { ssid: 'contoso-5g' } });
    const stale = await tenant.admin.put(tenant.path(`/authorities/intune/configurations/${id}`), { ...body, expectedVersion: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('VERSION_CONFLICT');

    expect((await tenant.admin.delete(tenant.path(`/authorities/intune/configurations/${id}`))).status).toBe(204);
    expect((await tenant.admin.get(tenant.path(`/authorities/intune/configurations/${id}`))).status).toBe(404);
    expect((await tenant.admin.delete(tenant.path(`/authorities/intune/configurations/${id}`))).status).toBe(404);
  });

  it('R7: compliance policies accept only the settings the evaluator understands', async () => {
    const policy = {
      name: 'Baseline',
      type: 'compliance',
      platforms: ['ios'],
      settings: { minOsVersion: '16.4.1', requireEncryption: true, blockJailbroken: true, requirePasscode: true },
      assignedGroupIds: [],
    };
    expect((await tenant.admin.post(tenant.path('/authorities/intune/configurations'), policy)).status).toBe(201);
    const bad = await tenant.admin.post(tenant.path('/authorities/intune/configurations'), {
      ...policy,
      settings: { minOsVersion: 'sixteen', requireFaceId: true },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    expect(bad.body.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(['body.settings', 'body.settings.minOsVersion']);
  });
});
