import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { x509 } from '@mdm/platform/crypto/x509';
import { DeviceCertificates } from './device-certificates';

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A device CA of the specs' own (P-256, self-signed) and the DeviceCertificates it issues with. */
export async function deviceCertificateAuthority() {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Test device CA',
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2090-01-01T00:00:00Z'),
    signingAlgorithm: algorithm,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  const key = createPrivateKey({ key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), format: 'der', type: 'pkcs8' });
  return { ca, keys, certificate: new X509Certificate(Buffer.from(ca.rawData)), certificates: new DeviceCertificates(ca.rawData, key) };
}
