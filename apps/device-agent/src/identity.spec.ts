import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { x509 } from '@mdm/platform/crypto/x509';
import { certificateRequestPem, newDeviceKey } from './identity';

describe('the device identity', () => {
  it('R13: the CSR is signed by the device key, carries its public key and names the device', async () => {
    const key = newDeviceKey();
    const csr = new x509.Pkcs10CertificateRequest(await certificateRequestPem(key, 'DA0123ABCD'));
    expect(await csr.verify(webcrypto)).toBe(true);
    const expected = createPublicKey(createPrivateKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
    expect(Buffer.from(csr.publicKey.rawData).equals(expected)).toBe(true);
    expect(csr.subject).toBe('CN=DA0123ABCD');
    expect((csr.publicKey.algorithm as { namedCurve?: string }).namedCurve).toBe('P-256');
  });

  it('each device has a key of its own', () => {
    expect(newDeviceKey()).not.toBe(newDeviceKey());
  });
});
