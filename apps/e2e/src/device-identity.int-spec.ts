import { X509Certificate, createPrivateKey, randomUUID, webcrypto } from 'node:crypto';
import { EncapsulatedContent, EncapsulatedContentInfo, id_data } from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { pkijs } from '@mdm/platform/crypto/cms';
import { certificateSigningRequest, mdmSignature, openPkcs12, selfSignedCertificatePem } from '@mdm/platform/testing';
import { ApiClient } from './support/api-client';
import { TestStack } from './support/stack';
import { TestTenant, useStackWithTenant } from './support/tenant';

const DAY = 86_400;
const healthy = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };

/** Issue 14: the device's own key, its renewal (R13, R15) and signed device calls, through the gateway. */
describe('device identity (R13, R15, Mdm-Signature)', () => {
  const ctx = useStackWithTenant({ testClock: true });
  let stack: TestStack;
  let tenant: TestTenant;
  beforeEach(async () => {
    ({ stack, tenant } = ctx);
    expect((await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' })).status).toBe(200);
  });

  const now = async () => Date.parse((await stack.anonymous.get('/api/v1/system/clock')).body.now);
  const advanceDays = (days: number) => stack.operator.post('/api/v1/system/clock/advance', { seconds: days * DAY });
  const enroll = async (extra: object = {}) => {
    const res = await tenant.admin.post(tenant.path('/enrollments'), { platform: 'android', enrollmentType: 'bulk', serialNumber: `SN-${randomUUID()}`, osVersion: '14', ...extra });
    expect(res.status).toBe(201);
    return res.body as { deviceId: string; deviceCredential: string; mdmCertificate: { serial: string; notAfter: string; pem: string; caPem: string; pkcs12?: string; pkcs12Password?: string } };
  };
  const checkIn = (credential: string, body: object = {}, headers: Record<string, string> = {}) =>
    new ApiClient(stack.gateway.url).call('POST', '/device/v1/check-in', { state: healthy, ...body }, { authorization: `Device ${credential}`, ...headers });
  const pkcs8 = async (keys: webcrypto.CryptoKeyPair) => Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  /** A check-in whose exact body bytes are signed (ApiClient sends JSON.stringify of the body). */
  const signedCheckIn = async (credential: string, certificatePem: string, key: Buffer, signedBody?: object) => {
    const body = { state: healthy };
    const signature = await mdmSignature(Buffer.from(JSON.stringify(signedBody ?? body)), certificatePem, key);
    return new ApiClient(stack.gateway.url).call('POST', '/device/v1/check-in', body, { authorization: `Device ${credential}`, 'mdm-signature': signature });
  };
  const poll = (credential: string, headers: Record<string, string> = {}) =>
    new ApiClient(stack.gateway.url).call('GET', '/device/v1/notifications?waitSeconds=0', undefined, { authorization: `Device ${credential}`, ...headers });
  /** The same signature with `content` attached: pkijs would check that instead of the body sent. */
  const attached = (signature: string, content: object) => {
    const cms = pkijs.ContentInfo.fromBER(new Uint8Array(Buffer.from(signature, 'base64')).buffer);
    const signed = new pkijs.SignedData({ schema: cms.content });
    const eContent = new EncapsulatedContent({ single: new OctetString(Buffer.from(JSON.stringify(content))) });
    signed.encapContentInfo = pkijs.EncapsulatedContentInfo.fromBER(AsnConvert.serialize(new EncapsulatedContentInfo({ eContentType: id_data, eContent })));
    const info = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
    return Buffer.from(info.toSchema().toBER(false)).toString('base64');
  };
  const checkIns = async (deviceId: string) => (await stack.deviceSync.runtime.store.readStream(`devicesync-${deviceId}`)).filter((e) => e.type === 'DeviceCheckedIn').length;
  const spki = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });

  it('R15: a device with its own key is told renewalDue in the last 30 days, and a check-in with a new CSR gets the new PEM for that key', async () => {
    const first = await certificateSigningRequest();
    const device = await enroll({ csrPem: first.csrPem });
    const outside = await checkIn(device.deviceCredential);
    expect([outside.status, outside.body.mdmCertificate]).toEqual([200, { serial: device.mdmCertificate.serial, notAfter: device.mdmCertificate.notAfter, renewalDue: false }]);

    await advanceDays(365 - 30);
    const due = await checkIn(device.deviceCredential);
    expect([due.status, due.body.mdmCertificate]).toEqual([200, { serial: device.mdmCertificate.serial, notAfter: device.mdmCertificate.notAfter, renewalDue: true }]);

    const bad = await checkIn(device.deviceCredential, { csrPem: (await certificateSigningRequest({ algorithm: 'P-384' })).csrPem });
    expect([bad.status, bad.body.code]).toEqual([422, 'INVALID_CSR']);

    const next = await certificateSigningRequest({ algorithm: 'RSA-2048' });
    const renewed = await checkIn(device.deviceCredential, { csrPem: next.csrPem });
    expect(renewed.status).toBe(200);
    const { serial, notAfter, renewalDue, pem } = renewed.body.mdmCertificate;
    expect([renewalDue, serial === device.mdmCertificate.serial, Date.parse(notAfter) - (await now())]).toEqual([false, false, 365 * DAY * 1000]);
    const cert = new X509Certificate(pem);
    expect(cert.verify(new X509Certificate(device.mdmCertificate.caPem).publicKey)).toBe(true);
    expect(cert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(next.publicKeySpki);
    expect([cert.serialNumber.toUpperCase(), cert.subject.split('\n')[0]]).toEqual([serial, `CN=${device.deviceId}`]);
    // The old certificate is not revoked: it stays valid until its own notAfter.
    expect(Date.parse(new X509Certificate(device.mdmCertificate.pem).validTo)).toBe(Math.floor(Date.parse(device.mdmCertificate.notAfter) / 1000) * 1000);

    const after = await checkIn(device.deviceCredential);
    expect(after.body.mdmCertificate).toEqual({ serial, notAfter, renewalDue: false });

    // Both certificates sign for the device: the renewed one, and the old one until its notAfter.
    expect((await signedCheckIn(device.deviceCredential, pem, await pkcs8(next.keys))).status).toBe(200);
    expect((await signedCheckIn(device.deviceCredential, device.mdmCertificate.pem, await pkcs8(first.keys))).status).toBe(200);
    await advanceDays(31);
    const expired = await signedCheckIn(device.deviceCredential, device.mdmCertificate.pem, await pkcs8(first.keys));
    expect([expired.status, expired.body.message]).toEqual([401, 'Mdm-Signature: the certificate is not valid now']);
    expect((await signedCheckIn(device.deviceCredential, pem, await pkcs8(next.keys))).status).toBe(200);
  });

  it('R15: a device whose key the service made (no CSR) keeps today\'s automatic renewal, now delivered as a PEM for the key of its PKCS#12', async () => {
    const device = await enroll();
    const { privateKeyPkcs8 } = await openPkcs12(Buffer.from(device.mdmCertificate.pkcs12!, 'base64'), device.mdmCertificate.pkcs12Password!);
    await advanceDays(365 - 20);
    const renewed = await checkIn(device.deviceCredential);
    expect(renewed.status).toBe(200);
    expect(renewed.body.mdmCertificate).toEqual({ serial: expect.not.stringMatching(device.mdmCertificate.serial), notAfter: expect.any(String), renewalDue: false, pem: expect.any(String) });
    const cert = new X509Certificate(renewed.body.mdmCertificate.pem);
    expect(cert.checkPrivateKey(createPrivateKey({ key: privateKeyPkcs8, format: 'der', type: 'pkcs8' }))).toBe(true);
    expect(spki(renewed.body.mdmCertificate.pem)).toEqual(spki(device.mdmCertificate.pem));
  });

  it('Mdm-Signature: a call signed with the device\'s certificate is 200; a forged, tampered, foreign or unchained one is 401 and records nothing', async () => {
    const own = await certificateSigningRequest();
    const device = await enroll({ csrPem: own.csrPem });
    const key = await pkcs8(own.keys);
    const good = await signedCheckIn(device.deviceCredential, device.mdmCertificate.pem, key);
    expect([good.status, good.body.deviceId]).toEqual([200, device.deviceId]);
    const recorded = await checkIns(device.deviceId);

    const stranger = await certificateSigningRequest();
    const other = await enroll({ csrPem: stranger.csrPem });
    const t = await now();
    const selfMade = await certificateSigningRequest();
    const unchained = await selfSignedCertificatePem({ subject: `CN=${device.deviceId}, O=${tenant.tenantId}, OU=MDM device`, notBefore: new Date(t - 1e6), notAfter: new Date(t + 1e9), keys: selfMade.keys });
    const refused = [
      // forged: the device's certificate, another key
      await signedCheckIn(device.deviceCredential, device.mdmCertificate.pem, await pkcs8(stranger.keys)),
      // tampered: signed another body
      await signedCheckIn(device.deviceCredential, device.mdmCertificate.pem, key, { state: { ...healthy, jailbroken: true } }),
      // mismatched: a valid signature by another device of the tenant
      await signedCheckIn(device.deviceCredential, other.mdmCertificate.pem, await pkcs8(stranger.keys)),
      // a certificate naming the device that the CA never issued
      await signedCheckIn(device.deviceCredential, unchained, await pkcs8(selfMade.keys)),
      await checkIn(device.deviceCredential, {}, { 'mdm-signature': 'bm90IGEgQ01TIHNpZ25hdHVyZQ==' }),
    ];
    expect(refused.map((r) => [r.status, r.body.code, r.body.message])).toEqual(
      [
        'the signature does not verify',
        'the signature does not verify',
        "the certificate is not this device's",
        'the certificate was not issued by the device CA',
        'not a detached CMS signature of the body by a certificate it carries',
      ].map((why) => [401, 'UNAUTHORIZED', `Mdm-Signature: ${why}`]),
    );
    expect(await checkIns(device.deviceId)).toBe(recorded);
  });

  it('Mdm-Signature: the long poll signed as its empty body is answered; forged, another body\'s or another device\'s is 401', async () => {
    const own = await certificateSigningRequest();
    const device = await enroll({ csrPem: own.csrPem });
    const key = await pkcs8(own.keys);
    const stranger = await certificateSigningRequest();
    const other = await enroll({ csrPem: stranger.csrPem });
    const empty = Buffer.alloc(0);
    const good = await poll(device.deviceCredential, { 'mdm-signature': await mdmSignature(empty, device.mdmCertificate.pem, key) });
    expect([good.status, good.body]).toEqual([200, { notifications: [] }]);
    const refused = [
      await poll(device.deviceCredential, { 'mdm-signature': await mdmSignature(empty, device.mdmCertificate.pem, await pkcs8(stranger.keys)) }),
      await poll(device.deviceCredential, { 'mdm-signature': await mdmSignature(Buffer.from(JSON.stringify({ state: healthy })), device.mdmCertificate.pem, key) }),
      await poll(device.deviceCredential, { 'mdm-signature': await mdmSignature(empty, other.mdmCertificate.pem, await pkcs8(stranger.keys)) }),
    ];
    expect(refused.map((r) => [r.status, r.body.message])).toEqual(
      ['the signature does not verify', 'the signature does not verify', "the certificate is not this device's"].map((why) => [401, `Mdm-Signature: ${why}`]),
    );
  });

  it('Mdm-Signature: a signature that carries its content (attached) is 401, so one captured signature cannot vouch for another body', async () => {
    const own = await certificateSigningRequest();
    const device = await enroll({ csrPem: own.csrPem });
    const key = await pkcs8(own.keys);
    const signedOnce = { state: { ...healthy, passcodeSet: false } };
    const captured = await mdmSignature(Buffer.from(JSON.stringify(signedOnce)), device.mdmCertificate.pem, key);
    const replayed = await checkIn(device.deviceCredential, {}, { 'mdm-signature': attached(captured, signedOnce) });
    expect([replayed.status, replayed.body.message]).toEqual([401, 'Mdm-Signature: not a detached CMS signature of the body by a certificate it carries']);
    expect(await checkIns(device.deviceId)).toBe(0);
  });
});
