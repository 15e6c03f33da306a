import { X509Certificate, createPrivateKey, randomUUID } from 'node:crypto';
import { certificateSigningRequest, eventually, openPkcs12, selfSignedCertificatePem } from '@mdm/platform/testing';
import { ConsumerHandle } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { TestStack } from './support/stack';
import { TestTenant, createTenant, tokenFor, useStackWithTenant } from './support/tenant';

const DAY = 86_400_000;

describe('enrollment through the gateway (R11–R15)', () => {
  const ctx = useStackWithTenant({ testClock: true });
  let stack: TestStack;
  let tenant: TestTenant;
  beforeEach(() => ({ stack, tenant } = ctx));

  const setAuthority = (authority: string) => tenant.admin.put(tenant.path('/authority'), { authority });
  const enroll = (body: object, client = tenant.admin) => client.post(tenant.path('/enrollments'), body);
  const serial = () => `SN-${randomUUID().slice(0, 8)}`;

  async function licensedUser(sku = 'EMS_E3') {
    const user = await tenant.admin.post(tenant.path('/users'), { userPrincipalName: `u-${randomUUID().slice(0, 8)}@contoso.com` });
    expect(user.status).toBe(201);
    const license = await tenant.admin.post(tenant.path(`/users/${user.body.userId}/licenses`), { sku });
    expect(license.status).toBe(200);
    return user.body.userId as string;
  }

  async function uploadApns(authority: string) {
    await tenant.admin.post(tenant.path('/consents'), { kind: 'appleMdmPush' });
    const now = Date.parse((await stack.anonymous.get('/api/v1/system/clock')).body.now);
    const certificatePem = await selfSignedCertificatePem({ notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) });
    const res = await tenant.admin.put(tenant.path(`/authorities/${authority}/apns-certificate`), { certificatePem });
    expect(res.status).toBe(200);
  }

  it('R1: every enrollment is refused while the authority is unknown', async () => {
    const res = await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '10.0.22631' });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('MDM_AUTHORITY_NOT_SET');
  });

  it('R8/R12: a user without an entitling license cannot enroll (NO_MDM_LICENSE); with one the device is managed by it', async () => {
    await setAuthority('intune');
    const unlicensed = await tenant.admin.post(tenant.path('/users'), { userPrincipalName: 'ada@contoso.com' });
    const refused = await enroll({ platform: 'android', enrollmentType: 'user', userId: unlicensed.body.userId, serialNumber: serial(), osVersion: '14' });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('NO_MDM_LICENSE');

    const officeOnly = await licensedUser('O365_E3');
    const stillRefused = await enroll({ platform: 'android', enrollmentType: 'user', userId: officeOnly, serialNumber: serial(), osVersion: '14' });
    expect(stillRefused.body.code).toBe('NO_MDM_LICENSE');

    const userId = await licensedUser('EMS_E3');
    const ok = await enroll({ platform: 'android', enrollmentType: 'user', userId, serialNumber: serial(), osVersion: '14' });
    expect(ok.status).toBe(201);
    expect(ok.body.managedBy).toBe('intune');
  });

  it('R11: userless devices take the tenant authority, intune under coexistence (R12)', async () => {
    await setAuthority('office365');
    const office = await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '10.0' });
    expect([office.status, office.body.managedBy]).toEqual([201, 'office365']);
    await setAuthority('coexistence');
    const coexistence = await enroll({ platform: 'android', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '14' });
    expect([coexistence.status, coexistence.body.managedBy]).toEqual([201, 'intune']);
  });

  it('R12: Apple devices need an APNs certificate on the managing authority', async () => {
    await setAuthority('intune');
    const body = { platform: 'ios', enrollmentType: 'bulk', osVersion: '17.4' };
    const refused = await enroll({ ...body, serialNumber: serial() });
    expect([refused.status, refused.body.code]).toEqual([422, 'APNS_CERTIFICATE_MISSING']);
    await uploadApns('office365');
    expect((await enroll({ ...body, serialNumber: serial() })).body.code).toBe('APNS_CERTIFICATE_MISSING');
    await uploadApns('intune');
    expect((await enroll({ ...body, serialNumber: serial() })).status).toBe(201);
  });

  it('R12: a work profile needs androidWorkProfile consent, ADE needs appleDep', async () => {
    await setAuthority('intune');
    await uploadApns('intune');
    const wp = await enroll({ platform: 'android', enrollmentType: 'bulk', androidWorkProfile: true, serialNumber: serial(), osVersion: '14' });
    expect([wp.status, wp.body.code, wp.body.details]).toEqual([422, 'CONSENT_REQUIRED', { consent: 'androidWorkProfile' }]);
    const ade = await enroll({ platform: 'ipados', enrollmentType: 'ade', serialNumber: serial(), osVersion: '17' });
    expect([ade.status, ade.body.code, ade.body.details]).toEqual([422, 'CONSENT_REQUIRED', { consent: 'appleDep' }]);
    await tenant.admin.post(tenant.path('/consents'), { kind: 'appleDep' });
    expect((await enroll({ platform: 'ipados', enrollmentType: 'ade', serialNumber: serial(), osVersion: '17' })).status).toBe(201);
  });

  it('R13: without a CSR the device gets a year\'s certificate and its key once, as PKCS#12 that opens with its password and holds a key matching the certificate', async () => {
    await setAuthority('office365');
    const { body, status } = await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '10.0' });
    expect(status).toBe(201);
    expect(body).toEqual({
      deviceId: expect.any(String),
      deviceCredential: expect.stringMatching(/^dc_[0-9a-f-]{36}\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/),
      managedBy: 'office365',
      mdmCertificate: {
        serial: expect.stringMatching(/^[0-9A-F]{32}$/),
        notAfter: expect.any(String),
        pem: expect.stringContaining('-----BEGIN CERTIFICATE-----'),
        caPem: expect.stringContaining('-----BEGIN CERTIFICATE-----'),
        pkcs12: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/),
        pkcs12Password: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      },
    });
    const now = Date.parse((await stack.anonymous.get('/api/v1/system/clock')).body.now);
    expect(Date.parse(body.mdmCertificate.notAfter) - now).toBe(365 * DAY);

    const cert = new X509Certificate(body.mdmCertificate.pem);
    const db = stack.enrollment.runtime.db;
    const [ca] = await db.query<{ certificate_pem: string }>('select certificate_pem from certificate_authority');
    const caCert = new X509Certificate(ca.certificate_pem);
    expect(new X509Certificate(body.mdmCertificate.caPem).raw).toEqual(caCert.raw);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.serialNumber.toUpperCase()).toBe(body.mdmCertificate.serial);
    expect(cert.subject.split('\n')).toEqual([`CN=${body.deviceId}`, `O=${tenant.tenantId}`, 'OU=MDM device']);
    expect([cert.ca, cert.keyUsage, cert.publicKey.asymmetricKeyDetails]).toEqual([false, ['1.3.6.1.5.5.7.3.2'], { namedCurve: 'prime256v1' }]);
    expect([Date.parse(cert.validFrom), Date.parse(cert.validTo)]).toEqual([Math.floor(now / 1000) * 1000, Math.floor(now / 1000) * 1000 + 365 * DAY]);

    const bundle = Buffer.from(body.mdmCertificate.pkcs12, 'base64');
    const opened = await openPkcs12(bundle, body.mdmCertificate.pkcs12Password);
    expect(opened.certificatesDer).toEqual([cert.raw, caCert.raw]);
    const privateKey = createPrivateKey({ key: opened.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
    expect(cert.checkPrivateKey(privateKey)).toBe(true);
    await expect(openPkcs12(bundle, 'not-the-password-at-all')).rejects.toThrow();

    // Stored nowhere: neither the key (in any form), nor the bundle, nor its password.
    const secrets = [body.mdmCertificate.pkcs12, body.mdmCertificate.pkcs12Password, opened.privateKeyPkcs8.toString('base64'), opened.privateKeyPkcs8.toString('hex')];
    for (const table of ['devices', 'es_events', 'outbox', 'certificate_authority']) {
      const dump = JSON.stringify(await db.query(`select * from ${table}`));
      for (const secret of secrets) expect(dump).not.toContain(secret);
    }
    for (const table of ['devices', 'es_events', 'outbox']) {
      const dump = JSON.stringify(await db.query(`select * from ${table}`));
      expect(dump).not.toContain(body.deviceCredential);
    }
    const [event] = await stack.enrollment.runtime.store.readStream(`device-${body.deviceId}`);
    expect(event.type).toBe('DeviceEnrolled');
    expect((event.data as { credentialHash: string }).credentialHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('R13: a device enrolled with its CSR gets a certificate that verifies against caPem, holds the CSR\'s public key and names the device, and no PKCS#12', async () => {
    await setAuthority('intune');
    const user = await licensedUser();
    for (const algorithm of ['P-256', 'RSA-2048'] as const) {
      const { csrPem, publicKeySpki } = await certificateSigningRequest({ algorithm, subject: 'CN=someone-else, O=Not the tenant' });
      const { body, status } = await enroll({ platform: 'android', enrollmentType: 'user', userId: user, serialNumber: serial(), osVersion: '14', csrPem });
      expect(status).toBe(201);
      expect(Object.keys(body.mdmCertificate).sort()).toEqual(['caPem', 'notAfter', 'pem', 'serial']);
      const cert = new X509Certificate(body.mdmCertificate.pem);
      const ca = new X509Certificate(body.mdmCertificate.caPem);
      expect([cert.verify(ca.publicKey), cert.checkIssued(ca)]).toEqual([true, true]);
      expect(cert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(publicKeySpki);
      expect(cert.subject.split('\n')).toEqual([`CN=${body.deviceId}`, `O=${tenant.tenantId}`, 'OU=MDM device']);
      expect(cert.serialNumber.toUpperCase()).toBe(body.mdmCertificate.serial);
    }
  });

  it('R13: a CSR that does not parse, whose signature fails or whose key is not allowed is 422 INVALID_CSR, and enrolls nothing', async () => {
    await setAuthority('intune');
    const other = await certificateSigningRequest();
    const csrs = [
      'garbage',
      (await certificateSigningRequest({ signWith: other.keys })).csrPem,
      (await certificateSigningRequest({ algorithm: 'P-384' })).csrPem,
      (await certificateSigningRequest({ algorithm: 'RSA-1024' })).csrPem,
    ];
    const sn = serial();
    for (const csrPem of csrs) {
      const res = await enroll({ platform: 'android', enrollmentType: 'bulk', serialNumber: sn, osVersion: '14', csrPem });
      expect([res.status, res.body.code, typeof res.body.message]).toEqual([422, 'INVALID_CSR', 'string']);
    }
    const rows = await stack.enrollment.runtime.db.query('select 1 from devices where tenant_id = $1 and serial_number = $2', [tenant.tenantId, sn]);
    expect(rows).toHaveLength(0);
  });

  it('the CA\'s private key is kept encrypted: its row holds no PKCS#8 key in the clear', async () => {
    const [row] = await stack.enrollment.runtime.db.query<{ private_key_pkcs8: string | null; private_key_encrypted: string }>(
      'select private_key_pkcs8, private_key_encrypted from certificate_authority',
    );
    expect(row.private_key_pkcs8).toBeNull();
    expect(JSON.parse(row.private_key_encrypted)).toEqual({
      format: 'mdm-ca-key:v1',
      kdf: { name: 'scrypt', N: 32768, r: 8, p: 1, salt: expect.any(String) },
      iv: expect.any(String),
      tag: expect.any(String),
      ciphertext: expect.any(String),
    });
  });

  it('R14: unenroll, then enroll the same serial again as a new device', async () => {
    await setAuthority('intune');
    const sn = serial();
    const first = await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: sn, osVersion: '10.0' });
    const again = await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: sn, osVersion: '10.0' });
    expect([again.status, again.body.code]).toEqual([409, 'ALREADY_ENROLLED']);
    const unenrolled = await tenant.admin.post(tenant.path(`/devices/${first.body.deviceId}/unenroll`));
    expect(unenrolled.status).toBe(200);
    expect(unenrolled.body).toEqual({ deviceId: first.body.deviceId, status: 'unenrolled' });
    expect((await tenant.admin.post(tenant.path(`/devices/${first.body.deviceId}/unenroll`))).status).toBe(404);
    const second = await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: sn, osVersion: '10.0' });
    expect(second.status).toBe(201);
    expect(second.body.deviceId).not.toBe(first.body.deviceId);
  });

  it('R12/R14: the same serial enrolled twenty times at once gives one 201 and nineteen 409 ALREADY_ENROLLED', async () => {
    await setAuthority('intune');
    const sn = serial();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => enroll({ platform: 'android', enrollmentType: 'bulk', serialNumber: sn, osVersion: '14' })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const conflicts = results.filter((r) => r.status === 409);
    expect(conflicts).toHaveLength(19);
    expect(conflicts.every((r) => r.body.code === 'ALREADY_ENROLLED')).toBe(true);
  });

  it('R13: twenty enrollments at once, one of them refused (R14), each get their own answer; every DeviceEnrolled carries its request\'s correlation id', async () => {
    await setAuthority('intune');
    const taken = serial();
    expect((await enroll({ platform: 'android', enrollmentType: 'bulk', serialNumber: taken, osVersion: '14' })).status).toBe(201);
    const calls = Array.from({ length: 20 }, (_, i) => ({
      body: { platform: 'android', enrollmentType: 'bulk', serialNumber: i === 7 ? taken : serial(), osVersion: '14' },
      correlationId: randomUUID(),
    }));
    const answers = await Promise.all(calls.map((c) => tenant.admin.call('POST', tenant.path('/enrollments'), c.body, { 'x-correlation-id': c.correlationId })));
    expect(answers.map((a) => a.status)).toEqual(calls.map((_, i) => (i === 7 ? 409 : 201)));
    expect(answers[7].body.code).toBe('ALREADY_ENROLLED');
    const enrolled = answers.filter((a) => a.status === 201);
    expect(new Set(enrolled.map((a) => a.body.deviceId)).size).toBe(19);
    expect(new Set(enrolled.map((a) => a.body.mdmCertificate.serial)).size).toBe(19);
    for (const [i, a] of answers.entries()) {
      if (a.status !== 201) continue;
      const [event] = await stack.enrollment.runtime.store.readStream(`device-${a.body.deviceId}`);
      expect([event.type, event.correlationId, (event.data as { serialNumber: string }).serialNumber]).toEqual(['DeviceEnrolled', calls[i].correlationId, calls[i].body.serialNumber]);
    }
  });

  it('R15: 180 days after its certificate expired a device is removed, not a day before', async () => {
    await setAuthority('intune');
    const device = await enroll({ platform: 'android', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '14' });
    const stream = `device-${device.body.deviceId}`;
    const types = async () => (await stack.enrollment.runtime.store.readStream(stream)).map((e) => e.type);
    await stack.operator.post('/api/v1/system/clock/advance', { seconds: (365 + 179) * 86400 });
    expect(await types()).toEqual(['DeviceEnrolled']);
    const advanced = await stack.operator.post('/api/v1/system/clock/advance', { seconds: 86400 });
    expect(advanced.status).toBe(200);
    // The sweep ran before the clock call answered.
    const events = await stack.enrollment.runtime.store.readStream(stream);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['DeviceEnrolled', expect.anything()],
      ['DeviceRemoved', { deviceId: device.body.deviceId, reason: 'mdm-certificate-expired' }],
    ]);
    expect((await tenant.admin.post(tenant.path(`/devices/${device.body.deviceId}/unenroll`))).status).toBe(404);
  });

  it('roles: an enroller may enroll but not unenroll or read users', async () => {
    await setAuthority('intune');
    const enroller = await tokenFor(stack, tenant, 'enroller');
    const res = await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '10.0' }, enroller);
    expect(res.status).toBe(201);
    expect((await enroller.post(tenant.path(`/devices/${res.body.deviceId}/unenroll`))).status).toBe(403);
    expect((await enroller.get(tenant.path(`/users/${randomUUID()}`))).status).toBe(403);
    const reader = await tokenFor(stack, tenant, 'reader');
    expect((await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '10.0' }, reader)).status).toBe(403);
  });

  it('bad enrollment input is a 400 with the field, and creates nothing', async () => {
    await setAuthority('intune');
    for (const body of [
      { platform: 'symbian', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '1' },
      { platform: 'android', enrollmentType: 'user', serialNumber: serial(), osVersion: '14' },
      { platform: 'android', enrollmentType: 'bulk', userId: randomUUID(), serialNumber: serial(), osVersion: '14' },
      { platform: 'android', enrollmentType: 'ade', serialNumber: serial(), osVersion: '14' },
      { platform: 'ios', enrollmentType: 'bulk', androidWorkProfile: true, serialNumber: serial(), osVersion: '17' },
      { platform: 'android', enrollmentType: 'bulk', serialNumber: '', osVersion: '14' },
      { platform: 'android', enrollmentType: 'bulk', serialNumber: serial(), osVersion: '14', imei: '1' },
    ]) {
      const res = await enroll(body);
      expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    const [{ n }] = await stack.enrollment.runtime.db.query<{ n: string }>('select count(*)::text n from devices where tenant_id = $1', [tenant.tenantId]);
    expect(n).toBe('0');
  });

  it('read-your-writes: authority, consent, APNs, license, then enroll, back to back, 100 times', async () => {
    for (let i = 0; i < 100; i++) {
      const t = await createTenant(stack, `Back-to-back ${i}`);
      const admin = t.admin;
      const setAuthority = async () =>
        expect((await admin.put(t.path('/authority'), { authority: i % 2 ? 'intune' : 'coexistence' })).status).toBe(200);
      // Half the rounds license the user first: the authority change right before enrolling then
      // moves the user's effective authority, and the enrollment must see that at once.
      if (i % 2) await setAuthority();
      const user = await admin.post(t.path('/users'), { userPrincipalName: `user${i}@contoso.com` });
      expect((await admin.post(t.path(`/users/${user.body.userId}/licenses`), { sku: 'M365_E3' })).status).toBe(200);
      expect((await admin.post(t.path('/consents'), { kind: 'appleMdmPush' })).status).toBe(201);
      const now = Date.parse((await stack.anonymous.get('/api/v1/system/clock')).body.now);
      const pem = await selfSignedCertificatePem({ notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY) });
      expect((await admin.put(t.path('/authorities/intune/apns-certificate'), { certificatePem: pem })).status).toBe(200);
      if (i % 2 === 0) await setAuthority();
      const res = await admin.post(t.path('/enrollments'), {
        platform: 'ios',
        enrollmentType: 'user',
        userId: user.body.userId,
        serialNumber: `RYW-${i}-${randomUUID().slice(0, 6)}`,
        osVersion: '17.4',
      });
      expect([i, res.status, res.body.managedBy]).toEqual([i, 201, 'intune']);
    }
  });

  it('read-your-writes: fifty users licensed while enrollment\'s consumer is held each enroll a device at once; released, all get 201 (one batch waits for every user of it)', async () => {
    await setAuthority('intune');
    const consumer = stack.enrollment.app.get(ConsumerHandle).consumer!;
    // kafkajs fetches a resumed topic only after its idle wait (up to 5 s): the first batch may wait that long.
    const readYourWrites = stack.enrollment.app.get(ReadYourWrites) as { timeoutMs: number };
    const bound = readYourWrites.timeoutMs;
    readYourWrites.timeoutMs = 15_000;
    consumer.pause();
    const held = async () => {
      const users = await Promise.all(Array.from({ length: 50 }, () => licensedUser()));
      const enrolling = Promise.all(users.map((userId) => enroll({ platform: 'android', enrollmentType: 'user', userId, serialNumber: serial(), osVersion: '14' })));
      // Every enrollment arrives and waits for its user's license: they are decided together once released.
      await new Promise((r) => setTimeout(r, 1000));
      consumer.resume();
      return { users, answers: await enrolling };
    };
    const { users, answers } = await held().finally(() => {
      consumer.resume();
      readYourWrites.timeoutMs = bound;
    });
    expect(answers.map((a) => [a.status, a.body.code])).toEqual(users.map(() => [201, undefined]));
  });

  it('the enrolled devices of a user are listed with the user', async () => {
    await setAuthority('intune');
    const userId = await licensedUser();
    const device = await enroll({ platform: 'android', enrollmentType: 'user', userId, serialNumber: serial(), osVersion: '14' });
    await eventually(async () => {
      const user = await tenant.admin.get(tenant.path(`/users/${userId}`));
      expect(user.body.devices).toEqual([device.body.deviceId]);
    });
  });
});
