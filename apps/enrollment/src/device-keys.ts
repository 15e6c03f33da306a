import { createCipheriv, createECDH, createHash, createHmac, createPublicKey, pbkdf2Sync, randomBytes } from 'node:crypto';
import { x509 } from '@mdm/platform/crypto/x509';
import { checkDeviceKey, invalidCsr } from '@mdm/enrollment/domain';

/**
 * R13: the public key of a device's PKCS#10 request, as canonical SubjectPublicKeyInfo DER, once
 * the request parses, its signature verifies with that key, and the key is one the CA certifies.
 * Its subject and attributes are ignored: the CA names the device itself.
 */
export async function csrPublicKey(csrPem: string): Promise<Buffer> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw invalidCsr('it is not a PEM PKCS#10 request');
  }
  // Node re-encodes the key: a key the request carried in loose BER enters the certificate as DER.
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  } catch {
    throw invalidCsr('its public key does not parse');
  }
  checkDeviceKey({ type: key.asymmetricKeyType, ...key.asymmetricKeyDetails });
  const verified = await csr.verify().catch(() => false);
  if (!verified) throw invalidCsr('its signature does not verify with its public key');
  return key.export({ type: 'spki', format: 'der' });
}

/**
 * DER (X.690) written directly: the key encodings and the PFX are a handful of fixed constructions
 * around bytes made elsewhere, and going through node's key export (with its fixed 2048-round
 * PBKDF2) and an ASN.1 schema library cost more than the rest of an enrollment (README,
 * "Performance notes").
 */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}
const DER = { integer: 0x02, bitString: 0x03, octets: 0x04, sequence: 0x30, set: 0x31, explicit0: 0xa0, explicit1: 0xa1 };
const hex = (h: string) => Buffer.from(h, 'hex');
/** DER of the fixed parts: OIDs, algorithm identifiers, small integers. */
const CONST = {
  zero: hex('020100'),
  one: hex('020101'),
  three: hex('020103'),
  /** id-ecPublicKey with the curve prime256v1. */
  p256: hex('301306072a8648ce3d020106082a8648ce3d030107'),
  pbes2: hex('06092a864886f70d01050d'),
  pbkdf2: hex('06092a864886f70d01050c'),
  hmacWithSha256: hex('300c06082a864886f70d02090500'),
  aes256Cbc: hex('060960864801650304012a'),
  data: hex('06092a864886f70d010701'),
  shroudedKeyBag: hex('060b2a864886f70d010c0a0102'),
  certBag: hex('060b2a864886f70d010c0a0103'),
  x509Certificate: hex('060a2a864886f70d01091601'),
  localKeyId: hex('06092a864886f70d010915'),
  sha256: hex('300d06096086480165030402010500'),
};
const seq = (...content: Buffer[]) => tlv(DER.sequence, ...content);
const octets = (bytes: Buffer) => tlv(DER.octets, bytes);
const bits = (bytes: Buffer) => tlv(DER.bitString, Buffer.from([0]), bytes);

/**
 * A P-256 key pair made for a device that sent no request (bulk provisioning): SubjectPublicKeyInfo
 * and PKCS#8 (RFC 5915 ECPrivateKey) DER, as node's own export writes them.
 */
export function newDeviceKey(): { publicKey: Buffer; privateKey: Buffer } {
  const ecdh = createECDH('prime256v1');
  const point = ecdh.generateKeys();
  const scalar = Buffer.alloc(32);
  const raw = ecdh.getPrivateKey();
  raw.copy(scalar, 32 - raw.length);
  // The curve is named once, in the algorithm identifier (ECPrivateKey's optional parameters left out, as OpenSSL does).
  const ecPrivateKey = seq(CONST.one, octets(scalar), tlv(DER.explicit1, bits(point)));
  return { publicKey: seq(CONST.p256, bits(point)), privateKey: seq(CONST.zero, CONST.p256, octets(ecPrivateKey)) };
}

/** The password of a PKCS#12 bundle: 128 random bits, shown once. */
export const newPkcs12Password = () => randomBytes(16).toString('base64url');

/**
 * The bundle's key derivations (PBKDF2 for the key, RFC 7292's for the MAC) run once, as OpenSSL's
 * -iter 1 -nomaciter: iterations slow the guessing of a chosen password, and this one is 128 random
 * bits, never guessed; the usual 2048 rounds would cost more than the rest of an enrollment.
 */
const ITERATIONS = 1;

/** RFC 7292 B.2 for a 32-byte key with SHA-256 (one block): the MAC key of a password-integrity PFX. */
function macKey(password: string, salt: Buffer, iterations: number): Buffer {
  const v = 64;
  const fill = (bytes: Buffer) => Buffer.alloc(v * Math.ceil(bytes.length / v), bytes);
  // The password as a NUL-terminated BMPString (UTF-16 big-endian).
  const bmp = Buffer.from(`${password}\0`, 'utf16le').swap16();
  let a = Buffer.concat([Buffer.alloc(v, 3), fill(salt), fill(bmp)]);
  for (let i = 0; i < iterations; i++) a = createHash('sha256').update(a).digest();
  return a;
}

/** PKCS#8 EncryptedPrivateKeyInfo (RFC 8018 PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC) under `password`. */
function shroud(privateKeyPkcs8: Buffer, password: string): Buffer {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256'), iv);
  const encrypted = Buffer.concat([cipher.update(privateKeyPkcs8), cipher.final()]);
  const kdf = seq(CONST.pbkdf2, seq(octets(salt), tlv(DER.integer, Buffer.from([ITERATIONS])), CONST.hmacWithSha256));
  return seq(seq(CONST.pbes2, seq(kdf, seq(CONST.aes256Cbc, octets(iv)))), octets(encrypted));
}

const contentInfoData = (content: Buffer) => seq(CONST.data, tlv(DER.explicit0, octets(content)));
/** A SafeBag; `keyId` pairs the key with its certificate (localKeyId), as importers look for. */
const safeBag = (bagId: Buffer, value: Buffer, keyId?: Buffer) =>
  seq(bagId, tlv(DER.explicit0, value), ...(keyId ? [tlv(DER.set, seq(CONST.localKeyId, tlv(DER.set, octets(keyId))))] : []));

/**
 * The device's key and certificate (and the CA's, for the chain) as PKCS#12 (RFC 7292), the form
 * every platform imports: the key shrouded (PBES2), the certificates in the clear as they are
 * public, the whole MAC'd with HMAC-SHA256 under the same password. Node has no PKCS#12 writer;
 * pkijs has one, but its password derivations run in JavaScript, far over an enrollment's budget
 * (README, "Performance notes"), and node-forge's writes RSA keys only.
 */
export function pkcs12(privateKeyPkcs8: Buffer, certificateDer: Buffer, caCertificateDer: Buffer, password: string): Buffer {
  const keyId = createHash('sha1').update(certificateDer).digest();
  const certBag = (certificate: Buffer, id?: Buffer) => safeBag(CONST.certBag, seq(CONST.x509Certificate, tlv(DER.explicit0, octets(certificate))), id);
  const safeContents = seq(safeBag(CONST.shroudedKeyBag, shroud(privateKeyPkcs8, password), keyId), certBag(certificateDer, keyId), certBag(caCertificateDer));
  const authenticatedSafe = seq(contentInfoData(safeContents));
  const salt = randomBytes(16);
  const mac = createHmac('sha256', macKey(password, salt, ITERATIONS)).update(authenticatedSafe).digest();
  // MacData's iterations are DEFAULT 1, which DER leaves out.
  return seq(CONST.three, contentInfoData(authenticatedSafe), seq(seq(CONST.sha256, octets(mac)), octets(salt)));
}
