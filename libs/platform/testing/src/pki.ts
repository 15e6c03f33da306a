import { webcrypto } from 'node:crypto';
import { pkijs } from '@mdm/platform/crypto/cms';
import { x509 } from '@mdm/platform/crypto/x509';

/** A real self-signed certificate in PEM, valid between the given times (test fixtures for R6). */
export async function selfSignedCertificatePem(opts: {
  subject?: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber?: string;
  /** A P-256 key pair to certify; a new one by default. */
  keys?: webcrypto.CryptoKeyPair;
}): Promise<string> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = opts.keys ?? (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: opts.serialNumber ?? '0a1b2c3d4e5f',
    name: opts.subject ?? 'CN=APSP:test-push, O=Contoso',
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    keys,
    signingAlgorithm: algorithm,
  });
  return cert.toString('pem');
}

export type DeviceKeyAlgorithm = 'P-256' | 'P-384' | 'RSA-1024' | 'RSA-2048';

/** A device's key pair and its PKCS#10 request (R13 fixtures), signed with that key unless `signWith` says another. */
export async function certificateSigningRequest(
  opts: { algorithm?: DeviceKeyAlgorithm; subject?: string; signWith?: webcrypto.CryptoKeyPair } = {},
): Promise<{ keys: webcrypto.CryptoKeyPair; csrPem: string; publicKeySpki: Buffer }> {
  const algorithm = opts.algorithm ?? 'P-256';
  const params = algorithm.startsWith('RSA')
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: Number(algorithm.slice(4)) }
    : { name: 'ECDSA', namedCurve: algorithm, hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(params, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  // With `signWith`, the request names `keys` but is signed by another key: its signature must not verify.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: opts.subject ?? 'CN=ignored by the CA',
    keys: { publicKey: keys.publicKey, privateKey: (opts.signWith ?? keys).privateKey },
    signingAlgorithm: params,
  });
  return { keys, csrPem: csr.toString('pem'), publicKeySpki: Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)) };
}

/** What a PKCS#12 bundle holds, opened with its password (the device's side of bulk provisioning). */
export async function openPkcs12(der: Buffer, password: string): Promise<{ privateKeyPkcs8: Buffer; certificatesDer: Buffer[] }> {
  const secret = new Uint8Array(Buffer.from(password, 'utf8')).buffer;
  const pfx = pkijs.PFX.fromBER(new Uint8Array(der).buffer);
  await pfx.parseInternalValues({ password: secret, checkIntegrity: true });
  const safe = pfx.parsedValue!.authenticatedSafe!;
  await safe.parseInternalValues({ safeContents: safe.safeContents.map(() => ({ password: secret })) });
  const bags: pkijs.SafeBag[] = safe.parsedValue.safeContents.flatMap((c: { value: pkijs.SafeContents }) => c.value.safeBags);
  let privateKeyPkcs8: Buffer | undefined;
  const certificatesDer: Buffer[] = [];
  for (const bag of bags) {
    if (bag.bagValue instanceof pkijs.PKCS8ShroudedKeyBag) {
      // parseInternalValues is protected in the typings, and the documented way to decrypt a shrouded key bag.
      await (bag.bagValue as unknown as { parseInternalValues(p: { password: ArrayBuffer }): Promise<void> }).parseInternalValues({ password: secret });
      privateKeyPkcs8 = Buffer.from(bag.bagValue.parsedValue!.toSchema().toBER(false));
    } else if (bag.bagValue instanceof pkijs.CertBag) {
      certificatesDer.push(Buffer.from((bag.bagValue.parsedValue as pkijs.Certificate).toSchema().toBER(false)));
    }
  }
  if (!privateKeyPkcs8) throw new Error('PKCS#12: no private key');
  return { privateKeyPkcs8, certificatesDer };
}

/**
 * A device's `Mdm-Signature`: a detached CMS SignedData of `body`, made with `privateKey`
 * (PKCS#8 DER, P-256 or RSA) and carrying `certificatePem`, in base64.
 */
export async function mdmSignature(body: Buffer, certificatePem: string, privateKeyPkcs8: Buffer): Promise<string> {
  const certificate = pkijs.Certificate.fromBER(new Uint8Array(new x509.X509Certificate(certificatePem).rawData));
  const rsa = certificate.subjectPublicKeyInfo.algorithm.algorithmId === '1.2.840.113549.1.1.1';
  const key = await webcrypto.subtle.importKey(
    'pkcs8',
    privateKeyPkcs8,
    rsa ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  // pkijs signs no empty detached content (a bodiless call's): it signs it attached, then it is taken off.
  const detached = () => new pkijs.EncapsulatedContentInfo({ eContentType: pkijs.ContentInfo.DATA });
  const emptyAttached = () => pkijs.EncapsulatedContentInfo.fromBER(new Uint8Array(Buffer.from('300f06092a864886f70d010701a0020400', 'hex')).buffer);
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: body.byteLength === 0 ? emptyAttached() : detached(),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: certificate.issuer, serialNumber: certificate.serialNumber }),
      }),
    ],
    certificates: [certificate],
  });
  await signed.sign(key, 0, 'SHA-256', new Uint8Array(body).buffer);
  signed.encapContentInfo = detached();
  const cms = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
  return Buffer.from(cms.toSchema().toBER(false)).toString('base64');
}
