import { X509Certificate, createPrivateKey, createPublicKey, randomUUID, sign, verify } from 'node:crypto';
import { ERROR_STATUS, DomainError } from '@mdm/contracts/core';
import { certificateSigningRequest, openPkcs12, selfSignedCertificatePem } from '@mdm/platform/testing';
import { csrPublicKey, newDeviceKey, newPkcs12Password, pkcs12 } from './device-keys';
import { deviceCertificateAuthority } from './device-ca.fixture';

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (err) => (err instanceof DomainError ? { status: ERROR_STATUS[err.code], code: err.code } : err),
  );

describe('device keys (R13)', () => {
  it('R13: a P-256 or RSA-2048 request gives its own public key, whatever subject it names', async () => {
    for (const algorithm of ['P-256', 'RSA-2048'] as const) {
      const { csrPem, publicKeySpki } = await certificateSigningRequest({ algorithm, subject: 'CN=admin, O=Someone else' });
      expect(await csrPublicKey(csrPem)).toEqual(publicKeySpki);
    }
  });

  it('R13: a request that does not parse, is signed by another key, or holds a P-384 or RSA-1024 key is 422 INVALID_CSR', async () => {
    const other = await certificateSigningRequest();
    const forged = await certificateSigningRequest({ signWith: other.keys });
    const certificate = await selfSignedCertificatePem({ notBefore: new Date(), notAfter: new Date(Date.now() + 1e9) });
    const invalid = { status: 422, code: 'INVALID_CSR' };
    const csrs = [
      'not a request',
      '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----',
      certificate,
      forged.csrPem,
      (await certificateSigningRequest({ algorithm: 'P-384' })).csrPem,
      (await certificateSigningRequest({ algorithm: 'RSA-1024' })).csrPem,
    ];
    expect(await Promise.all(csrs.map((pem) => refusal(csrPublicKey(pem))))).toEqual(csrs.map(() => invalid));
  });

  it('R13: a key the service makes is P-256, written as node itself writes SubjectPublicKeyInfo and PKCS#8, and the two belong together', () => {
    for (let i = 0; i < 50; i++) {
      const { publicKey, privateKey } = newDeviceKey();
      const pub = createPublicKey({ key: publicKey, format: 'der', type: 'spki' });
      const priv = createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' });
      expect([pub.asymmetricKeyType, pub.asymmetricKeyDetails]).toEqual(['ec', { namedCurve: 'prime256v1' }]);
      expect([pub.export({ type: 'spki', format: 'der' }), priv.export({ type: 'pkcs8', format: 'der' })]).toEqual([publicKey, privateKey]);
      expect(createPublicKey(priv).export({ type: 'spki', format: 'der' })).toEqual(publicKey);
      expect(verify('sha256', Buffer.from('m'), pub, sign('sha256', Buffer.from('m'), priv))).toBe(true);
    }
  });

  it('R13: a bulk device\'s PKCS#12 opens with its password alone and holds its key, its certificate and the CA\'s', async () => {
    const { ca, certificates } = await deviceCertificateAuthority();
    const key = newDeviceKey();
    const issued = certificates.issue({ deviceId: randomUUID(), tenantId: randomUUID() }, key.publicKey, new Date(), new Date(Date.now() + 1e10));
    const password = newPkcs12Password();
    expect(password).toMatch(/^[A-Za-z0-9_-]{22}$/);

    let bundle = pkcs12(key.privateKey, issued.der, Buffer.from(ca.rawData), password);
    const start = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) bundle = pkcs12(key.privateKey, issued.der, Buffer.from(ca.rawData), password);
    process.stdout.write(`  PKCS#12 bundle: ${(Number(process.hrtime.bigint() - start) / 1e6 / 20).toFixed(1)} ms\n`);

    const opened = await openPkcs12(bundle, password);
    const [certificate, caCertificate] = opened.certificatesDer.map((der) => new X509Certificate(der));
    expect(certificate.raw).toEqual(issued.der);
    expect(caCertificate.raw).toEqual(Buffer.from(ca.rawData));
    const privateKey = createPrivateKey({ key: opened.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
    expect(certificate.checkPrivateKey(privateKey)).toBe(true);
    expect(verify('sha256', Buffer.from('hello'), certificate.publicKey, sign('sha256', Buffer.from('hello'), privateKey))).toBe(true);
    await expect(openPkcs12(bundle, newPkcs12Password())).rejects.toThrow();
  });
});
