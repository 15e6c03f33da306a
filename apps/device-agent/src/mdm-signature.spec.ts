import { X509Certificate, createHash, createPrivateKey, createPublicKey, verify, webcrypto } from 'node:crypto';
import { ContentInfo, SignedData, id_data, id_signedData } from '@peculiar/asn1-cms';
import { AsnConvert } from '@peculiar/asn1-schema';
import { x509 } from '@mdm/platform/crypto/x509';
import { newDeviceKey } from './identity';
import { mdmSignature } from './mdm-signature';

/** A certificate for the device key, signed by a throw-away CA (as the enrollment service's would be). */
async function deviceCertificate(key: string): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const ca = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const publicKey = await webcrypto.subtle.importKey(
    'spki',
    createPublicKey(createPrivateKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' }),
    alg,
    true,
    ['verify'],
  );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0badc0de01',
    subject: 'CN=device',
    issuer: 'CN=Tenant CA',
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: alg,
  });
  return cert.toString('pem');
}

/** The [0] element of a DER SignerInfo (its signed attributes), read off the bytes. */
function signedAttributesBytes(signerInfo: Buffer): Buffer {
  const element = (at: number) => {
    let length = signerInfo[at + 1];
    let header = 2;
    if (length & 0x80) {
      const n = length & 0x7f;
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + signerInfo[at + 2 + i];
      header += n;
    }
    return { tag: signerInfo[at], content: at + header, end: at + header + length };
  };
  const outer = element(0);
  for (let at = outer.content; at < outer.end; at = element(at).end) {
    if (element(at).tag === 0xa0) return signerInfo.subarray(at, element(at).end);
  }
  throw new Error('no signed attributes');
}

describe('Mdm-Signature', () => {
  it('R13: a detached CMS signature of the body by the device key, its certificate included, that verifies', async () => {
    const key = newDeviceKey();
    const pem = await deviceCertificate(key);
    const body = JSON.stringify({ state: { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true } });

    const info = AsnConvert.parse(Buffer.from(mdmSignature(body, pem, key), 'base64'), ContentInfo);
    expect(info.contentType).toBe(id_signedData);
    const signed = AsnConvert.parse(info.content, SignedData);
    expect(signed.encapContentInfo.eContentType).toBe(id_data);
    expect(signed.encapContentInfo.eContent).toBeUndefined(); // detached: the body travels as the body
    const included = new X509Certificate(Buffer.from(AsnConvert.serialize(signed.certificates![0].certificate!)));
    expect(included.serialNumber.toLowerCase()).toBe('0badc0de01');

    const [signer] = signed.signerInfos;
    expect(Buffer.from(signer.sid.issuerAndSerialNumber!.serialNumber).toString('hex')).toBe('0badc0de01');
    const digest = signer.signedAttrs!.find((a) => a.attrType === '1.2.840.113549.1.9.4')!.attrValues[0];
    expect(Buffer.from(digest).subarray(2).equals(createHash('sha256').update(body).digest())).toBe(true);
    // The signature covers the signed attributes as a SET (tag 0x31 in place of the [0] of the SignerInfo).
    const raw = signedAttributesBytes(Buffer.from(AsnConvert.serialize(signer)));
    const asSet = Buffer.concat([Buffer.from([0x31]), raw.subarray(1)]);
    const signature = Buffer.from(signer.signature.buffer);
    expect(verify('sha256', asSet, { key: included.publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
    expect(verify('sha256', Buffer.from(asSet).fill(0, asSet.length - 1), { key: included.publicKey, dsaEncoding: 'der' }, signature)).toBe(false);
  });

  it('a different body gives a different digest: the signature is of this body', async () => {
    const key = newDeviceKey();
    const pem = await deviceCertificate(key);
    const digestOf = (b: string) => {
      const signed = AsnConvert.parse(AsnConvert.parse(Buffer.from(mdmSignature(b, pem, key), 'base64'), ContentInfo).content, SignedData);
      return Buffer.from(signed.signerInfos[0].signedAttrs!.find((a) => a.attrType === '1.2.840.113549.1.9.4')!.attrValues[0]).toString('hex');
    };
    expect(digestOf('{"a":1}')).not.toBe(digestOf('{"a":2}'));
  });
});
