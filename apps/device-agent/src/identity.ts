import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { x509 } from '@mdm/platform/crypto/x509';

type KeyPair = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'];

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A device's own P-256 key, as it keeps it in the state file: PKCS#8 DER in base64 (about 190 characters). */
export function newDeviceKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
}

async function keyPair(key: string): Promise<KeyPair> {
  const pkcs8 = Buffer.from(key, 'base64');
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
  const subtle = webcrypto.subtle;
  return {
    privateKey: await subtle.importKey('pkcs8', pkcs8, EC, false, ['sign']),
    publicKey: await subtle.importKey('spki', spki, EC, true, ['verify']),
  };
}

/**
 * The PKCS#10 request for the device's key (enrollment, and a renewal with a new key). Its subject
 * only names the device for a human reading it: the service sets the certificate's own.
 */
export async function certificateRequestPem(key: string, serialNumber: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${serialNumber.replace(/[,+="\\<>;]/g, '_')}`,
    keys: await keyPair(key),
    signingAlgorithm: SIGNING,
  });
  return csr.toString('pem');
}

/**
 * A self-signed certificate to stand in for an Apple push certificate on a tenant the agent made
 * itself, so that a fleet with Apple devices can enroll (R12). The service checks that it parses
 * and is valid now; Apple never sees it.
 */
export async function standInApnsCertificatePem(now: Date): Promise<string> {
  const keys = await webcrypto.subtle.generateKey({ ...EC }, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: 'CN=APSP:device-agent, O=Device agent',
    notBefore: new Date(now.getTime() - 86_400_000),
    notAfter: new Date(now.getTime() + 400 * 86_400_000),
    keys,
    signingAlgorithm: SIGNING,
  });
  return cert.toString('pem');
}
