import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A real self-signed certificate in PEM, valid between the given times (test fixtures for R6). */
export async function selfSignedCertificatePem(opts: {
  subject?: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber?: string;
}): Promise<string> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: opts.serialNumber ?? '0a1b2c3d4e5f',
    name: opts.subject ?? 'CN=APSP:test-push, O=Contoso',
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    signingAlgorithm: algorithm,
  });
  return cert.toString('pem');
}
